/**
 * The schema of a session table `[tunnel.T.session.NAME]`: every key with its value type,
 * default, where it applies and what happens elsewhere, when it is required, its doc line and
 * how the effective configuration prints it (see `schema.ts` for what each field means).
 *
 * @example Usage
 * ```ts
 * import { SESSION_KEYS } from "./session_keys.ts";
 * console.log(Object.keys(SESSION_KEYS).length, "session keys;", SESSION_KEYS.l2spec_type.default);
 * ```
 *
 * @module
 */

import { formatMac } from "../../control/mac.ts";
import type { SessionEntry } from "./entries.ts";
import type { Requirement, Rule, Schema } from "./schema.ts";
import {
  alternatives,
  byteArray,
  describe,
  hookText,
  suggestion,
  tomlString,
  tomlText,
} from "./text.ts";
import type { CallType, Hook, Pseudowire, TunnelMode } from "./types.ts";
import {
  bytes,
  flag,
  hook,
  id,
  integer,
  interfaceName,
  oneOf,
  text,
  type ValueType,
} from "./values.ts";

const U16_MAX = 0xffff;
const U32_MAX = 0xffffffff;

/**
 * The value type of every session key (as read, before defaults).
 *
 * @example Usage
 * ```ts
 * import type { SessionValues } from "./session_keys.ts";
 * const v: Partial<SessionValues> = { sid: 10, pseudowire: "eth" };
 * console.log(v.pseudowire);
 * ```
 */
export interface SessionValues {
  /** `sid`. */ sid: number;
  /** `psid`. */ psid: number;
  /** `pseudowire`. */ pseudowire: Pseudowire;
  /** `seqnum`. */ seqnum: boolean;
  /** `send_seqnum`. */ send_seqnum: boolean;
  /** `recv_seqnum`. */ recv_seqnum: boolean;
  /** `reorder_timeout`. */ reorder_timeout: number;
  /** `cookie`. */ cookie: Uint8Array;
  /** `peer_cookie`. */ peer_cookie: Uint8Array;
  /** `l2spec_type`. */ l2spec_type: "none" | "default";
  /** `interface_name`. */ interface_name: string;
  /** `mtu`. */ mtu: number;
  /** `lns_mode`. */ lns_mode: boolean;
  /** `pppd_args`. */ pppd_args: string;
  /** `pppoe_session_id`. */ pppoe_session_id: number;
  /** `pppoe_peer_mac`. */ pppoe_peer_mac: Uint8Array;
  /** `debug`. */ debug: number;
  /** `remote_end_id`. */ remote_end_id: Uint8Array;
  /** `call_type`. */ call_type: CallType;
  /** `on_up`. */ on_up: Hook;
  /** `on_down`. */ on_down: Hook;
}

/** `remote_end_id`: a string (UTF-8), a 32-bit integer (4 bytes, big-endian) or bytes. */
const remoteEndId: ValueType<Uint8Array> = {
  read: (v) => {
    const expected = "expected a non-empty string, a 32-bit integer or an array of bytes";
    if (typeof v === "string") {
      const b = new TextEncoder().encode(v);
      if (b.length === 0 || b.length > 1000) {
        return { error: `${expected} (1..1000 bytes), got ${describe(v)}` };
      }
      return { value: b };
    }
    if (typeof v === "bigint") {
      if (v < 0n || v > BigInt(U32_MAX)) return { error: `${expected}, got ${v}` };
      const b = new Uint8Array(4);
      new DataView(b.buffer).setUint32(0, Number(v));
      return { value: b };
    }
    if (!Array.isArray(v)) return { error: `${expected}, got ${describe(v)}` };
    const out = new Uint8Array(v.length);
    for (const [i, x] of v.entries()) {
      if (typeof x !== "bigint" || x < 0n || x > 255n) {
        return { error: `${expected}, element ${i} is ${describe(x)}` };
      }
      out[i] = Number(x);
    }
    if (out.length === 0 || out.length > 1000) {
      return { error: `${expected} (1..1000 bytes), got ${out.length} bytes` };
    }
    return { value: out };
  },
};

