/**
 * The control socket: a Unix socket the running daemon serves, so that `l2tpd show`, `reload`,
 * `down` and `up` (or any program) can ask it things.
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
 * JSON Lines over a stream connection: the client writes one request, a JSON object on one line
 * ending in `\n`, and reads one answer line; it may send several requests on one connection,
 * each answered in order.
 *
 * | request | answer `result` |
 * | --- | --- |
 * | `{"command":"show"}` | the status (`ContextStatus`, with the kernel's counters in `kernel`) |
 * | `{"command":"reload"}` | what changed: `{"added":[],"removed":[],"replaced":[],"unchanged":[],"failed":[]}`, names `tunnel` or `tunnel/session` |
 * | `{"command":"down","tunnel":"t1"}` | `null`, once tunnel `t1` is down (it stays down until `up`) |
 * | `{"command":"down","tunnel":"t1","session":"s1"}` | `null`, once session `s1` of `t1` is down |
 * | `{"command":"up","tunnel":"t1"}`, `{"command":"up","tunnel":"t1","session":"s1"}` | `null`, once it is back up |
 *
 * Every answer is `{"ok":true,"result":...}` or `{"ok":false,"error":"Cannot ...: ..."}`.
 * `reload` re-reads the configuration file, as SIGHUP does; when the file is invalid nothing
 * changes and the error lists every problem found.
 *
 * A bad request never harms the daemon, it gets an error answer: a line that is not JSON (or
 * not UTF-8), an unknown command, a missing or unexpected field. A line longer than
 * {@linkcode MAX_REQUEST_BYTES} (64 KiB) is answered with an error and the connection is closed,
 * as is a client beyond {@linkcode MAX_CLIENTS} (16) at once. A client that takes longer than
 * {@linkcode CLIENT_TIMEOUT_MS} (10 s) to send a complete request, or to read its answer, is
 * disconnected.
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
 * The longest request line accepted, in bytes (without its newline).
 *
 * @example Usage
 * ```ts
 * import { MAX_REQUEST_BYTES } from "./control_server.ts";
 * console.log(MAX_REQUEST_BYTES); // 65536
 * ```
 */
export const MAX_REQUEST_BYTES = 64 * 1024;

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
 * How long a client may take to send a complete request or to read its answer, in milliseconds.
 *
 * @example Usage
 * ```ts
 * import { CLIENT_TIMEOUT_MS } from "./control_server.ts";
 * console.log(CLIENT_TIMEOUT_MS); // 10000
 * ```
 */
export const CLIENT_TIMEOUT_MS = 10_000;

/**
 * The commands of the protocol.
 *
 * @example Usage
 * ```ts
 * import { CONTROL_COMMANDS } from "./control_server.ts";
 * console.log(CONTROL_COMMANDS.join(", ")); // show, reload, down, up
 * ```
 */
export const CONTROL_COMMANDS: readonly ControlRequest["command"][] = Object.freeze([
  "show",
  "reload",
  "down",
  "up",
]);

/**
 * `{"command":"show"}`: the daemon's status.
 *
 * @example Usage
 * ```ts
 * import type { ShowRequest } from "./control_server.ts";
 * const r: ShowRequest = { command: "show" };
 * console.log(JSON.stringify(r)); // {"command":"show"}
 * ```
 */
export interface ShowRequest {
  /** Discriminant. */
  command: "show";
}

/**
 * `{"command":"reload"}`: re-read the configuration file and apply the difference.
 *
 * @example Usage
 * ```ts
 * import type { ReloadRequest } from "./control_server.ts";
 * const r: ReloadRequest = { command: "reload" };
 * console.log(JSON.stringify(r)); // {"command":"reload"}
 * ```
 */
export interface ReloadRequest {
  /** Discriminant. */
  command: "reload";
}

/**
 * `{"command":"down"|"up","tunnel":"t","session":"s"}`: take a configured tunnel, or one of its
 * sessions, down or back up.
 *
 * @example Usage
 * ```ts
 * import type { AdminRequest } from "./control_server.ts";
 * const r: AdminRequest = { command: "down", tunnel: "t1", session: "s1" };
 * console.log(JSON.stringify(r)); // {"command":"down","tunnel":"t1","session":"s1"}
 * ```
 */
export interface AdminRequest {
  /** Discriminant. */
  command: "down" | "up";
  /** The tunnel's name in the configuration. */
  tunnel: string;
  /** A session's name, for just that session. */
  session?: string;
}

