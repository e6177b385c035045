/**
 * Running xl2tpd (the Debian package's `/usr/sbin/xl2tpd`, 1.3.x) for interop tests and the
 * LAC/LNS benchmark: write its configuration and secrets file from typed options, start it in the
 * foreground (`-D`) with its own configuration, secrets, pid and control files in a directory of
 * its own, on the host or inside a network namespace (pass `spawn`, e.g. `Topology.spawn`), wait
 * for its log lines, stop it, and read what it said.
 *
 * xl2tpd sends a StopCCN for every tunnel when it gets SIGINT; on SIGTERM it does so only when it
 * uses the kernel's L2TP (its death handler), so {@linkcode Xl2tpd.stop} sends SIGINT by default,
 * then SIGKILL after a grace time. Every instance started is remembered until it exits;
 * {@linkcode stopAllXl2tpd} kills what is left (tests call it in `finally`).
 *
 * On a host without `/dev/ppp` (no ppp module) xl2tpd's pppd exits at once (code 4) and xl2tpd
 * then ends the call with a CDN. `stubPppd` runs xl2tpd in a private mount namespace
 * (`unshare -m`) where `/usr/sbin/pppd` is bind-mounted over by a stand-in that holds the call's
 * pty until xl2tpd closes it or kills it, so calls stay up; nothing outside that namespace sees
 * the stand-in. {@linkcode canStubPppd} says whether that works here (it needs root).
 *
 * The option names are xl2tpd.conf(5)'s.
 *
 * A system xl2tpd (the Debian package's service, on port 1701) is the operator's: nothing here
 * stops, signals or otherwise touches it. Every instance started here has its own configuration,
 * secrets, pid and control files in a temporary directory, and on the host a port of its own
 * ({@linkcode startXl2tpd} refuses 1701 there; inside a network namespace, given `spawn`, 1701 is
 * free); it is stopped by its process ID only, never by name (no `pkill`, no `killall`).
 *
 * @module
 */

const decoder = new TextDecoder();

/** The xl2tpd binary (`XL2TPD` in the environment overrides it). */
export const XL2TPD_BIN: string = Deno.env.get("XL2TPD") ?? "/usr/sbin/xl2tpd";

/** xl2tpd's default port: a system xl2tpd's, which test instances on the host never use. */
const SYSTEM_PORT = 1701;

/** The pppd path compiled into xl2tpd (what `stubPppd` covers). */
const PPPD_PATH = "/usr/sbin/pppd";

/**
 * Whether xl2tpd is installed (the interop tests are ignored without it).
 *
 * @returns True when {@linkcode XL2TPD_BIN} is a file.
 *
 * @example Usage
 * ```ts
 * import { xl2tpdInstalled } from "./_xl2tpd.ts";
 * console.log(xl2tpdInstalled());
 * ```
 */
export function xl2tpdInstalled(): boolean {
  try {
    return Deno.statSync(XL2TPD_BIN).isFile;
  } catch {
    return false;
  }
}

let stubChecked: boolean | undefined;

/**
 * Whether xl2tpd can be given the stand-in pppd: `unshare -m` and a bind mount over
 * `/usr/sbin/pppd` work (root, and a kernel that allows mount namespaces).
 *
 * @returns True when the stand-in can be used.
 *
 * @example Usage
 * ```ts ignore
 * import { canStubPppd } from "./_xl2tpd.ts";
 * console.log(await canStubPppd());
 * ```
 */
export async function canStubPppd(): Promise<boolean> {
  if (stubChecked !== undefined) return stubChecked;
  try {
    const out = await new Deno.Command("unshare", {
      args: [
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        `test -f ${PPPD_PATH} && mount --bind /bin/true ${PPPD_PATH}`,
      ],
      stdout: "null",
      stderr: "null",
    }).output();
    stubChecked = out.success;
  } catch {
    stubChecked = false;
  }
  return stubChecked;
}