/** `pseudowire`: go-l2tp's three, plus "eth_vlan" (ours). */
const pseudowire: ValueType<Pseudowire> = {
  read: (v) => {
    const values = ["ppp", "eth", "pppac"] as const;
    const all: readonly Pseudowire[] = [...values, "eth_vlan"];
    if (typeof v === "string" && (all as readonly string[]).includes(v)) {
      return { value: v as Pseudowire };
    }
    const hint = typeof v === "string" ? suggestion(v, all) : "";
    return {
      error: `expected ${alternatives(values)} (or "eth_vlan" for dynamic L2TPv3 tunnels), got ` +
        `${describe(v)}${hint}`,
    };
  },
};

const NEGOTIATED: Rule<unknown> = {
  modes: ["dynamic"],
  otherwise: "ignore",
  message: "ignored: only dynamic sessions are negotiated",
};
const STATIC_MODES: readonly TunnelMode[] = ["static", "quiescent"];
const SESSION_NEEDS: Requirement = {
  modes: STATIC_MODES,
  message: (ctx) => `sessions of ${ctx.mode} tunnels need sid and psid`,
};
const ETH: readonly Pseudowire[] = ["eth", "eth_vlan"];
const nonEmpty = (b: Uint8Array): boolean => b.length > 0;

/** RFC 2516 §4: session IDs are 16 bits, 0 is discovery's and 0xffff is reserved. */
const PPPOE_SESSION_ID_MAX = 0xfffe;

const PPPAC_ONLY: Rule<unknown> = {
  pseudowires: ["pppac"],
  otherwise: "ignore",
  message: `ignored: applies to "pppac" pseudowires only`,
};

/**
 * The requirement of a key every pppac session needs, where pppac is allowed: L2TPv2 static and
 * quiescent tunnels, and dynamic ones with role "lac" (the pseudowire itself is refused elsewhere,
 * and its missing keys are then not reported on top).
 */
function pppacNeeds(key: string, what: string): Requirement[] {
  const message = `pseudowire "pppac" needs ${key} (${what})`;
  return [
    { pseudowires: ["pppac"], versions: [2], modes: STATIC_MODES, message },
    { pseudowires: ["pppac"], versions: [2], roles: ["lac"], message },
  ];
}

/**
 * A MAC address: go-l2tp's array of 6 bytes, or the text form `"02:00:5e:00:53:01"` (hex digits,
 * `:` between bytes). It must be a unicast address: not all zeros, and not a group (multicast or
 * broadcast) address.
 */
function macAddress(): ValueType<Uint8Array> {
  const expected = 'expected a MAC address, an array of 6 bytes or "xx:xx:xx:xx:xx:xx"';
  return {
    read: (v) => {
      let mac: Uint8Array;
      if (typeof v === "string") {
        if (!/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/.test(v)) {
          return { error: `${expected}, got ${describe(v)}` };
        }
        mac = new Uint8Array(v.split(":").map((h) => parseInt(h, 16)));
      } else if (Array.isArray(v)) {
        if (v.length !== 6) return { error: `${expected}, got ${v.length} bytes` };
        mac = new Uint8Array(6);
        for (const [i, b] of v.entries()) {
          if (typeof b !== "bigint" || b < 0n || b > 255n) {
            return { error: `${expected}, element ${i} is ${describe(b)}` };
          }
          mac[i] = Number(b);
        }
      } else {
        return { error: `${expected}, got ${describe(v)}` };
      }
      if (mac.every((b) => b === 0)) {
        return { error: "expected a unicast MAC address, got the all-zero address" };
      }
      if ((mac[0] & 1) !== 0) {
        return {
          error: `expected a unicast MAC address, got the group address ${formatMac(mac)} (its ` +
            "first byte is odd: multicast or broadcast)",
        };
      }
      return { value: mac };
    },
  };
}

/** A Remote End ID as TOML: a string when it is printable ASCII, else an array of bytes. */
function remoteEndIdText(b: Uint8Array): string {
  const text = new TextDecoder("utf-8", { fatal: false }).decode(b);
  const printable = /^[\x20-\x7e]+$/.test(text) &&
    new TextEncoder().encode(text).length === b.length;
  return printable ? tomlString(text) : byteArray(b);
}

/**
 * The keys of a session table `[tunnel.T.session.NAME]`, in the order the effective
 * configuration prints them.
 *
 * @example Usage
 * ```ts
 * import { SESSION_KEYS } from "./session_keys.ts";
 * console.log(SESSION_KEYS.l2spec_type.default);
 * ```
 */
