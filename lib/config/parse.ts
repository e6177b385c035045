/**
 * Parsing and validation: TOML text to a {@linkcode Config}, with every problem collected into
 * one {@linkcode ConfigError}.
 *
 * A tunnel is read in three steps: the keys that decide what it is (`mode`, `version`, `encap`,
 * `hello_timeout`, whether `ptid` is set), then every other key by its schema entry, checked
 * against the tunnel's context, then the combinations of keys (`checks.ts`). Its sessions follow
 * the same way in the tunnel's context, and checks across the file come last.
 *
 * @example Usage
 * ```ts
 * import { parseConfig } from "../config.ts";
 * const config = parseConfig('[tunnel.t1]\npeer = "192.0.2.2"\n[tunnel.t1.session.s1]\n');
 * console.log(config.tunnels[0].config.version, config.tunnels[0].sessions[0].config.pseudowire);
 * // 2 ppp
 * ```
 *
 * @module
 */

import { parse as parseToml, TomlError } from "smol-toml";
import { checkEndpoints, checkTunnel, crossChecks, sequencingSublayer } from "./checks.ts";
import { DAEMON_KEYS } from "./daemon_keys.ts";
import { namedTunnel, type SessionEntry, type TunnelEntry } from "./entries.ts";
import { Collector, ConfigError, type Where } from "./issues.ts";
import { readableSecretWarnings } from "./permissions.ts";
import { TableReader } from "./reader.ts";
import { CONFIG_DEFAULTS, type RuleContext, TOP_KEYS } from "./schema.ts";
import { SESSION_KEYS } from "./session_keys.ts";
import { compact, describe, isTable, quote, tableKey, type TomlTable } from "./text.ts";
import { TUNNEL_KEYS } from "./tunnel_keys.ts";
import type { Config, DaemonConfig, DefaultMode, TunnelMode } from "./types.ts";

/**
 * Options for {@linkcode parseConfig} and {@linkcode loadConfig}.
 *
 * @example Usage
 * ```ts
 * import { type ConfigOptions, parseConfig } from "../config.ts";
 * const asKl2tpd: ConfigOptions = { defaultMode: "dynamic" };
 * console.log(parseConfig("", "kl2tpd.toml", asKl2tpd).tunnels); // []
 * ```
 */
export interface ConfigOptions {
  /** The mode of tunnels that do not set `mode` (default `auto`). */
  defaultMode?: DefaultMode;
  /**
   * `max_retries` of L2TPv2 tunnels that do not set it (default: go-l2tp's 3). The l2tpd
   * personality passes 5, RFC 2661 §5.8's recommended default; kl2tpd and ql2tpd keep go-l2tp's.
   */
  defaultMaxRetriesV2?: number;
  /**
   * `window_size` of tunnels with a control connection that do not set it (default: go-l2tp's
   * 4). The l2tpd personality passes 16 (accel-ppp's default): a peer may then have 16 messages
   * in flight, so a burst of calls is answered in a few round trips and batches of datagrams,
   * not one round trip per 4 (measured: the LNS's setup CPU per session falls by about 40%).
   * kl2tpd and ql2tpd keep go-l2tp's.
   */
  defaultWindowSize?: number;
  /**
   * {@linkcode loadConfig} only: add a warning when the file holds a shared secret and its group
   * or others may read it (see `secretFileWarnings`). Default false.
   */
  checkSecretPermissions?: boolean;
}

/**
 * Split the text of a `pppd_args` file into arguments: one or more per line, separated by
 * spaces or tabs (go-l2tp splits each line on spaces; empty arguments are dropped here).
 *
 * @example Usage
 * ```ts
 * import { splitPppdArgs } from "../config.ts";
 * console.log(splitPppdArgs("noauth\nuser bob  mtu 1400\n"));
 * // ["noauth", "user", "bob", "mtu", "1400"]
 * ```
 */
export function splitPppdArgs(text: string): string[] {
  return text.split(/\r?\n/).flatMap((line) => line.split(/[ \t]+/)).filter((a) => a !== "");
}

