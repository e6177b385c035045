/**
 * The schema of kpppoed.toml: every key with its value type, default, doc line and how the
 * effective configuration prints it (the machinery is `../config/schema.ts`'s, as for
 * l2tpd.toml). {@linkcode KPPPOED_KEYS} is the top level, {@linkcode KPPPOED_SERVICE_KEYS} a
 * `[service.NAME]` table: the LNS and the L2TP tunnel settings of one service, which override
 * the top level's. The tunnel settings are l2tpd.toml's tunnel keys (`../config/tunnel_keys.ts`),
 * with their types, checks and defaults.
 *
 * @example Usage
 * ```ts
 * import { KPPPOED_KEYS, KPPPOED_SERVICE_KEYS } from "./keys.ts";
 * console.log(Object.keys(KPPPOED_KEYS).join(", "));
 * console.log(KPPPOED_SERVICE_KEYS.lns_ipaddrs.doc);
 * ```
 *
 * @module
 */

import { formatEndpoint } from "../../control/endpoint.ts";
import { isUnspecified, type ParsedEndpoint } from "../config/address.ts";
import type { FormatOptions, KeySpec, Requirement, RuleContext, Schema } from "../config/schema.ts";
import {
  describe,
  isTable,
  quote,
  tomlString,
  type TomlTable,
  tomlText,
  typeName,
} from "../config/text.ts";
import { TUNNEL_KEYS } from "../config/tunnel_keys.ts";
import type { Endpoint } from "../config/types.ts";
import { endpoint, integer, interfaceName, type ValueType } from "../config/values.ts";

/**
 * Defaults of kpppoed.toml: go-l2tp's AC-Name and LNS port, and our session limit.
 *
 * @example Usage
 * ```ts
 * import { KPPPOED_DEFAULTS } from "./keys.ts";
 * console.log(KPPPOED_DEFAULTS.acName, KPPPOED_DEFAULTS.maxSessions); // kpppoed 4096
 * ```
 */
export const KPPPOED_DEFAULTS: {
  readonly configPath: string;
  readonly acName: string;
  readonly lnsPort: number;
  readonly maxSessions: number;
  readonly maxSessionsPerMac: number;
} = Object.freeze({
  configPath: "/etc/kpppoed/kpppoed.toml",
  acName: "kpppoed",
  lnsPort: 1701,
  maxSessions: 4096,
  maxSessionsPerMac: 4,
});

/**
 * One PPPoE service as kpppoed runs it: its name, the LNS to tunnel its sessions to (in order
 * of preference: the next is tried when one cannot be reached), and the settings of the L2TPv2
 * tunnels to them, each from the service's `[service.NAME]` table, else from the top level,
 * else the default.
 *
 * @example Usage
 * ```ts
 * import type { KpppoedService } from "./keys.ts";
 * const s: KpppoedService = {
 *   name: "internet", lns: [{ address: "192.0.2.1", port: 1701 }], hideAvps: false,
 *   helloTimeoutMs: 0, retryTimeoutMs: 1000, maxRetries: 3, windowSize: 4,
 * };
 * console.log(s.lns.length); // 1
 * ```
 */
export interface KpppoedService {
  /** The Service-Name (RFC 2516), as in `services`. */
  name: string;
  /**
   * The LNS addresses (`lns_ipaddr`, or `lns_ipaddrs` in order), at least one. An address may
   * be a host name, resolved when it is dialled.
   */
  lns: Endpoint[];
  /** Shared secret of the tunnels (`secret`): tunnel authentication, hidden AVPs. */
  secret?: string;
  /** Hide the AVPs that carry IDs (`hide_avps`); needs `secret`. */
  hideAvps: boolean;
  /** Host Name AVP (`host_name`); absent means the system host name. */
  hostName?: string;
  /** Keep-alive interval (`hello_timeout`) in milliseconds; 0 disables HELLOs. */
  helloTimeoutMs: number;
  /** Initial retransmission timeout (`retry_timeout`) in milliseconds. */
  retryTimeoutMs: number;
  /** Retransmissions before the tunnel is declared dead (`max_retries`). */
  maxRetries: number;
  /** Control message transmit window (`window_size`). */
  windowSize: number;
}

/**
 * A whole kpppoed configuration, every default filled in: what kpppoed answers PPPoE discovery
 * with, where, and the services it offers (in the order of `services`) with their LNS.
 *
 * @example Usage
 * ```ts
 * import type { KpppoedConfig } from "./keys.ts";
 * const c: KpppoedConfig = {
 *   file: "kpppoed.toml", acName: "kpppoed", interfaceName: "eth0", maxSessions: 4096,
 *   services: [],
 * };
 * console.log(c.acName);
 * ```
 */
