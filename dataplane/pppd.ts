/**
 * PPP pseudowires: one pppd process per L2TP session, attached to the kernel through a
 * PPPoL2TP socket and pppd's `pppol2tp` plugin.
 *
 * {@linkcode startPppd} opens a PPPoL2TP session socket connected to the tunnel socket and the
 * session's ids (the kernel creates the session on that connect unless one with the same id
 * already exists, in which case the socket attaches to it), then runs
 * `pppd plugin pppol2tp.so pppol2tp FD ... nodetach` with that fd inherited. pppd stays in the
 * foreground; its output is passed line by line to a callback and kept (the last lines) for
 * error reports. The ppp interface name is read from pppd's "Using interface NAME" line.
 *
 * Kernel behaviour (Linux 6.1, Debian's ppp 2.4.9), as the kernel tests show:
 *
 * - With the tunnel created over netlink with our socket (a managed tunnel), L2TPv2 needs no
 *   tunnel management PPPoL2TP socket (session 0): the netlink create already prepares the UDP
 *   socket. Opening one anyway makes a visible "session 0" in the kernel's session list, so we
 *   don't.
 * - The session may be created by the PPPoL2TP connect (v2 and v3) or over netlink first (pppd
 *   then attaches to it). A v3 session made by the connect has no L2-Specific Sublayer, so
 *   sequencing cannot work on it (the peer drops every frame); create L2TPv3 PPP sessions that
 *   use sequencing over netlink with the default sublayer, then start pppd.
 * - The kernel reports no interface name for PPP sessions; it comes from pppd's output.
 *
 * Lifetime: the PPPoL2TP socket is the session. Closing it (the last copy, ours and pppd's)
 * deletes the kernel session, so the handle closes its copy as soon as pppd exits, whatever the
 * reason, and {@linkcode PppdProcess.stop} ends pppd (SIGTERM, then SIGKILL after a bound).
 *
 * Paths: the pppd binary is `pppdPath`, else `$L2TPD_PPPD`, else `/usr/sbin/pppd`; the plugin is
 * `pluginPath`, else `$L2TPD_PPPD_PLUGIN`, else the newest `/usr/lib/pppd/VERSION/pppol2tp.so`.
 * Both come with Debian's `ppp` package.
 *
 * @module
 */

import type { Endpoint, L2tpVersion } from "./dataplane.ts";
import { openPppol2tpSocket, setInheritable } from "./socket.ts";

export type { Endpoint, L2tpVersion };

/** Default pppd binary. */
export const DEFAULT_PPPD_PATH = "/usr/sbin/pppd";

/** Directory whose version subdirectories hold pppd plugins (Debian layout). */
export const DEFAULT_PPPD_PLUGIN_DIR = "/usr/lib/pppd";

/** File name of pppd's PPPoL2TP plugin. */
export const PPPOL2TP_PLUGIN = "pppol2tp.so";

/** How long {@linkcode PppdProcess.stop} waits after SIGTERM before SIGKILL, by default. */
export const DEFAULT_STOP_TIMEOUT_MS = 8000;

/** How many of pppd's last output lines a handle keeps. */
const KEPT_LINES = 200;

/** What to tell an operator whose pppd or plugin is missing. */
const PACKAGE_HINT = `install the Debian package "ppp"`;

/**
 * pppd's documented exit statuses (pppd(8), "EXIT STATUS"), as short reasons.
 *
 * @example Usage
 * ```ts
 * import { PPPD_EXIT_REASONS } from "./pppd.ts";
 * console.log(PPPD_EXIT_REASONS[5]); // "terminated by a signal (SIGINT, SIGTERM or SIGHUP)"
 * ```
 */
export const PPPD_EXIT_REASONS: Readonly<Record<number, string>> = Object.freeze({
  0: "the link ended normally (terminated at the peer's request)",
  1: "fatal error (an essential system call failed or memory ran out)",
  2: "error in the options",
  3: "pppd is not setuid root and was not run by root",
  4: "the kernel does not support PPP (ppp_generic missing)",
  5: "terminated by a signal (SIGINT, SIGTERM or SIGHUP)",
  6: "the serial port could not be locked",
  7: "the serial port could not be opened",
  8: "the connect script failed",
  9: "the pty command could not be run",
  10: "PPP negotiation failed (no network protocol came up)",
  11: "the peer failed or refused to authenticate",
  12: "the link was idle too long",
  13: "the connect time limit was reached",
  14: "callback was negotiated",
  15: "the peer stopped answering LCP echo requests",
  16: "the link hung up (the L2TP session went away)",
  17: "serial loopback was detected",
  18: "the init script failed",
  19: "authentication to the peer failed",
});