/**
 * Parse and validate configuration text (pure: `pppd_args` files are not read, so
 * `pppdArgsList` stays unset). A file without tunnels is valid.
 *
 * @param text TOML text.
 * @param file The file name to report in errors (default `<config>`).
 * @param opts Defaults that depend on how the daemon was invoked.
 * @throws {ConfigError} listing every problem found.
 *
 * @example Usage
 * ```ts
 * import { parseConfig } from "../config.ts";
 * const config = parseConfig(
 *   '[tunnel.t1]\npeer = "192.0.2.2:1701"\nversion = "l2tpv2"\n' +
 *     '[tunnel.t1.session.s1]\npseudowire = "ppp"',
 *   "kl2tpd.toml",
 * );
 * console.log(config.tunnels[0].config.mode); // "dynamic"
 * ```
 */
export function parseConfig(
  text: string,
  file: string = "<config>",
  opts: ConfigOptions = {},
): Config {
  const { config, collector } = parseText(text, file, opts);
  if (collector.issues.length > 0) throw new ConfigError(file, collector.issues);
  return toConfig(config);
}

/**
 * Read, parse and validate a configuration file, and read the `pppd_args` file of every session
 * that has one (relative paths are taken from the configuration file's directory). With
 * `checkSecretPermissions`, a file holding a `secret` that its group or others may read gets a
 * warning saying how to fix it (`chmod 600 FILE`).
 *
 * @param path The configuration file.
 * @param opts Defaults that depend on how the daemon was invoked.
 * @throws {ConfigError} listing every problem found, including unreadable files.
 *
 * @example Usage
 * ```ts
 * import { loadConfig } from "../config.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/args`, "noauth\nuser bob\n");
 * await Deno.writeTextFile(
 *   `${dir}/kl2tpd.toml`,
 *   '[tunnel.t1]\npeer = "192.0.2.2"\n[tunnel.t1.session.s1]\npppd_args = "args"\n',
 * );
 * const config = await loadConfig(`${dir}/kl2tpd.toml`, { defaultMode: "dynamic" });
 * console.log(config.tunnels[0].sessions[0].config.pppdArgsList); // ["noauth", "user", "bob"]
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadConfig(path: string, opts: ConfigOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new ConfigError(path, [{ message: `cannot read the file: ${readErrorText(e)}` }]);
  }
  const { config, collector, pppdRefs } = parseText(text, path, opts);
  const dir = dirname(path);
  for (const ref of pppdRefs) {
    const file = ref.path.startsWith("/") ? ref.path : `${dir}/${ref.path}`;
    try {
      ref.target.pppdArgsList = splitPppdArgs(await Deno.readTextFile(file));
    } catch (e) {
      collector.add(
        { tunnel: ref.tunnel, session: ref.session },
        "pppd_args",
        `cannot read pppd arguments file ${quote(file)}: ${readErrorText(e)}`,
      );
    }
  }
  if (collector.issues.length > 0) throw new ConfigError(path, collector.issues);
  if (opts.checkSecretPermissions === true) {
    const mode = await Deno.stat(path).then((info) => info.mode, () => null);
    const extra = mode === null ? [] : readableSecretWarnings(path, mode, text);
    if (extra.length > 0) config.warnings = [...config.warnings ?? [], ...extra];
  }
  return toConfig(config);
}

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

function readErrorText(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "file not found";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.IsADirectory) return "is a directory";
  if (e instanceof Error) return e.message;
  return String(e);
}

/** A session's `pppd_args` file, read by {@linkcode loadConfig} into `target`. */
interface PppdRef {
  tunnel: string;
  session: string;
  path: string;
  target: SessionEntry;
}

/** A configuration as the parser builds it: tunnels flat, until {@linkcode toConfig}. */
interface FlatConfig {
  file: string;
  tunnels: TunnelEntry[];
  daemon?: DaemonConfig;
  warnings?: string[];
}