export interface KpppoedConfig {
  /** The file it was read from. */
  file: string;
  /** The AC-Name tag of PADO packets (`ac_name`). */
  acName: string;
  /** The Ethernet interface PPPoE discovery and sessions run on (`interface_name`). */
  interfaceName: string;
  /** The services offered (`services`, with their `[service.NAME]` tables), at least one. */
  services: KpppoedService[];
  /** Most PPPoE sessions at once (`max_sessions`), over every service; more are refused. */
  maxSessions: number;
  /** Most PPPoE sessions of one subscriber MAC address (`max_sessions_per_mac`). */
  maxSessionsPerMac?: number;
  /** Things accepted but without effect, each naming its key; present only when there is one. */
  warnings?: string[];
}

/**
 * The value type of the LNS and tunnel keys, which the top level and `[service.NAME]` share.
 *
 * @example Usage
 * ```ts
 * import type { LnsValues } from "./keys.ts";
 * const v: Partial<LnsValues> = { hello_timeout: 60000 };
 * console.log(v.hello_timeout);
 * ```
 */
export interface LnsValues {
  /** `lns_ipaddr`. */ lns_ipaddr: ParsedEndpoint;
  /** `lns_ipaddrs`. */ lns_ipaddrs: ParsedEndpoint[];
  /** `secret`. */ secret: string;
  /** `hide_avps`. */ hide_avps: boolean;
  /** `host_name`. */ host_name: string;
  /** `hello_timeout`. */ hello_timeout: number;
  /** `retry_timeout`. */ retry_timeout: number;
  /** `max_retries`. */ max_retries: number;
  /** `window_size`. */ window_size: number;
}

/**
 * The value type of every top-level key of kpppoed.toml (as read, before defaults).
 *
 * @example Usage
 * ```ts
 * import type { KpppoedValues } from "./keys.ts";
 * const v: Partial<KpppoedValues> = { ac_name: "ac1", services: ["internet"] };
 * console.log(v.services);
 * ```
 */
export interface KpppoedValues extends LnsValues {
  /** `ac_name`. */ ac_name: string;
  /** `interface_name`. */ interface_name: string;
  /** `services`. */ services: string[];
  /** `max_sessions`. */ max_sessions: number;
  /** `max_sessions_per_mac`. */ max_sessions_per_mac: number;
  /** `service`. */ service: TomlTable;
}

/**
 * The context the reused tunnel keys' rules are checked in: kpppoed's tunnels are dynamic
 * L2TPv2 over UDP, and it is the LAC.
 *
 * @example Usage
 * ```ts
 * import { LAC_CONTEXT } from "./keys.ts";
 * console.log(LAC_CONTEXT.role, LAC_CONTEXT.version); // lac 2
 * ```
 */
export const LAC_CONTEXT: RuleContext = Object.freeze({
  mode: "dynamic",
  version: 2,
  versionKnown: true,
  versionWhy: "",
  encap: "udp",
  role: "lac",
});

/** Longest AC-Name or Service-Name: PADO and PADS carry them in one frame with the client's tags. */
const TAG_MAX = 255;
/** RFC 2516 §4: PPPoE session IDs are 1..65534 (0 is discovery's, 0xffff reserved). */
const PPPOE_SESSIONS_MAX = 0xfffe;

function byteLength(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** A PPPoE tag's text (AC-Name, Service-Name): at most 255 bytes, no control characters. */
function tagProblem(s: string): string | undefined {
  if (byteLength(s) > TAG_MAX) return `is ${byteLength(s)} bytes, more than ${TAG_MAX}`;
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(s)) return "holds a control character";
  return undefined;
}

/** `ac_name`: a string for the AC-Name tag (empty: go-l2tp's default, with a warning). */
const acName: ValueType<string> = {
  read: (v) => {
    if (typeof v !== "string") return { error: `expected a string, got ${describe(v)}` };
    const why = tagProblem(v);
    return why === undefined ? { value: v } : { error: `expected an AC-Name: ${quote(v)} ${why}` };
  },
};