/**
 * The `[global]` section.
 *
 * @example Usage
 * ```ts
 * import type { Xl2tpdGlobal } from "./_xl2tpd.ts";
 * const g: Xl2tpdGlobal = { listenAddr: "127.0.0.3", port: 17013, debug: true };
 * ```
 */
export interface Xl2tpdGlobal {
  /** `listen-addr`: the address its one UDP socket binds to (default any). */
  listenAddr?: string;
  /** `port`: its UDP port, also the source port of a LAC's tunnels (default 1701). */
  port?: number;
  /** `access control`: accept only the LACs listed in `lac` ranges. */
  accessControl?: boolean;
  /** `force userspace`: do not use the kernel's L2TP even when it is there. */
  forceUserspace?: boolean;
  /** `max retries` of a control message. */
  maxRetries?: number;
  /** `debug avp`, `debug state`, `debug tunnel` (the log lines the tests read). */
  debug?: boolean;
}

/**
 * Settings shared by `[lns ...]` and `[lac ...]` sections.
 *
 * @example Usage
 * ```ts
 * import type { Xl2tpdCommon } from "./_xl2tpd.ts";
 * const c: Xl2tpdCommon = { hostname: "xl2tpd", challenge: true, hiddenBit: true };
 * ```
 */
export interface Xl2tpdCommon {
  /** `hostname`: the Host Name AVP it sends (and looks its secrets up by). */
  hostname?: string;
  /** `challenge`: authenticate the tunnel with the secrets file (Challenge AVPs). */
  challenge?: boolean;
  /** `hidden bit`: xl2tpd's AVP hiding switch (it adds Random Vector AVPs). */
  hiddenBit?: boolean;
  /** `length bit`: set the L bit on data packets. */
  lengthBit?: boolean;
  /** `require authentication` (PPP authentication of the peer, passed to pppd). */
  requireAuthentication?: boolean;
  /** `ppp debug`. */
  pppDebug?: boolean;
  /** `pppoptfile`: a file of pppd options. */
  pppoptfile?: string;
  /** `tunnel rws`: its control channel receive window. */
  tunnelRws?: number;
}

/**
 * An `[lns NAME]` section (`default` when no name is given).
 *
 * @example Usage
 * ```ts
 * import type { Xl2tpdLns } from "./_xl2tpd.ts";
 * const lns: Xl2tpdLns = { ipRange: "10.99.0.2-10.99.0.20", localIp: "10.99.0.1" };
 * ```
 */
export interface Xl2tpdLns extends Xl2tpdCommon {
  /** Section name (default `default`). */
  name?: string;
  /** `ip range` handed to the LACs' PPP. */
  ipRange?: string;
  /** `local ip` of its PPP end. */
  localIp?: string;
  /** `assign ip` (default yes; no needs no `ip range`). */
  assignIp?: boolean;
  /** `lac`: the LAC addresses accepted by this section (with access control). */
  lac?: string;
}

/**
 * An `[lac NAME]` section.
 *
 * @example Usage
 * ```ts
 * import type { Xl2tpdLac } from "./_xl2tpd.ts";
 * const lac: Xl2tpdLac = { name: "ours", lns: "127.0.0.4:17014", autodial: true };
 * ```
 */
export interface Xl2tpdLac extends Xl2tpdCommon {
  /** Section name (what `c NAME` on the control file dials). */
  name: string;
  /** `lns`: the LNS, `host` or `host:port`. */
  lns: string;
  /** `autodial`: open the tunnel and one call at start-up. */
  autodial?: boolean;
  /** `redial` after a disconnect (default no here). */
  redial?: boolean;
  /** `redial timeout`: seconds before a redial (xl2tpd's default 30; needs `redial`). */
  redialTimeout?: number;
  /** `max redials`: give up redialling after so many tries (needs `redial`). */
  maxRedials?: number;
  /** `local ip` of its PPP end. */
  localIp?: string;
  /** `remote ip` of its PPP peer. */
  remoteIp?: string;
}

