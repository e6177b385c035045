/**
 * kpppoed's configuration: go-l2tp's kpppoed.toml, read unchanged, with our additions in the
 * same flat snake_case style, turned into a validated {@linkcode KpppoedConfig}.
 *
 * go-l2tp's keys, at the top level: `ac_name` (the AC-Name tag, default `"kpppoed"`),
 * `interface_name` (the Ethernet interface, required), `services` (the Service-Names offered,
 * at least one) and `lns_ipaddr` (the LNS, `"host:port"`, port 1701 by default). Ours:
 *
 * - `lns_ipaddrs = ["a:1701", "b"]`: several LNS, tried in order (the next one when a tunnel to
 *   one cannot be set up), instead of `lns_ipaddr`: a table sets one of the two, not both;
 * - `max_sessions`: most PPPoE sessions at once (default 4096), and `max_sessions_per_mac`:
 *   most of one subscriber MAC address (default 4);
 * - the settings of the L2TPv2 tunnels to the LNS, l2tpd.toml's tunnel keys with their
 *   meaning and defaults: `secret`, `hide_avps`, `host_name`, `hello_timeout`, `retry_timeout`,
 *   `max_retries`, `window_size`;
 * - `[service.NAME]` tables, one for a service of `services` that goes elsewhere: its own
 *   `lns_ipaddr` or `lns_ipaddrs`, and any of the tunnel keys; what it does not set comes from
 *   the top level. Every service needs an LNS, its own or the top level's.
 *
 * ```toml
 * ac_name = "ac1.example.net"
 * interface_name = "eth1"
 * services = ["internet", "voip"]
 * lns_ipaddrs = ["192.0.2.1:1701", "192.0.2.2:1701"]
 * secret = "s3cret"
 * hello_timeout = 60000
 *
 * [service.voip]
 * lns_ipaddr = "198.51.100.9"
 * secret = "another-s3cret"
 * ```
 *
 * As in l2tpd.toml, unknown keys are an error with a "did you mean", every problem is reported
 * at once (naming the key, and the `[service.NAME]` table it is in), and a TOML syntax error
 * names the line and column.
 *
 * @example Usage
 * ```ts
 * import { formatKpppoedConfig, parseKpppoedConfig } from "./config.ts";
 * const config = parseKpppoedConfig(
 *   'interface_name = "eth0"\nservices = ["internet"]\nlns_ipaddr = "192.0.2.1"\n',
 * );
 * console.log(config.services[0].lns); // [{ address: "192.0.2.1", port: 1701 }]
 * console.log(formatKpppoedConfig(config));
 * ```
 *
 * @module
 */

import { Collector, ConfigError, type ConfigIssue, type Where } from "../config/issues.ts";
import { readToml } from "../config/parse.ts";
import { TableReader } from "../config/reader.ts";
import type { FormatOptions, Schema } from "../config/schema.ts";
import {
  compact,
  describe,
  isTable,
  nearest,
  quote,
  suggestion,
  tableKey,
} from "../config/text.ts";
import type { TomlTable } from "../config/text.ts";
import {
  KPPPOED_DEFAULTS,
  KPPPOED_KEYS,
  KPPPOED_SERVICE_KEYS,
  type KpppoedConfig,
  type KpppoedService,
  type KpppoedValues,
  LAC_CONTEXT,
  type LnsValues,
} from "./keys.ts";

export { KPPPOED_DEFAULTS, type KpppoedConfig, type KpppoedService };
// What the exports refer to, so that this module documents itself as an entry point. (The
// schema tables, KPPPOED_KEYS and KPPPOED_SERVICE_KEYS, are keys.ts's.)
export { ConfigError, type ConfigIssue } from "../config/issues.ts";
export type { FormatOptions } from "../config/schema.ts";
export type { Endpoint } from "../config/types.ts";

/**
 * An invalid kpppoed configuration: every problem, in {@linkcode ConfigError.issues}, and
 * "Cannot load kpppoed config FILE: ..." with one line per problem. A `ConfigError`, so that
 * code handling l2tpd's configuration errors handles these too.
 *
 * @example Usage
 * ```ts
 * import { KpppoedConfigError, parseKpppoedConfig } from "./config.ts";
 * try {
 *   parseKpppoedConfig('interface_name = "eth0"', "kpppoed.toml");
 * } catch (e) {
 *   if (e instanceof KpppoedConfigError) console.log(e.message);
 *   // Cannot load kpppoed config kpppoed.toml: 2 problems: ...
 * }
 * ```
 */