/** `services`: an array of distinct, non-empty service names, at least one. */
const serviceNames: ValueType<string[]> = {
  read: (v) => {
    const expected = 'expected an array of service names such as ["internet"]';
    if (!Array.isArray(v)) return { error: `${expected}, got ${describe(v)}` };
    if (v.length === 0) return { error: `${expected}, got an empty array: offer one at least` };
    const out: string[] = [];
    for (const [i, name] of v.entries()) {
      if (typeof name !== "string") {
        return { error: `${expected}, element ${i} is ${describe(name)}` };
      }
      if (name === "") {
        return {
          error: `${expected}, element ${i} is empty (a client asking for any service, with an ` +
            "empty Service-Name, is offered the first service: list names only)",
        };
      }
      const why = tagProblem(name);
      if (why !== undefined) return { error: `${expected}, element ${i} ${why}` };
      if (out.includes(name)) {
        return { error: `${expected}, element ${i} repeats ${quote(name)}: list each once` };
      }
      out.push(name);
    }
    return { value: out };
  },
};

/** An LNS address: an endpoint (port 1701 by default) with a unicast address and a port. */
function lnsAddress(): ValueType<ParsedEndpoint> {
  const base = endpoint();
  return {
    read: (v, ctx) => {
      const r = base.read(v, ctx);
      if ("error" in r) return r;
      const { endpoint: e, kind, text } = r.value;
      if (isUnspecified(e.address, kind)) {
        return { error: `expected the LNS's unicast address, got ${quote(text)}` };
      }
      if (e.port === 0) return { error: `expected a non-zero UDP port, got ${quote(text)}` };
      return r;
    },
  };
}

/** `lns_ipaddrs`: an array of distinct LNS addresses, at least one. */
function lnsAddresses(): ValueType<ParsedEndpoint[]> {
  const one = lnsAddress();
  const expected = 'expected an array of LNS addresses such as ["192.0.2.1:1701", "192.0.2.2"]';
  return {
    read: (v, ctx) => {
      if (!Array.isArray(v)) return { error: `${expected}, got ${describe(v)}` };
      if (v.length === 0) return { error: `${expected}, got an empty array` };
      const out: ParsedEndpoint[] = [];
      for (const [i, item] of v.entries()) {
        const r = one.read(item, ctx);
        if ("error" in r) return { error: `element ${i}: ${r.error}` };
        const text = formatEndpoint(r.value.endpoint);
        if (out.some((p) => formatEndpoint(p.endpoint) === text)) {
          return { error: `element ${i} repeats ${quote(text)}: list each LNS once` };
        }
        out.push(r.value);
      }
      return { value: out };
    },
  };
}

/** `service`: the named tables `[service.NAME]`. */
const serviceTables: ValueType<TomlTable> = {
  read: (v) =>
    isTable(v) ? { value: v } : {
      error: `expected named service tables such as [service.internet], got ${typeName(v)}`,
    },
};

/** How the effective configuration shows a secret (unless asked to show secrets). */
const HIDDEN = "<hidden>";

/** The LNS list as TOML: `lns_ipaddr` for one (as go-l2tp writes it), `lns_ipaddrs` for more. */
const lnsText = (lns: readonly Endpoint[]): string =>
  `[${lns.map((e) => tomlString(formatEndpoint(e))).join(", ")}]`;

/** A tunnel key of l2tpd.toml, as kpppoed's (ours), printed from a service. */
function tunnelKey<T>(
  spec: KeySpec<T, unknown>,
  print: (s: KpppoedService, o: FormatOptions) => string | undefined,
): KeySpec<T, KpppoedService> {
  return { ...spec, origin: "ours", print };
}

/**
 * The keys of a `[service.NAME]` table, in the order the effective configuration prints them:
 * the service's LNS and the settings of the tunnels to it (each defaulting to the top level's).
 *
 * @example Usage
 * ```ts
 * import { KPPPOED_SERVICE_KEYS } from "./keys.ts";
 * console.log(Object.keys(KPPPOED_SERVICE_KEYS).join(", "));
 * ```
 */