/**
 * A whole xl2tpd configuration.
 *
 * @example Usage
 * ```ts
 * import type { Xl2tpdConfig } from "./_xl2tpd.ts";
 * const c: Xl2tpdConfig = { global: { port: 17013 }, lns: [{ assignIp: false }] };
 * ```
 */
export interface Xl2tpdConfig {
  /** `[global]`. */
  global?: Xl2tpdGlobal;
  /** `[lns ...]` sections. */
  lns?: Xl2tpdLns[];
  /** `[lac ...]` sections. */
  lac?: Xl2tpdLac[];
}

/**
 * One line of xl2tpd's secrets file (l2tp-secrets(5)): its own host name, the peer's host name
 * (`*` matches any) and the secret.
 *
 * @example Usage
 * ```ts
 * import type { Xl2tpdSecret } from "./_xl2tpd.ts";
 * const s: Xl2tpdSecret = { us: "*", them: "*", secret: "s3cret" };
 * ```
 */
export interface Xl2tpdSecret {
  /** Its own host name, or `*` (default). */
  us?: string;
  /** The peer's host name, or `*` (default). */
  them?: string;
  /** The shared secret (no white space). */
  secret: string;
}

function yesNo(v: boolean): string {
  return v ? "yes" : "no";
}

function commonLines(c: Xl2tpdCommon): string[] {
  const lines: string[] = [];
  if (c.hostname !== undefined) lines.push(`hostname = ${c.hostname}`);
  if (c.challenge !== undefined) lines.push(`challenge = ${yesNo(c.challenge)}`);
  if (c.hiddenBit !== undefined) lines.push(`hidden bit = ${yesNo(c.hiddenBit)}`);
  if (c.lengthBit !== undefined) lines.push(`length bit = ${yesNo(c.lengthBit)}`);
  if (c.requireAuthentication !== undefined) {
    lines.push(`require authentication = ${yesNo(c.requireAuthentication)}`);
  }
  if (c.pppDebug !== undefined) lines.push(`ppp debug = ${yesNo(c.pppDebug)}`);
  if (c.pppoptfile !== undefined) lines.push(`pppoptfile = ${c.pppoptfile}`);
  if (c.tunnelRws !== undefined) lines.push(`tunnel rws = ${c.tunnelRws}`);
  return lines;
}

/**
 * The text of an xl2tpd.conf for `config`.
 *
 * @param config Sections and their settings.
 * @returns The file's text.
 *
 * @example Usage
 * ```ts
 * import { xl2tpdConf } from "./_xl2tpd.ts";
 * console.log(xl2tpdConf({ global: { port: 17013 }, lns: [{ assignIp: false }] }));
 * ```
 */
export function xl2tpdConf(config: Xl2tpdConfig): string {
  const out: string[] = ["[global]"];
  const g = config.global ?? {};
  if (g.listenAddr !== undefined) out.push(`listen-addr = ${g.listenAddr}`);
  if (g.port !== undefined) out.push(`port = ${g.port}`);
  if (g.accessControl !== undefined) out.push(`access control = ${yesNo(g.accessControl)}`);
  if (g.forceUserspace !== undefined) out.push(`force userspace = ${yesNo(g.forceUserspace)}`);
  if (g.maxRetries !== undefined) out.push(`max retries = ${g.maxRetries}`);
  if (g.debug) {
    for (const k of ["avp", "state", "tunnel"]) out.push(`debug ${k} = yes`);
  }
  for (const lns of config.lns ?? []) {
    out.push("", `[lns ${lns.name ?? "default"}]`);
    if (lns.ipRange !== undefined) out.push(`ip range = ${lns.ipRange}`);
    if (lns.localIp !== undefined) out.push(`local ip = ${lns.localIp}`);
    if (lns.assignIp !== undefined) out.push(`assign ip = ${yesNo(lns.assignIp)}`);
    if (lns.lac !== undefined) out.push(`lac = ${lns.lac}`);
    out.push(...commonLines(lns));
  }
  for (const lac of config.lac ?? []) {
    out.push("", `[lac ${lac.name}]`, `lns = ${lac.lns}`);
    out.push(`autodial = ${yesNo(lac.autodial ?? false)}`);
    out.push(`redial = ${yesNo(lac.redial ?? false)}`);
    if (lac.redialTimeout !== undefined) out.push(`redial timeout = ${lac.redialTimeout}`);
    if (lac.maxRedials !== undefined) out.push(`max redials = ${lac.maxRedials}`);
    if (lac.localIp !== undefined) out.push(`local ip = ${lac.localIp}`);
    if (lac.remoteIp !== undefined) out.push(`remote ip = ${lac.remoteIp}`);
    out.push(...commonLines(lac));
  }
  return out.join("\n") + "\n";
}