export class KpppoedConfigError extends ConfigError {
  /** Build the error for `file` from its issues (at least one). */
  constructor(file: string, issues: readonly ConfigIssue[]) {
    super(file, issues);
    this.name = "KpppoedConfigError";
    this.message = this.message.replace(/^Cannot load config /, "Cannot load kpppoed config ");
  }
}

/**
 * Parse and validate kpppoed configuration text.
 *
 * @param text TOML text.
 * @param file The file name to report in errors (default `<kpppoed config>`).
 * @returns The configuration, every default filled in.
 * @throws {KpppoedConfigError} listing every problem found.
 *
 * @example Usage
 * ```ts
 * import { parseKpppoedConfig } from "./config.ts";
 * // go-l2tp's example, verbatim.
 * const config = parseKpppoedConfig(`
 * ac_name = "MyAccessConcentrator.2000"
 * interface_name = "eth0"
 * services = [ "serviceA", "serviceB", "serviceC" ]
 * lns_ipaddr = "3.22.1.9:1701"
 * `);
 * console.log(config.acName, config.services.map((s) => s.name));
 * // MyAccessConcentrator.2000 [ "serviceA", "serviceB", "serviceC" ]
 * ```
 */
export function parseKpppoedConfig(
  text: string,
  file: string = "<kpppoed config>",
): KpppoedConfig {
  const c = new Collector();
  const config = parseText(c, text, file);
  if (c.issues.length > 0 || config === undefined) throw new KpppoedConfigError(file, c.issues);
  if (c.warnings.length > 0) config.warnings = [...c.warnings];
  return config;
}

/**
 * Read, parse and validate a kpppoed configuration file. With `checkSecretPermissions`, a file
 * holding a `secret` that its group or others may read gets a warning saying how to fix it.
 *
 * @param path The configuration file (kpppoed's default is `/etc/kpppoed/kpppoed.toml`).
 * @param options Whether to check the file's permissions.
 * @returns The configuration, every default filled in.
 * @throws {KpppoedConfigError} listing every problem found, or why the file cannot be read.
 *
 * @example Usage
 * ```ts
 * import { loadKpppoedConfig } from "./config.ts";
 * const file = await Deno.makeTempFile({ suffix: ".toml" });
 * await Deno.writeTextFile(
 *   file,
 *   'interface_name = "eth0"\nservices = ["internet"]\nlns_ipaddr = "192.0.2.1:1701"\n',
 * );
 * console.log((await loadKpppoedConfig(file)).interfaceName); // eth0
 * await Deno.remove(file);
 * ```
 */
export async function loadKpppoedConfig(
  path: string,
  options: { checkSecretPermissions?: boolean } = {},
): Promise<KpppoedConfig> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new KpppoedConfigError(path, [{ message: `cannot read the file: ${readErrorText(e)}` }]);
  }
  const config = parseKpppoedConfig(text, path);
  if (options.checkSecretPermissions === true && config.services.some((s) => s.secret)) {
    const mode = await Deno.stat(path).then((info) => info.mode, () => null);
    if (mode !== null && (mode & 0o044) !== 0) {
      const who = (mode & 0o004) !== 0 ? "others" : "its group";
      const octal = (mode & 0o7777).toString(8).padStart(4, "0");
      config.warnings = [
        ...config.warnings ?? [],
        `config ${path} holds a shared secret and is readable by ${who} (mode ${octal}): ` +
        `chmod 600 ${path}`,
      ];
    }
  }
  return config;
}

/**
 * The service a PPPoE client asks for (the Service-Name of its PADI or PADR): the one of that
 * name, or for an empty name (any service, RFC 2516 §5.1) the first one; `undefined` when this
 * access concentrator does not offer it.
 *
 * @param config The configuration.
 * @param requested The Service-Name tag's text.
 * @returns The service, with its LNS and tunnel settings.
 *
 * @example Usage
 * ```ts
 * import { parseKpppoedConfig, serviceFor } from "./config.ts";
 * const config = parseKpppoedConfig(
 *   'interface_name = "eth0"\nservices = ["a", "b"]\nlns_ipaddr = "192.0.2.1"\n',
 * );
 * console.log(serviceFor(config, "")?.name, serviceFor(config, "b")?.name, serviceFor(config, "c"));
 * // a b undefined
 * ```
 */
export function serviceFor(config: KpppoedConfig, requested: string): KpppoedService | undefined {
  if (requested === "") return config.services[0];
  return config.services.find((s) => s.name === requested);
}

