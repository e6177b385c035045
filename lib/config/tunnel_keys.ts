/**
 * The schema of a tunnel table `[tunnel.NAME]`: every key with its value type, default, where
 * it applies and what happens elsewhere, when it is required, its doc line and how the effective
 * configuration prints it (see `schema.ts` for what each field means).
 *
 * @example Usage
 * ```ts
 * import { TUNNEL_KEYS } from "./tunnel_keys.ts";
 * console.log(TUNNEL_KEYS.hello_timeout.doc, "/", TUNNEL_KEYS.hello_timeout.default);
 * ```
 *
 * @module
 */

import { formatEndpoint } from "../../control/endpoint.ts";
import { ipv4Number, type ParsedEndpoint } from "./address.ts";
import type { TunnelEntry } from "./entries.ts";
import { CONFIG_DEFAULTS, type Requirement, type Rule, type Schema } from "./schema.ts";
import {
  describe,
  hookText,
  isTable,
  tableKey,
  tomlString,
  type TomlTable,
  tomlText,
  typeName,
} from "./text.ts";
import type { Endpoint, FramingCap, Hook, MessageDigest, TunnelMode, TunnelRole } from "./types.ts";
import {
  endpoint,
  flag,
  hook,
  id,
  integer,
  manyOf,
  oneOf,
  text,
  type ValueType,
} from "./values.ts";

const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;
/** The longest timer JavaScript can arm (2^31 - 1 ms, about 24.8 days). */
const TIMER_MAX = 0x7fffffff;

/**
 * The value type of every tunnel key (as read, before defaults).
 *
 * @example Usage
 * ```ts
 * import type { TunnelValues } from "./tunnel_keys.ts";
 * const v: Partial<TunnelValues> = { mode: "static", tid: 1 };
 * console.log(v.mode);
 * ```
 */
export interface TunnelValues {
  /** `mode`. */ mode: TunnelMode;
  /** `version`. */ version: "l2tpv2" | "l2tpv3";
  /** `encap`. */ encap: "udp" | "ip";
  /** `role`. */ role: TunnelRole;
  /** `local`. */ local: ParsedEndpoint;
  /** `peer`. */ peer: ParsedEndpoint;
  /** `tid`. */ tid: number;
  /** `ptid`. */ ptid: number;
  /** `managed`. */ managed: boolean;
  /** `window_size`. */ window_size: number;
  /** `hello_timeout`. */ hello_timeout: number;
  /** `retry_timeout`. */ retry_timeout: number;
  /** `max_retries`. */ max_retries: number;
  /** `host_name`. */ host_name: string;
  /** `framing_caps`. */ framing_caps: readonly FramingCap[];
  /** `udp_checksum`. */ udp_checksum: boolean;
  /** `udp6_zero_checksum_tx`. */ udp6_zero_checksum_tx: boolean;
  /** `udp6_zero_checksum_rx`. */ udp6_zero_checksum_rx: boolean;
  /** `debug`. */ debug: number;
  /** `secret`. */ secret: string;
  /** `hide_avps`. */ hide_avps: boolean;
  /** `message_digest`. */ message_digest: MessageDigest;
  /** `router_id`. */ router_id: number;
  /** `accept_any_peer`. */ accept_any_peer: boolean;
  /** `max_sessions`. */ max_sessions: number;
  /** `max_tunnels`. */ max_tunnels: number;
  /** `redial`. */ redial: boolean;
  /** `redial_timeout`. */ redial_timeout: number;
  /** `max_redials`. */ max_redials: number;
  /** `on_up`. */ on_up: Hook;
  /** `on_down`. */ on_down: Hook;
  /** `session`. */ session: TomlTable;
}

/** `router_id`: dotted IPv4 form or a non-zero 32-bit integer. */
const routerId: ValueType<number> = {
  read: (v) => {
    const n = typeof v === "string"
      ? ipv4Number(v)
      : typeof v === "bigint" && v >= 0n && v <= BigInt(U32_MAX)
      ? Number(v)
      : undefined;
    return n !== undefined && n !== 0 ? { value: n } : {
      error: `expected a non-zero 32-bit integer or an IPv4-style "a.b.c.d", got ${describe(v)}`,
    };
  },
};