function toConfig(flat: FlatConfig): Config {
  const config: Config = { file: flat.file, tunnels: flat.tunnels.map(namedTunnel) };
  if (flat.daemon) config.daemon = flat.daemon;
  if (flat.warnings) config.warnings = flat.warnings;
  return config;
}

interface ParseResult {
  config: FlatConfig;
  collector: Collector;
  pppdRefs: PppdRef[];
}

/**
 * Parse TOML text; a syntax error becomes an issue (with its line, column and the code around
 * it) and the result is undefined. Shared by l2tpd.toml and kpppoed.toml.
 *
 * @param c Where the issue goes.
 * @param text The file's text.
 * @returns The document, or undefined after a syntax error.
 *
 * @example Usage
 * ```ts
 * import { readToml } from "./parse.ts";
 * import { Collector } from "./issues.ts";
 * const c = new Collector();
 * console.log(readToml(c, "a = 1")?.a, readToml(c, "a = "), c.issues.length); // 1n undefined 1
 * ```
 */
export function readToml(c: Collector, text: string): TomlTable | undefined {
  try {
    return parseToml(text, { integersAsBigInt: true, unsafeKeyBehaviour: "throw" }) as TomlTable;
  } catch (e) {
    if (e instanceof TomlError) {
      const first = e.message.split("\n")[0].replace(/^Invalid TOML document:\s*/, "");
      const block = e.codeblock.trimEnd();
      c.issues.push({
        line: e.line,
        column: e.column,
        message: `invalid TOML: ${first}${block !== "" ? `\n${block}` : ""}`,
      });
    } else {
      c.issues.push({ message: `invalid TOML: ${e instanceof Error ? e.message : String(e)}` });
    }
    return undefined;
  }
}

function parseText(text: string, file: string, opts: ConfigOptions): ParseResult {
  const c = new Collector();
  const pppdRefs: PppdRef[] = [];
  const config: FlatConfig = { file, tunnels: [] };
  const doc = readToml(c, text);
  if (doc === undefined) return { config, collector: c, pppdRefs };

  // A file without tunnels is valid: the daemon starts with nothing to run (as go-l2tp's does).
  const top = new TableReader(c, {}, doc, TOP_KEYS, { defaultPort: CONFIG_DEFAULTS.udpPort });
  const daemon = top.read("daemon");
  if (daemon !== undefined) config.daemon = parseDaemon(c, daemon);
  const tunnels = top.read("tunnel");
  for (const [name, value] of Object.entries(tunnels ?? {})) {
    if (!isTable(value)) {
      c.add(
        {},
        "tunnel",
        `${quote(name)} (${describe(value)}) is not a tunnel; tunnels are named tables ` +
          `such as [tunnel.t1]`,
      );
      continue;
    }
    config.tunnels.push(parseTunnel(c, name, value, opts, pppdRefs));
  }
  crossChecks(c, config.tunnels);
  if (c.warnings.length > 0) config.warnings = [...c.warnings];
  return { config, collector: c, pppdRefs };
}

function parseDaemon(c: Collector, table: TomlTable): DaemonConfig {
  const r = new TableReader(c, { table: "daemon" }, table, DAEMON_KEYS, {
    defaultPort: CONFIG_DEFAULTS.udpPort,
  });
  r.readAll();
  return compact({
    socket: r.read("socket"),
    socketGroup: r.read("socket_group"),
    metrics: r.read("metrics"),
    hookTimeoutMs: r.read("hook_timeout") ?? CONFIG_DEFAULTS.hookTimeoutMs,
  });
}

function checkName(c: Collector, where: Where, what: "tunnel" | "session", name: string): void {
  // deno-lint-ignore no-control-regex
  if (name === "" || /[\x00-\x1f\x7f]/.test(name)) {
    c.add(
      where,
      undefined,
      `invalid ${what} name: expected a non-empty name without control characters`,
    );
  }
}