/**
 * How pppd ended.
 *
 * @example Usage
 * ```ts
 * import type { PppdExit } from "./pppd.ts";
 * const e: PppdExit = { code: 10, signal: null, reason: "PPP negotiation failed" };
 * console.log(e.reason);
 * ```
 */
export interface PppdExit {
  /** Exit status (128 + signal number when killed by a signal, as Deno reports it). */
  code: number;
  /** The signal that killed it, or null when it exited. */
  signal: Deno.Signal | null;
  /** Readable reason: {@linkcode PPPD_EXIT_REASONS}, or the signal. */
  reason: string;
}

/**
 * Describe a pppd exit status.
 *
 * @param code The exit status.
 * @param signal The signal that killed pppd, if any.
 * @returns A readable reason, e.g. "PPP negotiation failed (no network protocol came up)".
 *
 * @example Usage
 * ```ts
 * import { pppdExitReason } from "./pppd.ts";
 * console.log(pppdExitReason(16)); // "the link hung up (the L2TP session went away)"
 * console.log(pppdExitReason(137, "SIGKILL")); // "killed by SIGKILL"
 * ```
 */
export function pppdExitReason(code: number, signal: Deno.Signal | null = null): string {
  if (signal !== null) return `killed by ${signal}`;
  return PPPD_EXIT_REASONS[code] ?? `unknown exit status ${code}`;
}

/**
 * What pppd needs to know about one L2TP session, besides the socket fd.
 *
 * @example Usage
 * ```ts
 * import type { PppdSessionArguments } from "./pppd.ts";
 * const a: PppdSessionArguments = { tunnelId: 1, sessionId: 2, lnsMode: true };
 * console.log(a);
 * ```
 */
export interface PppdSessionArguments {
  /** Our tunnel id (`pppol2tp_tunnel_id`, used by the plugin for its messages and hooks). */
  tunnelId: number;
  /** Our session id (`pppol2tp_session_id`). */
  sessionId: number;
  /** Act as LNS (`pppol2tp_lns_mode`): the LNS decides data sequencing (L2TPv2). */
  lnsMode?: boolean;
  /** Send data packets with sequence numbers (`pppol2tp_send_seq`). */
  sendSeq?: boolean;
  /** Drop received data packets without sequence numbers (`pppol2tp_recv_seq`). */
  recvSeq?: boolean;
  /** Reorder timeout in milliseconds (`pppol2tp_reorderto`); 0 or absent: no reordering. */
  reorderTimeoutMs?: number;
  /** Kernel debug mask (`pppol2tp_debug_mask`). */
  debugMask?: number;
  /** Name for the ppp interface (pppd's `ifname`); absent: pppd picks `pppN`. */
  ifname?: string;
  /** Further pppd arguments (the session's `pppd_args` file, split), appended last. */
  extraArgs?: readonly string[];
}

/**
 * Options of {@linkcode pppdArguments}: the session plus the fd and plugin path.
 *
 * @example Usage
 * ```ts
 * import type { PppdArgumentOptions } from "./pppd.ts";
 * const o: PppdArgumentOptions = {
 *   fd: 7, plugin: "/usr/lib/pppd/2.4.9/pppol2tp.so", tunnelId: 1, sessionId: 2,
 * };
 * console.log(o);
 * ```
 */
export interface PppdArgumentOptions extends PppdSessionArguments {
  /** The PPPoL2TP socket fd as pppd will see it. */
  fd: number;
  /** Path of the pppol2tp plugin. */
  plugin: string;
}

function checkInteger(what: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `Cannot build pppd arguments: ${what} ${value} is not an integer from ${min} to ${max}`,
    );
  }
}