/** `session`: a table of named session tables. */
const sessionTables: ValueType<TomlTable> = {
  read: (v, ctx) =>
    isTable(v) ? { value: v } : {
      error: `expected named session tables such as [tunnel.${
        tableKey(ctx.tunnel ?? "NAME")
      }.session.s1], got ${typeName(v)}`,
    },
};

const CONTROL_ONLY: Rule<unknown> = {
  modes: ["quiescent", "dynamic"],
  otherwise: "ignore",
  message: "ignored: static tunnels have no control connection",
};
const DYNAMIC_ONLY: Rule<unknown> = {
  modes: ["dynamic"],
  otherwise: "ignore",
  message: "ignored: only dynamic tunnels negotiate with the peer",
};
const LAC_ONLY: Rule<unknown> = {
  roles: ["lac"],
  otherwise: "refuse",
  message: 'only a tunnel with role = "lac" dials (a responder waits for its peers)',
};
const STATIC_MODES: readonly TunnelMode[] = ["static", "quiescent"];
const STATIC_NEEDS: Requirement = {
  modes: STATIC_MODES,
  message: (ctx) => `${ctx.mode} tunnels need local, peer, tid and ptid`,
};

/** How the effective configuration shows a secret (unless asked to show secrets). */
const HIDDEN = "<hidden>";

const endpointText = (e: Endpoint | undefined, encap: "udp" | "ip"): string | undefined =>
  e === undefined ? undefined : tomlString(encap === "ip" ? e.address : formatEndpoint(e));