/**
 * The effective configuration as TOML: the top-level keys, then a `[service.NAME]` table for
 * every service with its LNS and tunnel settings written out. It parses back to an equal
 * configuration with `showSecrets`; without it (the default) every `secret` prints as
 * `"<hidden>"`.
 *
 * @param config The configuration.
 * @param options Whether to show secrets.
 * @returns TOML text.
 *
 * @example Usage
 * ```ts
 * import { formatKpppoedConfig, parseKpppoedConfig } from "./config.ts";
 * const config = parseKpppoedConfig(
 *   'interface_name = "eth0"\nservices = ["internet"]\nlns_ipaddr = "192.0.2.1"\nsecret = "x"\n',
 *   "kpppoed.toml",
 * );
 * console.log(formatKpppoedConfig(config).includes('secret = "<hidden>"')); // true
 * ```
 */
export function formatKpppoedConfig(config: KpppoedConfig, options: FormatOptions = {}): string {
  const out = [`# Effective kpppoed configuration of ${config.file.replaceAll("\n", " ")}`];
  for (const w of config.warnings ?? []) out.push(`# warning: ${w.replaceAll("\n", " ")}`);
  out.push("", ...lines(KPPPOED_KEYS, config, options));
  for (const s of config.services) {
    out.push("", `[service.${tableKey(s.name)}]`, ...lines(KPPPOED_SERVICE_KEYS, s, options));
  }
  return out.join("\n") + "\n";
}

function lines<V, E>(schema: Schema<V, E>, entry: E, options: FormatOptions): string[] {
  const out: string[] = [];
  for (const [key, spec] of Object.entries<Schema<V, E>[keyof V]>(schema)) {
    const value = spec.print?.(entry, options);
    if (value !== undefined) out.push(`${key} = ${value}`);
  }
  return out;
}

// ---- parsing ----------------------------------------------------------------------------------

function parseText(c: Collector, text: string, file: string): KpppoedConfig | undefined {
  const doc = readToml(c, text);
  if (doc === undefined) return undefined;

  const top = reader(c, {}, doc, KPPPOED_KEYS);
  const names = top.value("services") ?? [];
  let acName = top.value("ac_name") ?? KPPPOED_DEFAULTS.acName;
  if (acName === "") {
    top.warn("ac_name", `empty: the AC-Name is "${KPPPOED_DEFAULTS.acName}", as in go-l2tp`);
    acName = KPPPOED_DEFAULTS.acName;
  }
  const own = serviceReaders(c, top, names);
  checkLnsKeys(top);
  const lacking: string[] = [];
  const services = names.map((name) => {
    const service = effectiveService(name, top, own.get(name));
    if (service.lns.length === 0) lacking.push(name);
    return service;
  });
  reportMissingLns(top, own, names, lacking);
  return {
    file,
    acName,
    interfaceName: top.value("interface_name") ?? "",
    services,
    maxSessions: top.value("max_sessions") ?? KPPPOED_DEFAULTS.maxSessions,
    maxSessionsPerMac: top.value("max_sessions_per_mac") ?? KPPPOED_DEFAULTS.maxSessionsPerMac,
  };
}

/** A reader of one table, checked in the LAC's context; unknown keys get kpppoed's hints. */
function reader<V>(
  c: Collector,
  where: Where,
  table: TomlTable,
  schema: Schema<V, unknown>,
): TableReader<V> {
  const known = Object.keys(schema);
  const kept: TomlTable = {};
  for (const [key, value] of Object.entries(table)) {
    if (known.includes(key)) kept[key] = value;
    else c.add(where, key, unknownKeyMessage(key, known, where));
  }
  const r = new TableReader(c, where, kept, schema, { defaultPort: KPPPOED_DEFAULTS.lnsPort });
  r.check(LAC_CONTEXT);
  return r;
}

function unknownKeyMessage(key: string, known: readonly string[], where: Where): string {
  if (where.table !== undefined && Object.hasOwn(KPPPOED_KEYS, key)) {
    return `${quote(key)} is a top-level key: put it before the first [service.NAME] table`;
  }
  if (key === "tunnel") {
    return "kpppoed.toml has no [tunnel.NAME] tables: kpppoed opens the tunnels to the LNS " +
      "itself; set lns_ipaddr (or lns_ipaddrs) and the tunnel keys here";
  }
  if (key === "peer") return 'the LNS is lns_ipaddr = "host:port" in kpppoed.toml';
  const near = nearest(key, known);
  if (near !== undefined) return `unknown key; did you mean ${quote(near)}?`;
  return `unknown key; expected one of ${known.join(", ")}`;
}