/**
 * Build pppd's argument list for one session (pure; no file or process is touched).
 *
 * The order is: the plugin and its socket fd, the plugin's session options, `nodetach` (pppd
 * stays our child), `ifname` when given, then `extraArgs`, so an operator's `pppd_args` come
 * last.
 *
 * @param opts The fd, plugin path and session options.
 * @returns The arguments (without the program name).
 * @throws {RangeError} When an id, the fd, the reorder timeout or the debug mask is out of range,
 *   or the interface name is not a valid Linux interface name.
 *
 * @example Usage
 * ```ts
 * import { pppdArguments } from "./pppd.ts";
 * const args = pppdArguments({
 *   fd: 7, plugin: "/usr/lib/pppd/2.4.9/pppol2tp.so", tunnelId: 42, sessionId: 128,
 *   lnsMode: true, extraArgs: ["noauth"],
 * });
 * console.log(args.join(" "));
 * // plugin /usr/lib/pppd/2.4.9/pppol2tp.so pppol2tp 7 pppol2tp_lns_mode
 * // pppol2tp_tunnel_id 42 pppol2tp_session_id 128 nodetach noauth
 * ```
 */
export function pppdArguments(opts: PppdArgumentOptions): string[] {
  checkInteger("fd", opts.fd, 0, 0x7fffffff);
  checkInteger("tunnel id", opts.tunnelId, 1, 0xffffffff);
  checkInteger("session id", opts.sessionId, 1, 0xffffffff);
  const args = ["plugin", opts.plugin, "pppol2tp", String(opts.fd)];
  if (opts.lnsMode) args.push("pppol2tp_lns_mode");
  if (opts.sendSeq) args.push("pppol2tp_send_seq");
  if (opts.recvSeq) args.push("pppol2tp_recv_seq");
  if (opts.reorderTimeoutMs !== undefined && opts.reorderTimeoutMs !== 0) {
    checkInteger("reorder timeout", opts.reorderTimeoutMs, 0, 0x7fffffff);
    args.push("pppol2tp_reorderto", String(opts.reorderTimeoutMs));
  }
  if (opts.debugMask !== undefined && opts.debugMask !== 0) {
    checkInteger("debug mask", opts.debugMask, 0, 0x7fffffff);
    args.push("pppol2tp_debug_mask", String(opts.debugMask));
  }
  args.push("pppol2tp_tunnel_id", String(opts.tunnelId));
  args.push("pppol2tp_session_id", String(opts.sessionId));
  args.push("nodetach");
  if (opts.ifname !== undefined) {
    if (!/^[^\s/:]{1,15}$/.test(opts.ifname) || opts.ifname === "." || opts.ifname === "..") {
      throw new RangeError(
        `Cannot build pppd arguments: "${opts.ifname}" is not a valid interface name ` +
          `(1 to 15 characters, no whitespace, "/" or ":")`,
      );
    }
    args.push("ifname", opts.ifname);
  }
  if (opts.extraArgs) args.push(...opts.extraArgs);
  return args;
}

/**
 * Where pppd and its plugin are.
 *
 * @example Usage
 * ```ts
 * import type { PppdPaths } from "./pppd.ts";
 * const p: PppdPaths = { pppd: "/usr/sbin/pppd", plugin: "/usr/lib/pppd/2.4.9/pppol2tp.so" };
 * console.log(p);
 * ```
 */
export interface PppdPaths {
  /** The pppd binary. */
  pppd: string;
  /** The pppol2tp plugin. */
  plugin: string;
}

/** Whether `path` exists and is not a directory. */
function isFile(path: string): boolean {
  try {
    return !Deno.statSync(path).isDirectory;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) return false;
    throw e;
  }
}

/** Compare dotted version strings numerically ("2.4.10" > "2.4.9"). */
function compareVersions(a: string, b: string): number {
  const pa = a.split(".").map((x) => parseInt(x, 10) || 0);
  const pb = b.split(".").map((x) => parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return a.localeCompare(b);
}

function findPlugin(dir: string): string | undefined {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.NotADirectory) {
      return undefined;
    }
    throw e;
  }
  const versions = entries.filter((e) => e.isDirectory).map((e) => e.name)
    .sort(compareVersions).reverse();
  for (const v of versions) {
    const path = `${dir}/${v}/${PPPOL2TP_PLUGIN}`;
    if (isFile(path)) return path;
  }
  return isFile(`${dir}/${PPPOL2TP_PLUGIN}`) ? `${dir}/${PPPOL2TP_PLUGIN}` : undefined;
}