/**
 * The text of an xl2tpd secrets file.
 *
 * @param secrets One entry per line.
 * @returns The file's text.
 *
 * @example Usage
 * ```ts
 * import { xl2tpdSecrets } from "./_xl2tpd.ts";
 * console.log(xl2tpdSecrets([{ secret: "s3cret" }])); // "* * s3cret\n"
 * ```
 */
export function xl2tpdSecrets(secrets: readonly Xl2tpdSecret[]): string {
  return secrets.map((s) => `${s.us ?? "*"} ${s.them ?? "*"} ${s.secret}\n`).join("");
}

/**
 * Options of {@linkcode startXl2tpd}.
 *
 * @example Usage
 * ```ts
 * import type { Xl2tpdOptions } from "./_xl2tpd.ts";
 * const o: Xl2tpdOptions = { config: { global: { port: 17013 }, lns: [{ assignIp: false }] } };
 * ```
 */
export interface Xl2tpdOptions {
  /** The configuration. */
  config: Xl2tpdConfig;
  /** Lines of the secrets file (default: an empty file). */
  secrets?: readonly Xl2tpdSecret[];
  /** Starts the command (default: on this host); `Topology.spawn` runs it in a namespace. */
  spawn?: (argv: string[]) => Deno.ChildProcess;
  /**
   * Give xl2tpd a stand-in pppd (see the module documentation; host only): `true` or `"hold"`
   * holds each call's pty until xl2tpd closes it; `"fail"` exits at once with code 4, as pppd does
   * without `/dev/ppp`, whatever this host has.
   */
  stubPppd?: boolean | "hold" | "fail";
  /** Wait until it listens (default 10000 ms; 0: do not wait). */
  readyTimeoutMs?: number;
}

/**
 * A running xl2tpd.
 *
 * @example Usage
 * ```ts ignore
 * import { startXl2tpd } from "./_xl2tpd.ts";
 * await using xl = await startXl2tpd({ config: { global: { port: 17013 }, lns: [{}] } });
 * await xl.waitFor(/Connection established/);
 * ```
 */
export interface Xl2tpd extends AsyncDisposable {
  /** Its process ID. */
  readonly pid: number;
  /** The directory with its files (configuration, secrets, pid, control). */
  readonly dir: string;
  /** The control file (a FIFO it reads commands from, xl2tpd-control(8)). */
  readonly controlFile: string;
  /** Its log (stdout and stderr) so far. */
  output(): string;
  /** Whether it has exited. */
  exited(): boolean;
  /**
   * Wait for a log line matching `re` (searching the whole log from `from`, a character offset).
   * Rejects on time-out or if it exits first.
   */
  waitFor(re: RegExp, timeoutMs?: number, from?: number): Promise<RegExpMatchArray>;
  /** Write one command to its control file (e.g. `c NAME` to dial an `[lac NAME]`). */
  control(command: string): Promise<void>;
  /**
   * Stop it: `signal` (default SIGINT: a StopCCN for every tunnel), SIGKILL after `graceMs`
   * (default 5000), then remove its directory.
   */
  stop(signal?: Deno.Signal, graceMs?: number): Promise<Deno.CommandStatus>;
}