/** Read the `[service.NAME]` tables: each must name a service of `services`. */
function serviceReaders(
  c: Collector,
  top: TableReader<KpppoedValues>,
  names: readonly string[],
): Map<string, TableReader<LnsValues>> {
  const out = new Map<string, TableReader<LnsValues>>();
  for (const [name, table] of Object.entries(top.value("service") ?? {})) {
    const where: Where = { table: `service.${tableKey(name)}` };
    if (!isTable(table)) {
      c.add(
        {},
        "service",
        `${quote(name)} (${describe(table)}) is not a service table; services are named tables ` +
          `such as [service.${tableKey(name)}]`,
      );
      continue;
    }
    if (!top.bad.has("services") && !names.includes(name)) {
      c.add(
        where,
        undefined,
        `${quote(name)} is not one of services: add it there, or name the table after one` +
          suggestion(name, names),
      );
    }
    const r = reader(c, where, table, KPPPOED_SERVICE_KEYS);
    checkLnsKeys(r);
    out.set(name, r);
  }
  return out;
}

/** What the LNS helpers use of a reader: the top level's, or a `[service.NAME]` table's. */
type LnsReader = Pick<TableReader<LnsValues>, "has" | "value" | "fail" | "bad">;

/** A table sets lns_ipaddr or lns_ipaddrs, not both. */
function checkLnsKeys(r: LnsReader): void {
  if (r.has("lns_ipaddr") && r.has("lns_ipaddrs")) {
    r.fail(
      "lns_ipaddrs",
      "set lns_ipaddr (one LNS) or lns_ipaddrs (several, tried in order), not both: put every " +
        "address in lns_ipaddrs",
    );
  }
}

/** The LNS list a table sets: lns_ipaddr, or lns_ipaddrs; undefined when it sets neither. */
function lnsOf(r: LnsReader): KpppoedService["lns"] | undefined {
  if (!r.has("lns_ipaddr") && !r.has("lns_ipaddrs")) return undefined;
  const one = r.value("lns_ipaddr");
  const many = r.value("lns_ipaddrs");
  return (one !== undefined ? [one] : many ?? []).map((p) => ({ ...p.endpoint }));
}

/** A service's settings: its own table's, else the top level's, else the defaults. */
function effectiveService(
  name: string,
  top: LnsReader,
  own: LnsReader | undefined,
): KpppoedService {
  const value = <K extends keyof LnsValues>(key: K): LnsValues[K] | undefined =>
    own?.has(key) ? own.value(key) : top.value(key);
  const secret = value("secret");
  const hideAvps = value("hide_avps") ?? false;
  const hideAt = own?.has("hide_avps") ? own : top;
  if (hideAvps && secret === undefined && !hideAt.bad.has("hide_avps")) {
    hideAt.fail(
      "hide_avps",
      `hidden AVPs are hidden with the shared secret: set secret too${
        own !== undefined ? "" : ` (service ${quote(name)} has none)`
      }`,
    );
  }
  return compact({
    name,
    lns: (own && lnsOf(own)) ?? lnsOf(top) ?? [],
    secret,
    hideAvps,
    hostName: value("host_name"),
    helloTimeoutMs: value("hello_timeout") ?? 0,
    retryTimeoutMs: value("retry_timeout") ?? 0,
    maxRetries: value("max_retries") ?? 0,
    windowSize: value("window_size") ?? 0,
  });
}

/** Every service needs an LNS: its own, or the top level's. */
function reportMissingLns(
  top: LnsReader,
  own: ReadonlyMap<string, LnsReader>,
  names: readonly string[],
  lacking: readonly string[],
): void {
  const anyBad = (r: LnsReader): boolean => r.bad.has("lns_ipaddr") || r.bad.has("lns_ipaddrs");
  if (anyBad(top)) return;
  const missing = lacking.filter((name) => {
    const r = own.get(name);
    return r === undefined || !anyBad(r);
  });
  const none = own.size === 0 && !top.has("lns_ipaddr") && !top.has("lns_ipaddrs");
  if (missing.length === 0 && !(none && names.length === 0)) return;
  const example = 'e.g. lns_ipaddr = "192.0.2.1:1701" (port 1701 by default), or lns_ipaddrs = ' +
    "[...] for several LNS tried in order";
  if (none) {
    top.fail("lns_ipaddr", `missing: the LNS to tunnel the PPPoE sessions to, ${example}`);
    return;
  }
  const which = missing.length === 1
    ? `service ${quote(missing[0])} has`
    : `services ${missing.map(quote).join(", ")} have`;
  top.fail(
    "lns_ipaddr",
    `missing: ${which} no LNS: set lns_ipaddr here (for every service without its own), or in ` +
      `${missing.length === 1 ? `[service.${tableKey(missing[0])}]` : "their [service.NAME]"}; ` +
      example,
  );
}

function readErrorText(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "file not found";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.IsADirectory) return "is a directory";
  if (e instanceof Error) return e.message;
  return String(e);
}