/**
 * Find pppd and the pppol2tp plugin, and check that both exist.
 *
 * @param opts Explicit paths (else `$L2TPD_PPPD`, `$L2TPD_PPPD_PLUGIN`, then the defaults);
 *   `pluginDir` replaces `/usr/lib/pppd` for the search.
 * @returns The paths.
 * @throws {Error} "Cannot find pppd: ..." or "Cannot find the pppd pppol2tp plugin: ...", naming
 *   the Debian package `ppp`.
 *
 * @example Usage
 * ```ts
 * import { resolvePppdPaths } from "./pppd.ts";
 * try {
 *   console.log(resolvePppdPaths()); // { pppd: "/usr/sbin/pppd", plugin: "/usr/lib/pppd/2.4.9/pppol2tp.so" }
 * } catch (e) {
 *   console.log(String(e)); // without Debian's ppp: "Error: Cannot find pppd: /usr/sbin/pppd does not exist (...)"
 * }
 * ```
 */
export function resolvePppdPaths(
  opts: { pppdPath?: string; pluginPath?: string; pluginDir?: string } = {},
): PppdPaths {
  const pppd = opts.pppdPath ?? Deno.env.get("L2TPD_PPPD") ?? DEFAULT_PPPD_PATH;
  if (!isFile(pppd)) {
    throw new Error(
      `Cannot find pppd: ${pppd} does not exist (${PACKAGE_HINT}, or set L2TPD_PPPD)`,
    );
  }
  const explicit = opts.pluginPath ?? Deno.env.get("L2TPD_PPPD_PLUGIN");
  if (explicit !== undefined) {
    if (!isFile(explicit)) {
      throw new Error(
        `Cannot find the pppd pppol2tp plugin: ${explicit} does not exist (${PACKAGE_HINT})`,
      );
    }
    return { pppd, plugin: explicit };
  }
  const dir = opts.pluginDir ?? DEFAULT_PPPD_PLUGIN_DIR;
  const plugin = findPlugin(dir);
  if (plugin === undefined) {
    throw new Error(
      `Cannot find the pppd pppol2tp plugin: no ${dir}/*/${PPPOL2TP_PLUGIN} ` +
        `(${PACKAGE_HINT}, or set L2TPD_PPPD_PLUGIN)`,
    );
  }
  return { pppd, plugin };
}

/**
 * An fd owner handed to {@linkcode launchPppd} (a `Pppol2tpSocket` in production).
 *
 * @example Usage
 * ```ts
 * import type { OwnedFd } from "./pppd.ts";
 * const s: OwnedFd = { fd: 9, close: () => {} };
 * console.log(s);
 * ```
 */
export interface OwnedFd {
  /** The file descriptor pppd inherits. */
  readonly fd: number;
  /** Close it (must be idempotent). */
  close(): void;
}

/**
 * Options of {@linkcode launchPppd}.
 *
 * @example Usage
 * ```ts
 * import type { PppdLaunchOptions } from "./pppd.ts";
 * const o: PppdLaunchOptions = { tunnelId: 1, sessionId: 2, stopTimeoutMs: 3000 };
 * console.log(o);
 * ```
 */
export interface PppdLaunchOptions extends PppdSessionArguments {
  /** pppd binary (default `$L2TPD_PPPD`, else `/usr/sbin/pppd`). */
  pppdPath?: string;
  /** pppol2tp plugin (default `$L2TPD_PPPD_PLUGIN`, else found under `/usr/lib/pppd`). */
  pluginPath?: string;
  /** Environment for pppd (added to ours). */
  env?: Record<string, string>;
  /** Called with each line pppd writes (it logs to stdout with `nodetach`). */
  onOutput?: (line: string, stream: "stdout" | "stderr") => void;
  /** SIGTERM-to-SIGKILL bound of `stop()` in ms (default {@linkcode DEFAULT_STOP_TIMEOUT_MS}). */
  stopTimeoutMs?: number;
}

