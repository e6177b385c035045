/**
 * The control socket: a Unix socket the running daemon serves, so that `l2tpd show`, `reload`,
 * `down` and `up` (or any program) can ask it things. This module is the socket: where it is,
 * who may connect, how it is created, replaced and removed, and how many clients it serves. What
 * goes over each connection (JSON Lines, the requests, the answers, their limits) is
 * `control_protocol.ts`; its requests, answers, parser and limits are exported here too.
 *
 * ## Where, and who may connect
 *
 * The default path is `/run/l2tpd/l2tpd.sock` ({@linkcode DEFAULT_SOCKET_PATH}); `--socket PATH`
 * or `socket` in the `[daemon]` table change it (the flag wins). A missing directory is created
 * (mode 0755). The socket is created with mode 0600: only the daemon's user (root) may connect.
 * With `socket_group` (a group name from `/etc/group`, or a numeric ID) the socket belongs to that
 * group and has mode 0660, so the group's members may connect too. Anyone who can connect may
 * run every command.
 *
 * At start-up, a socket file left behind by a daemon that died is replaced; a socket that a
 * live daemon answers on makes start-up fail ("another l2tpd is running there"), and so does a
 * path that exists and is not a socket. The daemon removes its socket when it shuts down.
 *
 * ## Protocol
 *
 * JSON Lines over the stream connection: one request object per line (`{"command":"show"}`,
 * `{"command":"reload"}`, `{"command":"down","tunnel":"t1","session":"s1"}`, `up` likewise),
 * each answered with one line, `{"ok":true,"result":...}` or `{"ok":false,"error":"Cannot ..."}`.
 * `control_protocol.ts` documents the commands, their results and the limits (a line of at most
 * {@linkcode MAX_REQUEST_BYTES}, {@linkcode CLIENT_TIMEOUT_MS} to send it or read the answer). A
 * client beyond {@linkcode MAX_CLIENTS} (16) at once gets an error answer and is disconnected.
 *
 * ```sh
 * printf '{"command":"show"}\n' | socat - UNIX-CONNECT:/run/l2tpd/l2tpd.sock
 * ```
 *
 * @example Serve a handler, ask it something
 * ```ts
 * import { ControlServer } from "./control_server.ts";
 * import { sendControlRequest } from "./control_client.ts";
 * const dir = await Deno.makeTempDir();
 * await using server = await ControlServer.listen({
 *   path: `${dir}/l2tpd.sock`,
 *   handler: {
 *     show: () => Promise.resolve({ time: new Date().toISOString(), tunnels: [] }),
 *     reload: () => Promise.reject(new Error("Cannot reload: not in this example")),
 *     down: () => Promise.resolve(),
 *     up: () => Promise.resolve(),
 *   },
 * });
 * const answer = await sendControlRequest(server.path, { command: "show" });
 * console.log(answer.ok); // true
 * await server.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 *
 * @module
 */

import { getLog, type Log } from "./log.ts";
import {
  CLIENT_TIMEOUT_MS,
  type ControlHandler,
  MAX_REQUEST_BYTES,
  serveConnection,
  writeAnswer,
} from "./control_protocol.ts";

// The protocol's vocabulary, for those who import it from here.
export {
  type AdminRequest,
  CLIENT_TIMEOUT_MS,
  CONTROL_COMMANDS,
  type ControlAnswer,
  type ControlHandler,
  type ControlRequest,
  ControlRequestError,
  MAX_REQUEST_BYTES,
  parseControlRequest,
  type ReloadRequest,
  type ShowRequest,
} from "./control_protocol.ts";

/**
 * Where the daemon serves its control socket unless told otherwise.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_SOCKET_PATH } from "./control_server.ts";
 * console.log(DEFAULT_SOCKET_PATH); // /run/l2tpd/l2tpd.sock
 * ```
 */
export const DEFAULT_SOCKET_PATH = "/run/l2tpd/l2tpd.sock";

/**
 * How many clients are served at once; one more gets an error answer and is disconnected.
 *
 * @example Usage
 * ```ts
 * import { MAX_CLIENTS } from "./control_server.ts";
 * console.log(MAX_CLIENTS); // 16
 * ```
 */
export const MAX_CLIENTS = 16;