function parseTunnel(
  c: Collector,
  name: string,
  table: TomlTable,
  opts: ConfigOptions,
  pppdRefs: PppdRef[],
): TunnelEntry {
  const where: Where = { tunnel: name };
  checkName(c, where, "tunnel", name);
  const r = new TableReader(c, where, table, TUNNEL_KEYS, {
    defaultPort: CONFIG_DEFAULTS.udpPort,
    tunnel: name,
  });

  // Mode: explicit, or from the personality's default and the keys present.
  const modeKey = r.read("mode");
  const hello = (r.read("hello_timeout") ?? 0) > 0;
  const defaultMode = opts.defaultMode ?? "auto";
  const mode: TunnelMode = modeKey ??
    (defaultMode === "auto"
      ? (r.has("ptid") ? (hello ? "quiescent" : "static") : "dynamic")
      : defaultMode === "static"
      ? (hello ? "quiescent" : "static")
      : defaultMode);

  // Version: explicit, else L2TPv2 for dynamic tunnels that could be L2TPv2 (UDP, no Ethernet
  // pseudowire), L2TPv3 otherwise.
  const versionKey = r.read("version");
  const encap = r.read("encap") ?? "udp";
  const sessionTables = isTable(table.session) ? Object.values(table.session) : [];
  const wantsEth = sessionTables.some((v) =>
    isTable(v) && (v.pseudowire === "eth" || v.pseudowire === "eth_vlan")
  );
  const version: 2 | 3 = versionKey !== undefined
    ? (versionKey === "l2tpv2" ? 2 : 3)
    : (mode === "dynamic" && encap === "udp" && !wantsEth ? 2 : 3);
  const versionKnown = !r.bad.has("version");
  const versionWhy = versionKey === undefined
    ? ` (version defaults to l2tpv${version} for ${mode} tunnels)`
    : "";

  // Every other key, in the tunnel's context.
  r.context.version = versionKnown ? version : undefined;
  r.context.defaultPort = encap === "ip" ? 0 : CONFIG_DEFAULTS.udpPort;
  r.readAll();
  const local = r.read("local");
  const peer = r.read("peer");
  const family = checkEndpoints(r, encap, local, peer);
  const role = mode === "dynamic" ? (r.read("role") ?? "lac") : undefined;
  const ctx: RuleContext = { mode, version, versionKnown, versionWhy, encap, family, role };
  r.check(ctx);
  checkTunnel(r, ctx);

  // The effective settings. Checksum defaults are only known once the address family is; with
  // both addresses given as host names, only what the file sets is kept.
  const secret = r.value("secret");
  const lac = role === "lac";
  const redial = r.value("redial");
  const redialMs = r.value("redial_timeout");
  const framingCaps = r.value("framing_caps");
  const tunnel: TunnelEntry = compact({
    name,
    mode,
    version,
    encap,
    local: local?.endpoint,
    peer: peer?.endpoint,
    tid: r.value("tid"),
    ptid: r.value("ptid"),
    windowSize: opts.defaultWindowSize !== undefined && !r.read("window_size") && mode !== "static"
      ? opts.defaultWindowSize
      : r.value("window_size"),
    helloTimeoutMs: r.value("hello_timeout"),
    retryTimeoutMs: r.value("retry_timeout"),
    maxRetries: version === 2 && opts.defaultMaxRetriesV2 !== undefined &&
        !r.read("max_retries") && mode !== "static"
      ? opts.defaultMaxRetriesV2
      : r.value("max_retries"),
    hostName: r.value("host_name"),
    framingCaps: framingCaps && [...framingCaps],
    managed: r.value("managed") ?? !(mode === "static" && version === 3),
    udpChecksum: r.value("udp_checksum") ??
      (encap === "udp" && family === "ipv4" ? false : undefined),
    udp6ZeroChecksumTx: r.value("udp6_zero_checksum_tx") ??
      (encap === "udp" && family === "ipv6" ? false : undefined),
    udp6ZeroChecksumRx: r.value("udp6_zero_checksum_rx") ??
      (encap === "udp" && family === "ipv6" ? false : undefined),
    role,
    debug: r.value("debug"),
    secret,
    hideAvps: r.value("hide_avps"),
    messageDigest: r.value("message_digest") ??
      (version === 3 && secret !== undefined ? "md5" : undefined),
    routerId: r.value("router_id"),
    acceptAnyPeer: r.value("accept_any_peer"),
    maxSessions: r.value("max_sessions"),
    maxTunnels: r.value("max_tunnels"),
    // `redial = true` waits 30 s (xl2tpd's default); a redial_timeout alone implies redial.
    redialTimeoutMs: lac && redial !== false && (redial === true || redialMs !== undefined)
      ? (redialMs ?? 30_000)
      : undefined,
    maxRedials: lac && redial !== false ? r.value("max_redials") : undefined,
    onUp: r.value("on_up"),
    onDown: r.value("on_down"),
    sessions: [],
  });
  const unresolved: ("local" | "peer")[] = [];
  if (local?.kind === "hostname") unresolved.push("local");
  if (peer?.kind === "hostname") unresolved.push("peer");
  if (unresolved.length > 0) tunnel.unresolved = unresolved;

  for (const [sname, value] of Object.entries(r.value("session") ?? {})) {
    if (!isTable(value)) {
      c.add(
        where,
        "session",
        `${quote(sname)} (${describe(value)}) is not a session; sessions are named ` +
          `tables such as [tunnel.${tableKey(name)}.session.s1]`,
      );
      continue;
    }
    tunnel.sessions.push(parseSession(c, tunnel, ctx, sname, value, pppdRefs));
  }
  return tunnel;
}