/**
 * Options of {@linkcode startPppd}: the session's ids and peer, plus how to run pppd.
 *
 * @example Usage
 * ```ts
 * import type { PppdOptions } from "./pppd.ts";
 * const o: PppdOptions = {
 *   tunnelFd: 5, version: 2, tunnelId: 1, sessionId: 2, peerTunnelId: 3, peerSessionId: 4,
 *   peer: { address: "192.0.2.2", port: 1701 }, lnsMode: true, extraArgs: ["noauth"],
 * };
 * console.log(o);
 * ```
 */
export interface PppdOptions extends PppdLaunchOptions {
  /** The tunnel's UDP or L2TP/IP socket fd (the kernel tunnel must already exist). */
  tunnelFd: number;
  /** L2TP version (selects the PPPoL2TP sockaddr variant). */
  version: L2tpVersion;
  /** The peer's tunnel id. */
  peerTunnelId: number;
  /** The peer's session id. */
  peerSessionId: number;
  /** The peer's address. */
  peer: Endpoint;
}

/**
 * A running pppd for one session. Stop it with {@linkcode PppdProcess.stop} or `await using`.
 *
 * @example Usage
 * Not run as a doc test: it needs root, a kernel L2TP tunnel on fd 5 and pppd.
 * ```ts ignore
 * import { startPppd } from "./pppd.ts";
 * await using ppp = startPppd({
 *   tunnelFd: 5, version: 2, tunnelId: 1, sessionId: 2, peerTunnelId: 3, peerSessionId: 4,
 *   peer: { address: "192.0.2.2", port: 1701 }, extraArgs: ["noauth", "10.99.0.1:10.99.0.2"],
 * });
 * console.log(await ppp.interfaceName); // "ppp0"
 * const { code, reason } = await ppp.exited;
 * ```
 */
export class PppdProcess implements AsyncDisposable {
  /** pppd's process id. */
  readonly pid: number;
  /** The arguments pppd was started with. */
  readonly args: readonly string[];
  /** The fd pppd inherited (its number is the same in pppd). */
  readonly fd: number;
  /** Resolves once pppd has exited, its output is drained and our socket copy is closed. */
  readonly exited: Promise<PppdExit>;
  /**
   * Resolves with the ppp interface name once pppd reports it; rejects if pppd exits first.
   * (A rejection nobody awaits is not reported as unhandled.)
   */
  readonly interfaceName: Promise<string>;

  readonly #child: Deno.ChildProcess;
  readonly #socket: OwnedFd;
  readonly #stopTimeoutMs: number;
  readonly #lines: string[] = [];
  #ifname: string | undefined;
  #exit: PppdExit | undefined;
  #stopping: Promise<PppdExit> | undefined;