const running = new Set<Xl2tpd>();

/** Stand-ins for pppd: hold the call's pty (its first argument) until closed or killed; fail. */
const STUB_PPPD = {
  hold: `#!/bin/sh
# Stand-in for pppd (tests): keep the call's pty open until xl2tpd closes it or kills us.
exec cat "$1" >/dev/null 2>&1 </dev/null
`,
  fail: `#!/bin/sh
# Stand-in for pppd (tests): fail as pppd does without /dev/ppp.
exit 4
`,
};

/**
 * Start xl2tpd with `options` in a directory of its own, in the foreground.
 *
 * @param options Configuration, secrets, where to run it.
 * @returns The running instance, once it listens.
 * @throws {Error} "Cannot start xl2tpd: ..." when it exits or does not listen in time, or, on
 *   the host (no `spawn`), when `config.global.port` is not set or is 1701, the port of a
 *   system xl2tpd.
 *
 * @example Usage
 * ```ts ignore
 * import { startXl2tpd } from "./_xl2tpd.ts";
 * const xl = await startXl2tpd({
 *   config: { global: { listenAddr: "127.0.0.3", port: 17013 }, lns: [{ assignIp: false }] },
 * });
 * await xl.stop();
 * ```
 */
export async function startXl2tpd(options: Xl2tpdOptions): Promise<Xl2tpd> {
  const port = options.config.global?.port;
  if (options.spawn === undefined && (port === undefined || port === SYSTEM_PORT)) {
    throw new Error(
      `Cannot start xl2tpd: on the host a test instance needs a port of its own ` +
        `(config.global.port), not ${SYSTEM_PORT}, which a system xl2tpd may hold`,
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "xl2tpd-" });
  const conf = `${dir}/xl2tpd.conf`;
  const secrets = `${dir}/l2tp-secrets`;
  const pidFile = `${dir}/xl2tpd.pid`;
  const controlFile = `${dir}/l2tp-control`;
  await Deno.writeTextFile(conf, xl2tpdConf(options.config));
  await Deno.writeTextFile(secrets, xl2tpdSecrets(options.secrets ?? []), { mode: 0o600 });
  let argv = [XL2TPD_BIN, "-D", "-c", conf, "-s", secrets, "-p", pidFile, "-C", controlFile];
  if (options.stubPppd) {
    const stub = `${dir}/pppd`;
    await Deno.writeTextFile(stub, STUB_PPPD[options.stubPppd === "fail" ? "fail" : "hold"], {
      mode: 0o755,
    });
    argv = [
      "unshare",
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      `mount --bind "$0" ${PPPD_PATH} && exec "$@"`,
      stub,
      ...argv,
    ];
  }
  const child = options.spawn ? options.spawn(argv) : new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  let exited = false;
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const w of [...waiters]) w();
  };
  const collect = async (stream: ReadableStream<Uint8Array>): Promise<void> => {
    try {
      for await (const chunk of stream) {
        text += decoder.decode(chunk, { stream: true });
        wake();
      }
    } catch {
      // cancelled
    }
  };
  const streams = [child.stdout, child.stderr];
  const collected = Promise.all(streams.map(collect));
  const status = child.status.then((s) => {
    exited = true;
    wake();
    return s;
  });
  let stopped: Promise<Deno.CommandStatus> | undefined;

  const waitFor = (re: RegExp, timeoutMs = 10_000, from = 0): Promise<RegExpMatchArray> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const m = text.slice(from).match(re);
        if (m) {
          done();
          resolve(m);
        } else if (exited) {
          done();
          reject(new Error(`Cannot find ${re} in xl2tpd's log: it exited\n${text}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${re} from xl2tpd\n${text}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });

  const xl: Xl2tpd = {
    pid: child.pid,
    dir,
    controlFile,
    output: () => text,
    exited: () => exited,
    waitFor,
    control: async (command: string): Promise<void> => {
      // A FIFO: open for writing blocks until xl2tpd has it open for reading (it always has).
      await Deno.writeTextFile(controlFile, `${command}\n`);
    },
    stop: (signal: Deno.Signal = "SIGINT", graceMs = 5000): Promise<Deno.CommandStatus> => {
      stopped ??= (async () => {
        if (!exited) {
          try {
            child.kill(signal);
          } catch {
            // already gone
          }
          const timer = setTimeout(() => {
            try {
              child.kill("SIGKILL");
            } catch {
              // already gone
            }
          }, graceMs);
          await status;
          clearTimeout(timer);
        }
        const s = await status;
        // A pppd it started may still hold the pipes: do not wait for them for long.
        const t = setTimeout(() => {
          for (const st of streams) st.cancel().catch(() => {});
        }, 1000);
        await collected;
        clearTimeout(t);
        running.delete(xl);
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        return s;
      })();
      return stopped;
    },
    [Symbol.asyncDispose]: async (): Promise<void> => {
      await xl.stop();
    },
  };
  running.add(xl);
  const readyMs = options.readyTimeoutMs ?? 10_000;
  if (readyMs > 0) {
    try {
      await waitFor(/Listening on IP address/, readyMs);
    } catch (e) {
      await xl.stop("SIGKILL");
      throw new Error(
        `Cannot start xl2tpd: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }
  return xl;
}

/**
 * Stop every xl2tpd started by {@linkcode startXl2tpd} that is still running (SIGINT, then
 * SIGKILL), each by its process ID: no other xl2tpd on the system is touched.
 *
 * @example Usage
 * ```ts ignore
 * import { stopAllXl2tpd } from "./_xl2tpd.ts";
 * await stopAllXl2tpd();
 * ```
 */
export async function stopAllXl2tpd(): Promise<void> {
  await Promise.all([...running].map((x) => x.stop("SIGINT", 2000)));
}

/**
 * The tunnel IDs in xl2tpd's "Connection established to ADDR, PORT.  Local: L, Remote: R" line.
 *
 * @param log xl2tpd's log.
 * @returns Its own tunnel ID and the peer's, from the last such line (undefined if none).
 *
 * @example Usage
 * ```ts
 * import { establishedTunnel } from "./_xl2tpd.ts";
 * const line = "Connection established to 127.0.0.2, 17012.  Local: 59156, Remote: 18570 (ref=0/0).";
 * console.log(establishedTunnel(line)); // { local: 59156, remote: 18570 }
 * ```
 */
export function establishedTunnel(log: string): { local: number; remote: number } | undefined {
  const all = [
    ...log.matchAll(/Connection established to [^ ]+ \d+\.\s+Local: (\d+), Remote: (\d+)/g),
  ];
  const m = all.at(-1);
  return m ? { local: Number(m[1]), remote: Number(m[2]) } : undefined;
}

/**
 * The call IDs in xl2tpd's "Call established with ADDR, ... Local: L, Remote: R" lines.
 *
 * @param log xl2tpd's log.
 * @returns Its own call ID and the peer's, one entry per call established.
 *
 * @example Usage
 * ```ts
 * import { establishedCalls } from "./_xl2tpd.ts";
 * const line = "Call established with 127.0.0.2, PID: 26742, Local: 9278, Remote: 38585, Serial: 1";
 * console.log(establishedCalls(line)); // [{ local: 9278, remote: 38585 }]
 * ```
 */
export function establishedCalls(log: string): { local: number; remote: number }[] {
  return [...log.matchAll(/Call established with [^,]+,.*?Local: (\d+), Remote: (\d+)/g)].map((
    m,
  ) => ({ local: Number(m[1]), remote: Number(m[2]) }));
}