function parseSession(
  c: Collector,
  tunnel: TunnelEntry,
  tunnelCtx: RuleContext,
  name: string,
  table: TomlTable,
  pppdRefs: PppdRef[],
): SessionEntry {
  const where: Where = { tunnel: tunnel.name, session: name };
  checkName(c, where, "session", name);
  const r = new TableReader(c, where, table, SESSION_KEYS, {
    version: tunnelCtx.versionKnown ? tunnel.version : undefined,
    defaultPort: 0,
    tunnel: tunnel.name,
  });
  r.readAll();
  const pseudowire = r.read("pseudowire") ?? (tunnel.version === 2 ? "ppp" : "eth");
  r.check({ ...tunnelCtx, pseudowire });

  const seqnum = r.value("seqnum");
  const sendSeqnum = r.value("send_seqnum") ?? seqnum ?? false;
  const recvSeqnum = r.value("recv_seqnum") ?? seqnum ?? false;
  const cookie = r.value("cookie");
  const peerCookie = r.value("peer_cookie");
  const session: SessionEntry = compact({
    name,
    sid: r.value("sid"),
    psid: r.value("psid"),
    pseudowire,
    sendSeqnum,
    recvSeqnum,
    reorderTimeoutMs: r.value("reorder_timeout"),
    cookie: cookie !== undefined && cookie.length > 0 ? cookie : undefined,
    peerCookie: peerCookie !== undefined && peerCookie.length > 0 ? peerCookie : undefined,
    interfaceName: r.value("interface_name"),
    l2specType: sequencingSublayer(r, tunnel.version, sendSeqnum, recvSeqnum),
    pppdArgs: r.value("pppd_args"),
    mtu: r.value("mtu"),
    lnsMode: r.value("lns_mode"),
    debug: r.value("debug"),
    pppoeSessionId: r.value("pppoe_session_id"),
    pppoePeerMac: r.value("pppoe_peer_mac"),
    remoteEndId: r.value("remote_end_id"),
    callType: r.value("call_type"),
    onUp: r.value("on_up"),
    onDown: r.value("on_down"),
  });
  if (session.pppdArgs !== undefined) {
    pppdRefs.push({ tunnel: tunnel.name, session: name, path: session.pppdArgs, target: session });
  }
  return session;
}