/**
 * A request of the control protocol.
 *
 * @example Usage
 * ```ts
 * import type { ControlRequest } from "./control_server.ts";
 * const requests: ControlRequest[] = [{ command: "show" }, { command: "up", tunnel: "t1" }];
 * console.log(requests.length); // 2
 * ```
 */
export type ControlRequest = ShowRequest | ReloadRequest | AdminRequest;

/**
 * An answer of the control protocol: a result, or an error message.
 *
 * @example Usage
 * ```ts
 * import type { ControlAnswer } from "./control_server.ts";
 * const a: ControlAnswer = { ok: false, error: 'Cannot take down "t9": no tunnel "t9"' };
 * if (!a.ok) console.log(a.error);
 * ```
 */
export type ControlAnswer = { ok: true; result: unknown } | { ok: false; error: string };

/**
 * A request line that is not a valid request; its message is the error answer.
 *
 * @example Usage
 * ```ts
 * import { ControlRequestError, parseControlRequest } from "./control_server.ts";
 * try {
 *   parseControlRequest("hello");
 * } catch (e) {
 *   console.log(e instanceof ControlRequestError); // true
 * }
 * ```
 */
export class ControlRequestError extends Error {
  /** Make the error with a "Cannot X: detail" message. */
  constructor(message: string) {
    super(message);
    this.name = "ControlRequestError";
  }
}

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

const COMMAND_LIST = "show, reload, down, up";
const FIELDS: Record<ControlRequest["command"], readonly string[]> = {
  show: ["command"],
  reload: ["command"],
  down: ["command", "tunnel", "session"],
  up: ["command", "tunnel", "session"],
};

/**
 * Parse and check one request line (without its newline).
 *
 * @param line The line's text.
 * @returns The request.
 * @throws {ControlRequestError} when the line is not JSON, not an object, names no or an
 *   unknown command, lacks a field the command needs, or has a field it does not know.
 *
 * @example Usage
 * ```ts
 * import { parseControlRequest } from "./control_server.ts";
 * console.log(parseControlRequest('{"command":"down","tunnel":"t1"}'));
 * // { command: "down", tunnel: "t1" }
 * ```
 */
export function parseControlRequest(line: string): ControlRequest {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ControlRequestError(
      'Cannot parse the request: not JSON (send one JSON object per line, e.g. {"command":"show"})',
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ControlRequestError(
      'Cannot parse the request: expected a JSON object such as {"command":"show"}',
    );
  }
  const fields = value as Record<string, unknown>;
  const command = fields.command;
  if (typeof command !== "string") {
    throw new ControlRequestError(
      `Cannot parse the request: "command" is missing or not a string (commands: ${COMMAND_LIST})`,
    );
  }
  if (!Object.hasOwn(FIELDS, command)) {
    throw new ControlRequestError(
      `Cannot run command ${JSON.stringify(command)}: unknown command (commands: ${COMMAND_LIST})`,
    );
  }
  const known = FIELDS[command as ControlRequest["command"]];
  for (const key of Object.keys(fields)) {
    if (!known.includes(key)) {
      throw new ControlRequestError(
        `Cannot run command "${command}": unknown field ${JSON.stringify(key)} (fields: ` +
          `${known.join(", ")})`,
      );
    }
  }
  if (command === "show" || command === "reload") return { command };
  const tunnel = fields.tunnel;
  if (typeof tunnel !== "string" || tunnel === "") {
    throw new ControlRequestError(
      `Cannot run command "${command}": "tunnel" must be a tunnel's name (a non-empty string)`,
    );
  }
  const session = fields.session;
  if (session === undefined) return { command: command as "down" | "up", tunnel };
  if (typeof session !== "string" || session === "") {
    throw new ControlRequestError(
      `Cannot run command "${command}": "session" must be a session's name (a non-empty ` +
        "string), or left out for the whole tunnel",
    );
  }
  return { command: command as "down" | "up", tunnel, session };
}

/**
 * What the control socket's commands do: the daemon supplies it.
 *
 * @example Usage
 * ```ts
 * import type { ControlHandler } from "./control_server.ts";
 * const handler: ControlHandler = {
 *   show: () => Promise.resolve({ time: new Date().toISOString(), tunnels: [] }),
 *   reload: () => Promise.resolve({ added: [], removed: [], replaced: [], unchanged: [] }),
 *   down: () => Promise.resolve(),
 *   up: () => Promise.resolve(),
 * };
 * console.log(typeof handler.show); // function
 * ```
 */