  /**
   * Wrap a spawned pppd (use {@linkcode launchPppd} or {@linkcode startPppd}).
   *
   * @param child The process (stdout and stderr piped).
   * @param socket The socket it inherited; owned from now on.
   * @param args Its arguments.
   * @param opts Output callback and stop bound.
   */
  constructor(
    child: Deno.ChildProcess,
    socket: OwnedFd,
    args: readonly string[],
    opts: Pick<PppdLaunchOptions, "onOutput" | "stopTimeoutMs"> = {},
  ) {
    this.#child = child;
    this.#socket = socket;
    this.pid = child.pid;
    this.fd = socket.fd;
    this.args = args;
    this.#stopTimeoutMs = opts.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
    let found: (name: string) => void = () => {};
    let missing: (e: Error) => void = () => {};
    this.interfaceName = new Promise<string>((resolve, reject) => {
      found = resolve;
      missing = reject;
    });
    this.interfaceName.catch(() => {});
    const onLine = (line: string, stream: "stdout" | "stderr"): void => {
      this.#lines.push(line);
      if (this.#lines.length > KEPT_LINES) this.#lines.shift();
      const name = parseInterfaceLine(line);
      if (name !== undefined) {
        this.#ifname = name;
        found(name);
      }
      try {
        opts.onOutput?.(line, stream);
      } catch {
        // A failing log callback must not stop the reading: pppd would block on a full pipe.
      }
    };
    const drained = Promise.all([
      pumpLines(child.stdout, (l) => onLine(l, "stdout")),
      pumpLines(child.stderr, (l) => onLine(l, "stderr")),
    ]);
    this.exited = (async (): Promise<PppdExit> => {
      const status = await child.status;
      await drained;
      this.#closeSocket();
      const exit = {
        code: status.code,
        signal: status.signal,
        reason: pppdExitReason(status.code, status.signal),
      };
      this.#exit = exit;
      missing(
        new Error(
          `Cannot learn pppd's interface name: pppd exited first (${exit.reason}):\n` +
            this.output(),
        ),
      );
      return exit;
    })();
  }

  /** The interface name once reported (see {@linkcode PppdProcess.interfaceName}). */
  get ifname(): string | undefined {
    return this.#ifname;
  }

  /** How pppd ended, once it has; undefined while it runs. */
  get exitStatus(): PppdExit | undefined {
    return this.#exit;
  }

  /**
   * pppd's last output lines (up to 200), joined by newlines.
   *
   * @returns The text.
   */
  output(): string {
    return this.#lines.join("\n");
  }

  /**
   * End pppd: SIGTERM (pppd then closes the link with an LCP Terminate-Request), wait up to the
   * stop bound, SIGKILL if it is still there, reap it, close our socket copy. Calling it again,
   * or after pppd exited by itself, just returns the exit.
   *
   * @returns How pppd ended.
   */
  stop(): Promise<PppdExit> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** Same as {@linkcode PppdProcess.stop}. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  async #stop(): Promise<PppdExit> {
    if (this.#exit !== undefined) return this.#exit;
    this.#signal("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), this.#stopTimeoutMs);
    });
    const done = await Promise.race([this.exited.then(() => false), timedOut]);
    clearTimeout(timer);
    if (done) this.#signal("SIGKILL");
    return await this.exited;
  }

  #signal(signal: Deno.Signal): void {
    try {
      this.#child.kill(signal);
    } catch (e) {
      // Exited in between: nothing to signal (Deno throws TypeError or NotFound here).
      if (!(e instanceof TypeError) && !(e instanceof Deno.errors.NotFound)) throw e;
    }
  }

  #closeSocket(): void {
    try {
      this.#socket.close();
    } catch {
      // Closing can only fail for an fd already gone; nothing is left to release.
    }
  }
}

/**
 * The interface name in one line of pppd output, if the line reports it ("Using interface
 * ppp0", or "Renamed interface ppp0 to NAME" on versions that log the rename).
 *
 * @param line One output line.
 * @returns The name, or undefined.
 *
 * @example Usage
 * ```ts
 * import { parseInterfaceLine } from "./pppd.ts";
 * console.log(parseInterfaceLine("Using interface ppp3")); // "ppp3"
 * ```
 */
export function parseInterfaceLine(line: string): string | undefined {
  const m = /(?:^|\s)Using interface (\S+)/.exec(line) ??
    /(?:^|\s)Renamed interface \S+ to (\S+)/.exec(line);
  return m?.[1];
}

async function pumpLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  const decoder = new TextDecoder();
  let rest = "";
  try {
    for await (const chunk of stream) {
      rest += decoder.decode(chunk, { stream: true });
      let nl: number;
      while ((nl = rest.indexOf("\n")) >= 0) {
        onLine(rest.slice(0, nl).replace(/\r$/, ""));
        rest = rest.slice(nl + 1);
      }
    }
  } catch {
    // A failed pipe read loses the rest of the output, nothing else; the exit still counts.
  }
  rest += decoder.decode();
  if (rest !== "") onLine(rest);
}