/**
 * Why the control socket could not be set up: `permission` (the directory or the socket cannot
 * be made by this user), `in-use` (a live daemon answers on the path, or the path is not a
 * socket), `other`.
 *
 * @example Usage
 * ```ts
 * import { type ControlHandler, ControlServer, ControlSocketError } from "./control_server.ts";
 * const handler: ControlHandler = {
 *   show: () => Promise.resolve(null), reload: () => Promise.resolve(null),
 *   down: () => Promise.resolve(), up: () => Promise.resolve(),
 * };
 * const dir = await Deno.makeTempDir();
 * await using first = await ControlServer.listen({ path: `${dir}/l2tpd.sock`, handler });
 * try {
 *   await ControlServer.listen({ path: first.path, handler });
 * } catch (e) {
 *   if (e instanceof ControlSocketError) console.log(e.reason); // in-use
 * }
 * await first.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class ControlSocketError extends Error {
  /** What kind of failure it is. */
  readonly reason: "permission" | "in-use" | "other";

  /** Make the error with a "Cannot X: detail" message. */
  constructor(reason: "permission" | "in-use" | "other", message: string) {
    super(message);
    this.name = "ControlSocketError";
    this.reason = reason;
  }
}

/**
 * Where and how to serve the control socket.
 *
 * @example Usage
 * ```ts
 * import type { ControlServerOptions } from "./control_server.ts";
 * const options: Omit<ControlServerOptions, "handler"> = {
 *   path: "/run/l2tpd/l2tpd.sock", group: "l2tp",
 * };
 * console.log(options.path);
 * ```
 */
export interface ControlServerOptions {
  /** The socket's path. */
  path: string;
  /** A group (name from `/etc/group`, or numeric ID) whose members may connect too (mode 0660). */
  group?: string;
  /** What the commands do. */
  handler: ControlHandler;
  /** Logger (default: the `l2tpd.control` category). */
  logger?: Log;
  /** Clients served at once (default {@linkcode MAX_CLIENTS}). */
  maxClients?: number;
  /** Longest request line in bytes (default {@linkcode MAX_REQUEST_BYTES}). */
  maxRequestBytes?: number;
  /** Time a client may take to send a request or read an answer (default {@linkcode CLIENT_TIMEOUT_MS}). */
  timeoutMs?: number;
  /** The group database (default `/etc/group`; tests pass another). */
  groupFile?: string;
}

/**
 * The numeric ID of a group given by name (looked up in `/etc/group`) or by number.
 *
 * @param group A group name or a decimal ID.
 * @param groupFile The group database.
 * @returns The group ID.
 * @throws {Error} when the group is not in the file, or the file cannot be read.
 *
 * @example Usage
 * ```ts
 * import { resolveGroup } from "./control_server.ts";
 * console.log(await resolveGroup("0")); // 0
 * console.log(await resolveGroup("root")); // 0 on Linux
 * ```
 */