export const SESSION_KEYS: Schema<SessionValues, SessionEntry> = {
  sid: {
    origin: "go-l2tp",
    type: id("session"),
    default: "allocated (dynamic tunnels)",
    required: [SESSION_NEEDS],
    doc: "Our session ID, unique within the tunnel",
    print: (s) => tomlText(s.sid),
  },
  psid: {
    origin: "go-l2tp",
    type: id("session"),
    default: "learnt from the peer (dynamic tunnels)",
    rules: [{
      modes: STATIC_MODES,
      otherwise: "ignore",
      message: "ignored: dynamic sessions learn the peer's session ID from the peer",
    }],
    required: [SESSION_NEEDS],
    doc: "The peer's session ID",
    print: (s) => tomlText(s.psid),
  },
  pseudowire: {
    origin: "go-l2tp",
    type: pseudowire,
    default: "ppp for L2TPv2, eth for L2TPv3",
    rules: [{
      only: (v) => v === "pppac",
      versions: [2],
      otherwise: "refuse",
      message: (c) =>
        `pseudowire "pppac" is L2TPv2 only (go-l2tp's kpppoed and the kernel's PPPoE relay carry ` +
        `PPPoE sessions over L2TPv2): set version = "l2tpv2"${c.versionWhy}`,
    }, {
      only: (v) => v === "eth_vlan",
      modes: ["dynamic"],
      otherwise: "refuse",
      message: (c) =>
        `"eth_vlan" is negotiated by the control protocol: dynamic tunnels only (use "eth" ` +
        `for a ${c.mode} tunnel)`,
    }, {
      only: (v) => ETH.includes(v),
      versions: [3],
      otherwise: "refuse",
      message: (c) => `L2TPv2 carries PPP only: expected "ppp"${c.versionWhy}`,
    }],
    doc: "What the session carries: eth, ppp, pppac (a PPPoE session relayed to the LNS) or " +
      "eth_vlan",
    print: (s) => tomlString(s.pseudowire),
  },
  seqnum: {
    origin: "go-l2tp",
    type: flag(),
    default: "false",
    doc: "Send sequence numbers on data packets and require them on received ones",
  },
  send_seqnum: {
    origin: "ours",
    type: flag(),
    default: "seqnum",
    doc: "Send sequence numbers on data packets (overrides seqnum)",
    print: (s) => String(s.sendSeqnum),
  },
  recv_seqnum: {
    origin: "ours",
    type: flag(),
    default: "seqnum",
    doc: "Require sequence numbers on received data packets (overrides seqnum)",
    print: (s) => String(s.recvSeqnum),
  },
  reorder_timeout: {
    origin: "go-l2tp",
    type: integer(0, U32_MAX, "milliseconds"),
    fallback: 0,
    default: "0 (no reordering)",
    doc: "How long to hold out-of-order data packets for reordering",
    print: (s) => tomlText(s.reorderTimeoutMs),
  },
  cookie: {
    origin: "go-l2tp",
    type: bytes([0, 4, 8]),
    default: "none",
    rules: [{
      only: nonEmpty,
      modes: STATIC_MODES,
      otherwise: "ignore",
      message: "ignored: dynamic sessions send the cookie the peer assigns",
    }, {
      only: nonEmpty,
      versions: [3],
      otherwise: "refuse",
      message: (c) => `cookies are L2TPv3 only${c.versionWhy}`,
    }],
    doc: "The L2TPv3 cookie we send in every data packet (4 or 8 bytes)",
    print: (s) => tomlText(s.cookie),
  },
  peer_cookie: {
    origin: "go-l2tp",
    type: bytes([0, 4, 8]),
    default: "none",
    rules: [{
      only: nonEmpty,
      versions: [3],
      otherwise: "refuse",
      message: (c) => `cookies are L2TPv3 only${c.versionWhy}`,
    }],
    doc: "The L2TPv3 cookie the peer sends, checked on receipt (4 or 8 bytes)",
    print: (s) => tomlText(s.peerCookie),
  },
  l2spec_type: {
    origin: "go-l2tp",
    type: oneOf(["none", "default"]),
    default: 'none; "default" on L2TPv3 when sequence numbers are on (with a warning)',
    rules: [{
      only: (v) => v === "default",
      versions: [3],
      otherwise: "refuse",
      message: (c) => `the L2-Specific Sublayer is L2TPv3 only: expected "none"${c.versionWhy}`,
    }],
    doc: "The L2TPv3 L2-Specific Sublayer (RFC 3931 section 4.6)",
    print: (s) => tomlString(s.l2specType),
  },
  interface_name: {
    origin: "go-l2tp",
    type: interfaceName(),
    default: "chosen by the kernel (l2tpethN) or pppd (pppN); required for pppac",
    required: pppacNeeds(
      "interface_name",
      'the Ethernet interface the subscriber\'s PPPoE session runs on, e.g. "eth0"',
    ),
    doc: "The session's network interface name, unique in the file; for pppac, the Ethernet " +
      "interface the PPPoE session runs on",
    print: (s) => tomlText(s.interfaceName),
  },
  mtu: {
    origin: "ours",
    type: integer(68, U16_MAX, "bytes"),
    default: "derived by the kernel from the tunnel path",
    rules: [{
      pseudowires: ETH,
      otherwise: "refuse",
      message: 'applies to "eth" pseudowires only (for PPP, pass "mtu" to pppd via pppd_args)',
    }],
    doc: "The MTU of an eth pseudowire's interface",
    print: (s) => tomlText(s.mtu),
  },
  lns_mode: {
    origin: "ours",
    type: flag(),
    fallback: false,
    default: "false",
    doc: "The kernel lets us, not the peer, decide whether data packets carry sequence numbers",
    print: (s) => tomlText(s.lnsMode),
  },
  pppd_args: {
    origin: "go-l2tp",
    type: text(),
    default: "none",
    rules: [{
      pseudowires: ["ppp"],
      otherwise: "ignore",
      message: `ignored: pppd runs for "ppp" pseudowires only`,
    }, {
      only: (v) => v === "",
      otherwise: "refuse",
      message: "expected the path of a file of pppd arguments, got an empty string",
    }],
    doc: "A file of extra pppd arguments, relative to the configuration file's directory",
    print: (s) => tomlText(s.pppdArgs),
  },
  pppoe_session_id: {
    origin: "go-l2tp",
    type: integer(1, PPPOE_SESSION_ID_MAX, "PPPoE session ID"),
    default: "none (required for pppac)",
    rules: [PPPAC_ONLY],
    required: pppacNeeds("pppoe_session_id", "the subscriber's PPPoE session ID, 1..65534"),
    doc: "The PPPoE session ID of a pppac pseudowire",
    print: (s) => tomlText(s.pppoeSessionId),
  },
  pppoe_peer_mac: {
    origin: "go-l2tp",
    type: macAddress(),
    default: "none (required for pppac)",
    rules: [PPPAC_ONLY],
    required: pppacNeeds("pppoe_peer_mac", "the subscriber's MAC address"),
    doc: 'The MAC address of a pppac pseudowire\'s PPPoE peer (6 bytes, or "02:00:5e:00:53:01")',
    print: (s) => tomlText(s.pppoePeerMac),
  },
  debug: {
    origin: "ours",
    type: integer(0, U32_MAX, "kernel debug mask"),
    default: "unset",
    doc: "The kernel's debug mask for the session",
    print: (s) => tomlText(s.debug),
  },
  remote_end_id: {
    origin: "ours",
    type: remoteEndId,
    default: "none (a responder's session without one accepts any call)",
    rules: [NEGOTIATED, {
      versions: [3],
      otherwise: "refuse",
      message: (c) => `the Remote End ID is L2TPv3 only${c.versionWhy}`,
    }],
    doc: "The L2TPv3 Remote End ID AVP: the circuit a dynamic session binds to",
    print: (s) => s.remoteEndId === undefined ? undefined : remoteEndIdText(s.remoteEndId),
  },
  call_type: {
    origin: "ours",
    type: oneOf(["incoming", "outgoing"]),
    default: "incoming",
    rules: [NEGOTIATED],
    doc: "How a dynamic session is opened: ICRQ (incoming) or OCRQ (outgoing)",
    print: (s) => tomlText(s.callType),
  },
  on_up: {
    origin: "ours",
    type: hook(),
    default: "nothing runs",
    doc: "A command run when the session comes up, e.g. to put its interface in a bridge",
    print: (s) => hookText(s.onUp),
  },
  on_down: {
    origin: "ours",
    type: hook(),
    default: "nothing runs",
    doc: "A command run when the session goes down, after it had come up",
    print: (s) => hookText(s.onDown),
  },
};