const dottedQuad = (n: number): string =>
  [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");

/** The IPv6 UDP checksum keys: UDP encapsulation over IPv6 only. */
const UDP6_ONLY: Rule<unknown>[] = [{
  encaps: ["udp"],
  otherwise: "refuse",
  message: 'applies to UDP encapsulation only, encap is "ip"',
}, {
  families: ["ipv6"],
  otherwise: "refuse",
  message: "applies to IPv6 only, the tunnel is IPv4",
}];

/**
 * The keys of a tunnel table `[tunnel.NAME]`, in the order the effective configuration prints
 * them.
 *
 * @example Usage
 * ```ts
 * import { TUNNEL_KEYS } from "./tunnel_keys.ts";
 * const ours = Object.entries(TUNNEL_KEYS).filter(([, spec]) => spec.origin === "ours");
 * console.log(ours.map(([key]) => key).join(", "));
 * ```
 */
export const TUNNEL_KEYS: Schema<TunnelValues, TunnelEntry> = {
  mode: {
    origin: "ours",
    type: oneOf(["static", "quiescent", "dynamic"]),
    default: "static when ptid is set (quiescent with a non-zero hello_timeout), else dynamic; " +
      "kl2tpd: dynamic; ql2tpd: static (quiescent with hello_timeout)",
    doc: "How much of the control protocol the tunnel runs",
    print: (t) => tomlString(t.mode),
  },
  version: {
    origin: "go-l2tp",
    type: oneOf(["l2tpv2", "l2tpv3"]),
    default: "l2tpv2 for dynamic UDP tunnels without eth sessions, else l2tpv3",
    doc: "L2TP version: RFC 2661 (PPP only, 16-bit IDs) or RFC 3931 (32-bit IDs)",
    print: (t) => tomlString(`l2tpv${t.version}`),
  },
  encap: {
    origin: "go-l2tp",
    type: oneOf(["udp", "ip"]),
    fallback: "udp",
    default: "udp",
    rules: [{
      only: (v) => v === "ip",
      versions: [3],
      otherwise: "refuse",
      message: (c) => `"ip" encapsulation needs version = "l2tpv3"${c.versionWhy}`,
    }],
    doc: "Encapsulation: UDP, or L2TPv3 directly over IP (protocol 115)",
    print: (t) => tomlString(t.encap),
  },
  role: {
    origin: "ours",
    type: oneOf(["lac", "lns"]),
    default: "lac (dynamic tunnels)",
    rules: [{
      modes: ["dynamic"],
      otherwise: "refuse",
      message: (c) => `only dynamic tunnels have a role, this one is ${c.mode}`,
    }],
    doc: "Which side opens a dynamic tunnel: lac sends SCCRQ to peer, lns waits on local",
    print: (t) => tomlText(t.role),
  },
  local: {
    origin: "go-l2tp",
    type: endpoint(),
    default: "unset: the system chooses (dynamic tunnels only)",
    required: [STATIC_NEEDS, {
      modes: ["dynamic"],
      roles: ["lns"],
      message: 'dynamic tunnels with role "lns" need a local address to listen on',
    }],
    doc: 'Local address, "address:port", "[ipv6]:port", an address or a host name',
    print: (t) => endpointText(t.local, t.encap),
  },
  peer: {
    origin: "go-l2tp",
    type: endpoint(),
    default: "unset (only for role lns)",
    required: [STATIC_NEEDS, {
      modes: ["dynamic"],
      roles: ["lac"],
      message: 'dynamic tunnels with role "lac" need the peer\'s address',
    }],
    doc: "The peer's address, same forms as local and the same address family",
    print: (t) => endpointText(t.peer, t.encap),
  },
  tid: {
    origin: "go-l2tp",
    type: id("tunnel"),
    default: "allocated (dynamic tunnels)",
    required: [STATIC_NEEDS],
    doc: "Our tunnel ID, unique on this host",
    print: (t) => tomlText(t.tid),
  },
  ptid: {
    origin: "go-l2tp",
    type: id("tunnel"),
    default: "learnt from the peer (dynamic tunnels)",
    rules: [{
      modes: STATIC_MODES,
      otherwise: "ignore",
      message: "ignored: dynamic tunnels learn the peer's tunnel ID from the peer",
    }],
    required: [STATIC_NEEDS],
    doc: "The peer's tunnel ID",
    print: (t) => tomlText(t.ptid),
  },
  managed: {
    origin: "ours",
    type: flag(),
    default: "false for static L2TPv3 tunnels, else true",
    rules: [{
      only: (v) => !v,
      versions: [3],
      otherwise: "refuse",
      message: (c) => `unmanaged tunnels need version = "l2tpv3"${c.versionWhy}`,
    }, {
      only: (v) => !v,
      modes: ["static"],
      otherwise: "refuse",
      message: (c) =>
        `unmanaged tunnels must be static: a ${c.mode} tunnel needs its own socket for control ` +
        `messages`,
    }],
    doc: "Whether this daemon owns the tunnel socket (false: the kernel opens it)",
    print: (t) => String(t.managed),
  },
  window_size: {
    origin: "go-l2tp",
    type: integer(0, U16_MAX, "messages"),
    fallback: CONFIG_DEFAULTS.windowSize,
    zeroIsDefault: true,
    default: `${CONFIG_DEFAULTS.windowSize} (go-l2tp's; l2tpd: 16); 0 means the default`,
    rules: [CONTROL_ONLY],
    doc: "How many control messages may be unacknowledged at once",
    print: (t) => tomlText(t.windowSize),
  },
  hello_timeout: {
    origin: "go-l2tp",
    type: integer(0, TIMER_MAX, "milliseconds"),
    fallback: CONFIG_DEFAULTS.helloTimeoutMs,
    default: `${CONFIG_DEFAULTS.helloTimeoutMs} (no HELLOs)`,
    // A static tunnel gets here only with mode = "static" (else hello_timeout makes it quiescent).
    rules: [{
      only: (v) => v > 0,
      modes: ["quiescent", "dynamic"],
      otherwise: "refuse",
      message: 'static tunnels send no HELLOs; use mode = "quiescent"',
    }, CONTROL_ONLY],
    doc: "Send a HELLO after this many milliseconds without control traffic",
    print: (t) => tomlText(t.helloTimeoutMs),
  },
  retry_timeout: {
    origin: "go-l2tp",
    type: integer(0, TIMER_MAX, "milliseconds"),
    fallback: CONFIG_DEFAULTS.retryTimeoutMs,
    zeroIsDefault: true,
    default: `${CONFIG_DEFAULTS.retryTimeoutMs}; 0 means the default`,
    rules: [CONTROL_ONLY],
    doc: "First retransmission timeout of a control message (milliseconds), doubled per retry",
    print: (t) => tomlText(t.retryTimeoutMs),
  },
  max_retries: {
    origin: "go-l2tp",
    type: integer(0, U16_MAX),
    fallback: CONFIG_DEFAULTS.maxRetries,
    zeroIsDefault: true,
    default: `${CONFIG_DEFAULTS.maxRetries}; 0 means the default`,
    rules: [CONTROL_ONLY],
    doc: "Retransmissions of a control message before the tunnel is declared dead",
    print: (t) => tomlText(t.maxRetries),
  },
  host_name: {
    origin: "go-l2tp",
    type: text(),
    default: "this system's host name",
    rules: [CONTROL_ONLY],
    doc: "The Host Name AVP we send",
    print: (t) => tomlText(t.hostName),
  },
  framing_caps: {
    origin: "go-l2tp",
    type: manyOf(["sync", "async"]),
    fallback: CONFIG_DEFAULTS.framingCaps,
    default: "both",
    rules: [CONTROL_ONLY, {
      versions: [2],
      otherwise: "ignore",
      message: "ignored: L2TPv3 has no Framing Capabilities AVP",
    }],
    doc: "The Framing Capabilities AVP (L2TPv2): sync and/or async",
    print: (t) => t.framingCaps && `[${t.framingCaps.map(tomlString).join(", ")}]`,
  },
  udp_checksum: {
    origin: "ours",
    type: flag(),
    default: "false (IPv4 UDP)",
    rules: [{
      encaps: ["udp"],
      otherwise: "refuse",
      message: 'applies to UDP encapsulation only, encap is "ip"',
    }, {
      families: ["ipv4"],
      otherwise: "refuse",
      message:
        "applies to IPv4 only (IPv6 UDP always has checksums unless udp6_zero_checksum_tx is set)",
    }],
    doc: "IPv4 UDP: compute UDP checksums on transmit",
    print: (t) => tomlText(t.udpChecksum),
  },
  udp6_zero_checksum_tx: {
    origin: "ours",
    type: flag(),
    default: "false (IPv6 UDP)",
    rules: UDP6_ONLY,
    doc: "IPv6 UDP: send zero UDP checksums (RFC 6935)",
    print: (t) => tomlText(t.udp6ZeroChecksumTx),
  },
  udp6_zero_checksum_rx: {
    origin: "ours",
    type: flag(),
    default: "false (IPv6 UDP)",
    rules: UDP6_ONLY,
    doc: "IPv6 UDP: accept packets with zero UDP checksums (RFC 6935)",
    print: (t) => tomlText(t.udp6ZeroChecksumRx),
  },
  debug: {
    origin: "ours",
    type: integer(0, U32_MAX, "kernel debug mask"),
    default: "unset",
    doc: "The kernel's debug mask for the tunnel (L2TP_ATTR_DEBUG)",
    print: (t) => tomlText(t.debug),
  },
  secret: {
    origin: "ours",
    type: text(),
    default: "unset: no authentication",
    rules: [DYNAMIC_ONLY, {
      only: (v) => v === "",
      otherwise: "refuse",
      message: "expected a non-empty shared secret",
    }],
    doc: "Shared secret: tunnel authentication, hidden AVPs, Message Digest",
    print: (t, o) =>
      t.secret === undefined || o.showSecrets === true
        ? tomlText(t.secret)
        : `${tomlString(HIDDEN)} # set, but not shown`,
  },
  hide_avps: {
    origin: "ours",
    type: flag(),
    default: "false",
    rules: [DYNAMIC_ONLY],
    doc: "Hide the AVPs that carry IDs, serial numbers, cookies and Remote End IDs",
    print: (t) => tomlText(t.hideAvps),
  },
  message_digest: {
    origin: "ours",
    type: oneOf(["none", "md5", "sha1"]),
    default: "md5 for L2TPv3 with a secret, else none",
    rules: [DYNAMIC_ONLY, {
      versions: [3],
      otherwise: "refuse",
      message: (c) => `the Message Digest is L2TPv3 only${c.versionWhy}`,
    }],
    doc: "Sign every L2TPv3 control message with a Message Digest AVP keyed by the secret",
    print: (t) => tomlText(t.messageDigest),
  },
  router_id: {
    origin: "ours",
    type: routerId,
    default: "chosen at random",
    rules: [DYNAMIC_ONLY, {
      versions: [3],
      otherwise: "refuse",
      message: (c) => `the Router ID is L2TPv3 only${c.versionWhy}`,
    }],
    doc: 'The L2TPv3 Router ID AVP, "a.b.c.d" or a non-zero integer',
    print: (t) => t.routerId === undefined ? undefined : tomlString(dottedQuad(t.routerId)),
  },
  accept_any_peer: {
    origin: "ours",
    type: flag(),
    default: "false",
    rules: [DYNAMIC_ONLY, {
      roles: ["lns"],
      otherwise: "refuse",
      message: 'only a tunnel with role = "lns" accepts peers',
    }],
    doc: "Role lns: accept an SCCRQ from any address that knows the secret",
    print: (t) => tomlText(t.acceptAnyPeer),
  },
  max_sessions: {
    origin: "ours",
    type: integer(1, U32_MAX, "sessions"),
    default: "no limit",
    rules: [DYNAMIC_ONLY],
    doc: "Most sessions at once in the tunnel",
    print: (t) => tomlText(t.maxSessions),
  },
  max_tunnels: {
    origin: "ours",
    type: integer(1, U32_MAX, "tunnels"),
    default: "no limit",
    rules: [DYNAMIC_ONLY, {
      roles: ["lns"],
      otherwise: "refuse",
      message: 'only a tunnel with role = "lns" accepts tunnels',
    }],
    doc: "Role lns: most tunnels accepted at once through this entry",
    print: (t) => tomlText(t.maxTunnels),
  },
  redial: {
    origin: "ours",
    type: flag(),
    default: "false (true when redial_timeout is set)",
    rules: [DYNAMIC_ONLY, LAC_ONLY],
    doc: "Role lac: dial again when the tunnel goes down",
    print: (t) => t.redialTimeoutMs === undefined ? undefined : "true",
  },
  redial_timeout: {
    origin: "ours",
    type: integer(0, TIMER_MAX, "milliseconds"),
    default: "30000 with redial = true",
    rules: [DYNAMIC_ONLY, LAC_ONLY],
    doc: "Role lac: milliseconds to wait before dialling again",
    print: (t) => tomlText(t.redialTimeoutMs),
  },
  max_redials: {
    origin: "ours",
    type: integer(1, U32_MAX, "redials"),
    default: "no limit",
    rules: [DYNAMIC_ONLY, LAC_ONLY],
    doc: "Role lac: give up after this many failed dials in a row",
    print: (t) => tomlText(t.maxRedials),
  },
  on_up: {
    origin: "ours",
    type: hook(),
    default: "nothing runs",
    doc: "A command run when the tunnel comes up (an array: no shell; a string: /bin/sh -c)",
    print: (t) => hookText(t.onUp),
  },
  on_down: {
    origin: "ours",
    type: hook(),
    default: "nothing runs",
    doc: "A command run when the tunnel goes down, after it had come up",
    print: (t) => hookText(t.onDown),
  },
  session: {
    origin: "go-l2tp",
    type: sessionTables,
    default: "no sessions",
    doc: "The tunnel's sessions: named tables [tunnel.NAME.session.NAME]",
  },
};