export async function resolveGroup(group: string, groupFile = "/etc/group"): Promise<number> {
  if (/^\d+$/.test(group)) return Number(group);
  let text: string;
  try {
    text = await Deno.readTextFile(groupFile);
  } catch (e) {
    throw new Error(
      `Cannot resolve socket_group "${group}": cannot read ${groupFile} (${errorText(e)}); give ` +
        "the group's numeric ID instead",
    );
  }
  for (const line of text.split("\n")) {
    const [name, , gid] = line.split(":");
    if (name === group && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new Error(
    `Cannot resolve socket_group "${group}": no such group in ${groupFile} (create it with ` +
      "groupadd, or fix socket_group)",
  );
}

/**
 * The control socket server. {@linkcode ControlServer.listen} creates the socket and serves it
 * until {@linkcode ControlServer.close}. See the module documentation for the protocol.
 *
 * @example Usage
 * ```ts
 * import { ControlServer } from "./control_server.ts";
 * const dir = await Deno.makeTempDir();
 * const server = await ControlServer.listen({
 *   path: `${dir}/ctl.sock`,
 *   handler: {
 *     show: () => Promise.resolve({ tunnels: [] }),
 *     reload: () => Promise.resolve({}),
 *     down: () => Promise.resolve(),
 *     up: () => Promise.resolve(),
 *   },
 * });
 * console.log(((await Deno.lstat(server.path)).mode ?? 0) & 0o777); // 384 (0600)
 * await server.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class ControlServer implements AsyncDisposable {
  readonly #path: string;
  readonly #listener: Deno.UnixListener;
  readonly #identity: string;
  readonly #handler: ControlHandler;
  readonly #log: Log;
  readonly #maxClients: number;
  readonly #maxRequestBytes: number;
  readonly #timeoutMs: number;
  readonly #clients = new Set<Deno.UnixConn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  #closing?: Promise<void>;

  private constructor(
    options: ControlServerOptions,
    listener: Deno.UnixListener,
    identity: string,
    log: Log,
  ) {
    this.#path = options.path;
    this.#listener = listener;
    this.#identity = identity;
    this.#handler = options.handler;
    this.#log = log;
    this.#maxClients = options.maxClients ?? MAX_CLIENTS;
    this.#maxRequestBytes = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
    this.#timeoutMs = options.timeoutMs ?? CLIENT_TIMEOUT_MS;
    this.#accepting = this.#acceptLoop();
  }

  /**
   * Create the socket (replacing a stale one) and start serving it.
   *
   * @param options The path, the group, the handler and limits.
   * @returns The running server.
   * @throws {Error} when a live daemon answers on the path, the path is not a socket, the
   *   directory cannot be made, or the group is unknown.
   */
  static async listen(options: ControlServerOptions): Promise<ControlServer> {
    const log = options.logger ?? getLog("control");
    const path = options.path;
    const gid = options.group === undefined
      ? undefined
      : await resolveGroup(options.group, options.groupFile);
    const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
    try {
      await Deno.mkdir(dir, { recursive: true, mode: 0o755 });
    } catch (e) {
      throw socketError(`Cannot create the control socket ${path}`, e, dir);
    }
    await checkStaleSocket(path);
    // The socket is made in a private directory (mode 0700) next to its place, given its owner
    // and mode there, and only then renamed into place: nobody can connect before it is ready,
    // and a stale socket is replaced in one step. (It also keeps Deno's UnixListener.close(),
    // which unlinks whatever is at the path it listened on, away from the real path.)
    let tmp: string;
    try {
      tmp = await Deno.makeTempDir({ dir, prefix: ".l2tpd-" });
    } catch (e) {
      throw socketError(`Cannot create the control socket ${path}`, e, dir);
    }
    const tmpPath = `${tmp}/s`;
    let listener: Deno.UnixListener | undefined;
    try {
      const extra = encoder.encode(tmpPath).length - encoder.encode(dir).length;
      if (encoder.encode(tmpPath).length > SUN_PATH_MAX) {
        throw new ControlSocketError(
          "other",
          `Cannot create the control socket ${path}: its directory's path is too long for a ` +
            `Unix socket (at most ${SUN_PATH_MAX - extra} bytes); choose a shorter --socket`,
        );
      }
      listener = Deno.listen({ transport: "unix", path: tmpPath });
      if (gid !== undefined) await Deno.chown(tmpPath, null, gid);
      await Deno.chmod(tmpPath, gid === undefined ? 0o600 : 0o660);
      await Deno.rename(tmpPath, path);
      const info = await Deno.lstat(path);
      log.info("Control socket listening on {path}", { path, group: options.group });
      return new ControlServer(options, listener, identity(info), log);
    } catch (e) {
      listener?.close();
      throw socketError(`Cannot create the control socket ${path}`, e, dir);
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  }

  /** The socket's path. */
  get path(): string {
    return this.#path;
  }

  /**
   * Stop serving: no new clients, connected ones are disconnected, the socket file is removed
   * (unless another process has put its own there meanwhile). Idempotent.
   *
   * @returns Resolves once every client task has ended.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        this.#listener.close();
      } catch { /* already closed */ }
      for (const conn of this.#clients) closeQuietly(conn);
      await this.#accepting;
      await Promise.allSettled([...this.#tasks]);
      try {
        if (identity(await Deno.lstat(this.#path)) === this.#identity) {
          await Deno.remove(this.#path);
        }
      } catch { /* gone already */ }
    })();
    return this.#closing;
  }

  /** {@linkcode ControlServer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #acceptLoop(): Promise<void> {
    while (this.#closing === undefined) {
      let conn: Deno.UnixConn;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#closing !== undefined || e instanceof Deno.errors.BadResource) return;
        // EMFILE and the like: say so, and do not spin.
        this.#log.warn("Control socket: cannot accept a client: {error}", { error: errorText(e) });
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (this.#closing !== undefined) {
        closeQuietly(conn);
        return;
      }
      const task = this.#clients.size >= this.#maxClients ? this.#refuse(conn) : this.#serve(conn);
      this.#tasks.add(task);
      task.finally(() => this.#tasks.delete(task));
    }
  }

  async #refuse(conn: Deno.UnixConn): Promise<void> {
    this.#log.warn("Control socket: refusing a client, {max} are connected already", {
      max: this.#maxClients,
    });
    const timer = setTimeout(() => closeQuietly(conn), this.#timeoutMs);
    try {
      await writeAnswer(conn, {
        ok: false,
        error: `Cannot serve this client: ${this.#maxClients} clients are connected already ` +
          "(try again shortly)",
      });
    } catch {
      /* the client went away */
    } finally {
      clearTimeout(timer);
      closeQuietly(conn);
    }
  }

  async #serve(conn: Deno.UnixConn): Promise<void> {
    this.#clients.add(conn);
    try {
      await serveConnection(conn, {
        handler: this.#handler,
        logger: this.#log,
        maxRequestBytes: this.#maxRequestBytes,
        timeoutMs: this.#timeoutMs,
      });
    } finally {
      this.#clients.delete(conn);
    }
  }
}

const encoder = new TextEncoder();

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch { /* closed already */ }
}