/**
 * Run pppd on an already connected PPPoL2TP socket, which the handle then owns.
 *
 * The fd loses close-on-exec only for the synchronous spawn and gets it back at once, so no
 * other child inherits it (spawns run on the JavaScript thread, one at a time, so none of ours
 * can fall in between). A child spawned later may still show the fd in `/proc/PID/fd` for an
 * instant: until its exec completes it holds a copy of every fd of ours, close-on-exec or not;
 * the program it runs never sees it. On any failure the socket is closed before the error is
 * thrown.
 *
 * @param socket The session's PPPoL2TP socket (or, in tests, any fd).
 * @param opts Session and process options.
 * @returns The running pppd.
 * @throws {Error} "Cannot find pppd: ..." / "Cannot find the pppd pppol2tp plugin: ..." (naming
 *   the Debian package `ppp`), "Cannot start pppd: ..." when the spawn fails.
 * @throws {RangeError} For out-of-range arguments (see {@linkcode pppdArguments}).
 *
 * @example Usage
 * Not run as a doc test: it needs root, a kernel L2TP tunnel on fd 5 and pppd.
 * ```ts ignore
 * import { launchPppd } from "./pppd.ts";
 * import { openPppol2tpSocket } from "./socket.ts";
 * const sock = openPppol2tpSocket({
 *   tunnelFd: 5, tunnelId: 1, sessionId: 2, peerTunnelId: 3, peerSessionId: 4,
 *   peer: { address: "192.0.2.2", port: 1701 }, version: 2,
 * });
 * const ppp = launchPppd(sock, { tunnelId: 1, sessionId: 2, extraArgs: ["noauth"] });
 * await ppp.stop();
 * ```
 */
export function launchPppd(socket: OwnedFd, opts: PppdLaunchOptions): PppdProcess {
  let args: string[];
  let child: Deno.ChildProcess;
  let paths: PppdPaths;
  try {
    paths = resolvePppdPaths(opts);
    args = pppdArguments({ ...opts, fd: socket.fd, plugin: paths.plugin });
    setInheritable(socket.fd, true);
    try {
      child = new Deno.Command(paths.pppd, {
        args,
        env: opts.env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (e) {
      const detail = e instanceof Error ? e.message : String(e);
      const hint = e instanceof Deno.errors.NotFound ? ` (${PACKAGE_HINT})` : "";
      throw new Error(`Cannot start pppd: ${paths.pppd}: ${detail}${hint}`, { cause: e });
    } finally {
      setInheritable(socket.fd, false);
    }
  } catch (e) {
    socket.close();
    throw e;
  }
  return new PppdProcess(child, socket, args, opts);
}

/**
 * Open the session's PPPoL2TP socket and run pppd on it.
 *
 * The kernel tunnel must exist (created over netlink with `tunnelFd`, a managed tunnel). The
 * connect creates the kernel session when none with `sessionId` exists, or attaches to a PPP
 * session created earlier over netlink (not yet attached to another socket). For L2TPv3 with
 * sequencing, create the session over netlink first with the default L2-Specific Sublayer: a
 * session made by the connect has none, and v3 sequence numbers live in it.
 *
 * @param opts Tunnel socket, ids, peer, version, session and process options.
 * @returns The running pppd.
 * @throws {Error} The socket errors of `openPppol2tpSocket` ("Cannot connect PPPoL2TP socket
 *   ..."), the errors of {@linkcode launchPppd}.
 *
 * @example Usage
 * Not run as a doc test: it needs root, a kernel L2TP tunnel on fd 5 and pppd.
 * ```ts ignore
 * import { startPppd } from "./pppd.ts";
 * const ppp = startPppd({
 *   tunnelFd: 5, version: 2, tunnelId: 1, sessionId: 2, peerTunnelId: 3, peerSessionId: 4,
 *   peer: { address: "192.0.2.2", port: 1701 }, lnsMode: true,
 *   extraArgs: ["noauth", "10.99.0.1:10.99.0.2"],
 * });
 * console.log(await ppp.interfaceName);
 * await ppp.stop();
 * ```
 */
export function startPppd(opts: PppdOptions): PppdProcess {
  // Find pppd before creating the kernel session, so a missing package changes nothing.
  const paths = resolvePppdPaths(opts);
  const socket = openPppol2tpSocket({
    tunnelFd: opts.tunnelFd,
    tunnelId: opts.tunnelId,
    sessionId: opts.sessionId,
    peerTunnelId: opts.peerTunnelId,
    peerSessionId: opts.peerSessionId,
    peer: opts.peer,
    version: opts.version,
  });
  return launchPppd(socket, { ...opts, pppdPath: paths.pppd, pluginPath: paths.plugin });
}