export const KPPPOED_SERVICE_KEYS: Schema<LnsValues, KpppoedService> = {
  lns_ipaddr: {
    origin: "go-l2tp",
    type: lnsAddress(),
    default: "none: required, unless lns_ipaddrs is set",
    doc: 'The LNS to tunnel PPPoE sessions to, "host:port" (port 1701 by default)',
    print: (s) => s.lns.length === 1 ? tomlString(formatEndpoint(s.lns[0])) : undefined,
  },
  lns_ipaddrs: {
    origin: "ours",
    type: lnsAddresses(),
    default: "none: instead of lns_ipaddr",
    doc: "Several LNS, tried in order: the next when one cannot be reached (instead of lns_ipaddr)",
    print: (s) => s.lns.length > 1 ? lnsText(s.lns) : undefined,
  },
  secret: tunnelKey(
    TUNNEL_KEYS.secret,
    (s, o) =>
      s.secret === undefined || o.showSecrets === true
        ? tomlText(s.secret)
        : `${tomlString(HIDDEN)} # set, but not shown`,
  ),
  hide_avps: tunnelKey(TUNNEL_KEYS.hide_avps, (s) => tomlText(s.hideAvps)),
  host_name: tunnelKey(TUNNEL_KEYS.host_name, (s) => tomlText(s.hostName)),
  hello_timeout: tunnelKey(TUNNEL_KEYS.hello_timeout, (s) => tomlText(s.helloTimeoutMs)),
  retry_timeout: tunnelKey(TUNNEL_KEYS.retry_timeout, (s) => tomlText(s.retryTimeoutMs)),
  max_retries: tunnelKey(TUNNEL_KEYS.max_retries, (s) => tomlText(s.maxRetries)),
  window_size: tunnelKey(TUNNEL_KEYS.window_size, (s) => tomlText(s.windowSize)),
};

/** The service keys at the top level: the same, printed per service instead. */
function topLevel(): Schema<LnsValues, KpppoedConfig> {
  const out: Partial<Record<keyof LnsValues, KeySpec<unknown, KpppoedConfig>>> = {};
  for (const [key, spec] of Object.entries(KPPPOED_SERVICE_KEYS)) {
    const { print: _print, ...rest } = spec as KeySpec<unknown, KpppoedService>;
    out[key as keyof LnsValues] = rest;
  }
  return out as Schema<LnsValues, KpppoedConfig>;
}

const REQUIRED = (message: string): Requirement[] => [{ message }];

/**
 * The top-level keys of kpppoed.toml, in the order the effective configuration prints them:
 * go-l2tp's `ac_name`, `interface_name`, `services` and `lns_ipaddr`, then ours. The LNS and
 * tunnel keys here are the defaults of every service; the effective configuration prints them in
 * each service's table.
 *
 * @example Usage
 * ```ts
 * import { KPPPOED_KEYS } from "./keys.ts";
 * const ours = Object.entries(KPPPOED_KEYS).filter(([, spec]) => spec.origin === "ours");
 * console.log(ours.map(([key]) => key).join(", "));
 * ```
 */
export const KPPPOED_KEYS: Schema<KpppoedValues, KpppoedConfig> = {
  ac_name: {
    origin: "go-l2tp",
    type: acName,
    fallback: KPPPOED_DEFAULTS.acName,
    default: `"${KPPPOED_DEFAULTS.acName}"`,
    doc: "The AC-Name tag kpppoed sends in PADO packets",
    print: (c) => tomlString(c.acName),
  },
  interface_name: {
    origin: "go-l2tp",
    type: interfaceName(),
    default: "none: required",
    required: REQUIRED(
      'kpppoed answers PPPoE discovery on this Ethernet interface, e.g. interface_name = "eth0"',
    ),
    doc: "The Ethernet interface kpppoed listens on for PPPoE discovery, and runs sessions on",
    print: (c) => tomlString(c.interfaceName),
  },
  services: {
    origin: "go-l2tp",
    type: serviceNames,
    default: "none: at least one is required",
    required: REQUIRED('the PPPoE services to offer, e.g. services = ["internet"]'),
    doc: "The service names kpppoed offers in PADO packets",
    print: (c) => `[${c.services.map((s) => tomlString(s.name)).join(", ")}]`,
  },
  ...topLevel(),
  max_sessions: {
    origin: "ours",
    type: integer(1, PPPOE_SESSIONS_MAX, "sessions"),
    fallback: KPPPOED_DEFAULTS.maxSessions,
    default: String(KPPPOED_DEFAULTS.maxSessions),
    doc: "Most PPPoE sessions at once, over every service and LNS",
    print: (c) => tomlText(c.maxSessions),
  },
  max_sessions_per_mac: {
    origin: "ours",
    type: integer(1, PPPOE_SESSIONS_MAX, "sessions"),
    fallback: KPPPOED_DEFAULTS.maxSessionsPerMac,
    default: String(KPPPOED_DEFAULTS.maxSessionsPerMac),
    doc:
      "Most PPPoE sessions of one subscriber MAC address (a router behind one MAC may need more)",
    print: (c) => tomlText(c.maxSessionsPerMac ?? KPPPOED_DEFAULTS.maxSessionsPerMac),
  },
  service: {
    origin: "ours",
    type: serviceTables,
    default: "none: every service uses the top-level LNS and settings",
    doc: "Per-service LNS and tunnel settings: named tables [service.NAME]",
  },
};