/**
 * Make sure a new socket may take `path`: nothing there, or a stale socket (nobody answers; the
 * rename replaces it). A live one, or something that is not a socket, is an error.
 */
async function checkStaleSocket(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw socketError(`Cannot create the control socket ${path}`, e, path);
  }
  if (!info.isSocket) {
    throw new ControlSocketError(
      "in-use",
      `Cannot create the control socket ${path}: the path exists and is not a socket (remove ` +
        "it, or choose another path with --socket)",
    );
  }
  const live = await answers(path);
  if (live === true) {
    throw new ControlSocketError(
      "in-use",
      `Cannot create the control socket ${path}: another l2tpd is running there (stop it, or ` +
        "give this daemon another --socket)",
    );
  }
  if (live !== false) {
    throw new ControlSocketError(
      "other",
      `Cannot create the control socket ${path}: cannot tell whether a daemon is running there ` +
        `(${live}); remove the file if none is`,
    );
  }
}

/** What tells our socket file from another one put at the same path later. */
function identity(info: Deno.FileInfo): string {
  return `${info.dev}:${info.ino}:${info.birthtime?.getTime() ?? info.ctime?.getTime()}`;
}

/** The longest path a `sockaddr_un` holds (108 bytes with the terminating NUL). */
const SUN_PATH_MAX = 107;

/** true: something accepts connections at `path`; false: refused (stale); else why unknown. */
async function answers(path: string): Promise<boolean | string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), 2000);
  });
  const attempt = Deno.connect({ transport: "unix", path });
  try {
    const result = await Promise.race([attempt, timeout]);
    if (result === "timeout") {
      attempt.then((c) => c.close(), () => {});
      return true; // a daemon that is too busy to accept is still a daemon
    }
    result.close();
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.ConnectionRefused || e instanceof Deno.errors.NotFound) {
      return false;
    }
    return errorText(e);
  } finally {
    clearTimeout(timer);
  }
}

function socketError(what: string, e: unknown, path: string): ControlSocketError {
  if (e instanceof ControlSocketError) return e;
  const permission = e instanceof Deno.errors.PermissionDenied ||
    e instanceof Deno.errors.NotCapable;
  return new ControlSocketError(
    permission ? "permission" : "other",
    `${what}: ${fsErrorText(e, path)}`,
  );
}

function fsErrorText(e: unknown, path: string): string {
  if (e instanceof Deno.errors.PermissionDenied) {
    return `permission denied on ${path} (run as root, or choose a path you can write with ` +
      "--socket)";
  }
  if (e instanceof Deno.errors.NotCapable) {
    return `${errorText(e)} (run with --allow-read and --allow-write, or -A)`;
  }
  return errorText(e);
}

/**
 * Serve the control socket a daemon was asked for, else its default one. Where the default
 * cannot be made for lack of privilege (a test daemon that is not root), the daemon runs without
 * one, with a warning; a socket asked for by name must work, and a live daemon on either is
 * always an error.
 *
 * @param options The server's options, with `requested` (the path asked for, if one was) and
 *   `defaultPath` instead of `path`.
 * @param log Where the warning goes.
 * @returns The server, or `undefined` when it runs without one.
 * @throws {ControlSocketError} When the socket cannot be served.
 *
 * @example Usage
 * ```ts
 * import { listenControlSocket } from "./control_server.ts";
 * import { getLog } from "./log.ts";
 * const dir = await Deno.makeTempDir();
 * const server = await listenControlSocket({
 *   requested: `${dir}/d.sock`, defaultPath: "/run/example.sock",
 *   handler: {
 *     show: () => Promise.resolve({ tunnels: [] }), reload: () => Promise.resolve({}),
 *     down: () => Promise.resolve(), up: () => Promise.resolve(),
 *   },
 * }, getLog("example"));
 * console.log(server !== undefined); // true
 * await server?.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function listenControlSocket(
  options: Omit<ControlServerOptions, "path"> & { requested?: string; defaultPath: string },
  log: Log,
): Promise<ControlServer | undefined> {
  const { requested, defaultPath, ...rest } = options;
  try {
    return await ControlServer.listen({ ...rest, path: requested ?? defaultPath });
  } catch (e) {
    if (requested === undefined && e instanceof ControlSocketError && e.reason === "permission") {
      log.warn("No control socket: {error}", { error: errorText(e) });
      return undefined;
    }
    throw e;
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