export interface ControlHandler {
  /** The status (plain data: it is sent as JSON). */
  show(): Promise<unknown>;
  /** Re-read the configuration and apply it; resolves with what changed. */
  reload(): Promise<unknown>;
  /** Take a tunnel, or one of its sessions, down. */
  down(tunnel: string, session?: string): Promise<void>;
  /** Bring a tunnel, or one of its sessions, back up. */
  up(tunnel: string, session?: string): Promise<void>;
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
      await writeAll(
        conn,
        answerLine({
          ok: false,
          error: `Cannot serve this client: ${this.#maxClients} clients are connected already ` +
            "(try again shortly)",
        }),
      );
    } catch {
      /* the client went away */
    } finally {
      clearTimeout(timer);
      closeQuietly(conn);
    }
  }

  async #serve(conn: Deno.UnixConn): Promise<void> {
    this.#clients.add(conn);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        this.#log.debug("Control socket: dropping a client that stalled for {ms} ms", {
          ms: this.#timeoutMs,
        });
        closeQuietly(conn);
      }, this.#timeoutMs);
    };
    const max = this.#maxRequestBytes;
    const scratch = new Uint8Array(16 * 1024);
    let buf = new Uint8Array(4096);
    let len = 0;
    let scanned = 0;
    try {
      arm();
      while (true) {
        const n = await conn.read(scratch);
        if (n === null) {
          // The client closed its side: a last request without a newline is still answered.
          if (len > 0 && len <= max) {
            await writeAll(conn, answerLine(await this.#answer(buf.subarray(0, len))));
          }
          return;
        }
        if (len + n > buf.length) {
          const bigger = new Uint8Array(Math.max(buf.length * 2, len + n));
          bigger.set(buf.subarray(0, len));
          buf = bigger;
        }
        buf.set(scratch.subarray(0, n), len);
        len += n;
        let start = 0;
        for (let i = scanned; i < len; i++) {
          if (buf[i] !== 0x0a) continue;
          const line = buf.subarray(start, i);
          start = i + 1;
          if (line.length > max) {
            await writeAll(conn, answerLine(tooLong(max)));
            return;
          }
          clearTimeout(timer);
          const answer = await this.#answer(line);
          arm();
          await writeAll(conn, answerLine(answer));
        }
        buf.copyWithin(0, start, len);
        len -= start;
        scanned = len;
        if (len > max) {
          await writeAll(conn, answerLine(tooLong(max)));
          return;
        }
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted)) {
        this.#log.debug("Control socket: client connection failed: {error}", {
          error: errorText(e),
        });
      }
    } finally {
      clearTimeout(timer);
      this.#clients.delete(conn);
      closeQuietly(conn);
    }
  }

  /** The answer to one request line: never throws. */
  async #answer(bytes: Uint8Array): Promise<ControlAnswer> {
    let request: ControlRequest;
    try {
      const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
      if (text.trim() === "") {
        return {
          ok: false,
          error: 'Cannot parse the request: empty line (send e.g. {"command":"show"})',
        };
      }
      request = parseControlRequest(text);
    } catch (e) {
      const error = e instanceof ControlRequestError
        ? e.message
        : "Cannot parse the request: not UTF-8 text";
      this.#log.debug("Control socket: bad request: {error}", { error });
      return { ok: false, error };
    }
    const what = describe(request);
    // An audit trail of what was asked; what it did, the daemon logs (events, reloads).
    if (request.command !== "show") this.#log.info("Control socket: {what}", { what });
    try {
      const h = this.#handler;
      const result = request.command === "show"
        ? await h.show()
        : request.command === "reload"
        ? await h.reload()
        : request.command === "down"
        ? await h.down(request.tunnel, request.session)
        : await h.up(request.tunnel, request.session);
      return { ok: true, result: result ?? null };
    } catch (e) {
      const error = errorText(e);
      this.#log.debug("Control socket: {what} failed: {error}", { what, error });
      return { ok: false, error };
    }
  }
}

function describe(request: ControlRequest): string {
  if (request.command === "show" || request.command === "reload") return request.command;
  const target = request.session === undefined
    ? request.tunnel
    : `${request.tunnel}/${request.session}`;
  return `${request.command} ${target}`;
}

function tooLong(max: number): ControlAnswer {
  return {
    ok: false,
    error: `Cannot parse the request: the line is longer than ${max} bytes (one request per ` +
      "line, ending in a newline)",
  };
}

const encoder = new TextEncoder();

function answerLine(answer: ControlAnswer): Uint8Array {
  let text: string;
  try {
    text = JSON.stringify(answer);
  } catch (e) {
    text = JSON.stringify({
      ok: false,
      error: `Cannot answer: the result is not JSON (${errorText(e)})`,
    });
  }
  return encoder.encode(text + "\n");
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

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

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
