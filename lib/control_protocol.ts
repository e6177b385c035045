/**
 * The control socket's protocol: what goes over one connection, whatever the socket. The
 * socket itself (its path, permissions, the accept loop) is `control_server.ts`; the client is
 * `control_client.ts`.
 *
 * ## Requests and answers
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
 * ## Limits
 *
 * A bad request never harms the daemon, it gets an error answer: a line that is not JSON (or
 * not UTF-8), an unknown command, a missing or unexpected field. A line longer than
 * {@linkcode MAX_REQUEST_BYTES} (64 KiB) is answered with an error and the connection is closed.
 * A client that takes longer than {@linkcode CLIENT_TIMEOUT_MS} (10 s) to send a complete
 * request, or to read its answer, is disconnected. (The server also limits how many clients it
 * serves at once: see `control_server.ts`.)
 *
 * - {@linkcode parseControlRequest}: one line's text -> a checked {@linkcode ControlRequest}.
 * - {@linkcode answerRequest}: one line's bytes -> the {@linkcode ControlHandler}'s answer.
 * - {@linkcode serveConnection}: a whole connection, line by line, within the limits.
 *
 * @example Answer one request line
 * ```ts
 * import { answerRequest, type ControlHandler } from "./control_protocol.ts";
 * const handler: ControlHandler = {
 *   show: () => Promise.resolve({ tunnels: [] }),
 *   reload: () => Promise.reject(new Error("Cannot reload: not in this example")),
 *   down: () => Promise.resolve(),
 *   up: () => Promise.resolve(),
 * };
 * const line = new TextEncoder().encode('{"command":"reload"}');
 * console.log(await answerRequest(line, handler));
 * // { ok: false, error: "Cannot reload: not in this example" }
 * ```
 *
 * @module
 */

import { getLog, type Log } from "./log.ts";

/**
 * The longest request line accepted, in bytes (without its newline).
 *
 * @example Usage
 * ```ts
 * import { MAX_REQUEST_BYTES } from "./control_protocol.ts";
 * console.log(MAX_REQUEST_BYTES); // 65536
 * ```
 */
export const MAX_REQUEST_BYTES = 64 * 1024;

/**
 * How long a client may take to send a complete request or to read its answer, in milliseconds.
 *
 * @example Usage
 * ```ts
 * import { CLIENT_TIMEOUT_MS } from "./control_protocol.ts";
 * console.log(CLIENT_TIMEOUT_MS); // 10000
 * ```
 */
export const CLIENT_TIMEOUT_MS = 10_000;

/**
 * The commands of the protocol.
 *
 * @example Usage
 * ```ts
 * import { CONTROL_COMMANDS } from "./control_protocol.ts";
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
 * import type { ShowRequest } from "./control_protocol.ts";
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
 * import type { ReloadRequest } from "./control_protocol.ts";
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
 * import type { AdminRequest } from "./control_protocol.ts";
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
 * import type { ControlRequest } from "./control_protocol.ts";
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
 * import type { ControlAnswer } from "./control_protocol.ts";
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
 * import { ControlRequestError, parseControlRequest } from "./control_protocol.ts";
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
 * What the control socket's commands do: the daemon supplies it.
 *
 * @example Usage
 * ```ts
 * import type { ControlHandler } from "./control_protocol.ts";
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

// --- Validation ---------------------------------------------------------------------------------

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
 * import { parseControlRequest } from "./control_protocol.ts";
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

// --- Dispatch -----------------------------------------------------------------------------------

/**
 * The answer to one request line: decoded, checked, and run by the handler. Never throws: a bad
 * line, or a handler that fails, is an error answer (`{ ok: false, error }`). Every command but
 * `show` is logged at info level, as an audit trail of what was asked.
 *
 * @param line The line's bytes, without its newline (UTF-8 JSON).
 * @param handler What the commands do.
 * @param log Logger (default: the `l2tpd.control` category).
 * @returns The answer to send.
 *
 * @example Usage
 * ```ts
 * import { answerRequest } from "./control_protocol.ts";
 * const handler = {
 *   show: () => Promise.resolve({ tunnels: [] }),
 *   reload: () => Promise.resolve({}),
 *   down: () => Promise.resolve(),
 *   up: () => Promise.resolve(),
 * };
 * const show = new TextEncoder().encode('{"command":"show"}');
 * console.log(await answerRequest(show, handler)); // { ok: true, result: { tunnels: [] } }
 * const bad = new TextEncoder().encode('{"command":"start"}');
 * console.log((await answerRequest(bad, handler)).ok); // false
 * ```
 */
export async function answerRequest(
  line: Uint8Array,
  handler: ControlHandler,
  log: Log = getLog("control"),
): Promise<ControlAnswer> {
  let request: ControlRequest;
  try {
    const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(line);
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
    log.debug("Control socket: bad request: {error}", { error });
    return { ok: false, error };
  }
  const what = describe(request);
  // An audit trail of what was asked; what it did, the daemon logs (events, reloads).
  if (request.command !== "show") log.info("Control socket: {what}", { what });
  try {
    const result = request.command === "show"
      ? await handler.show()
      : request.command === "reload"
      ? await handler.reload()
      : request.command === "down"
      ? await handler.down(request.tunnel, request.session)
      : await handler.up(request.tunnel, request.session);
    return { ok: true, result: result ?? null };
  } catch (e) {
    const error = errorText(e);
    log.debug("Control socket: {what} failed: {error}", { what, error });
    return { ok: false, error };
  }
}

function describe(request: ControlRequest): string {
  if (request.command === "show" || request.command === "reload") return request.command;
  const target = request.session === undefined
    ? request.tunnel
    : `${request.tunnel}/${request.session}`;
  return `${request.command} ${target}`;
}

// --- Framing: one connection, line by line ------------------------------------------------------

/**
 * What {@linkcode serveConnection} needs of a connection (a `Deno.Conn` has it).
 *
 * @example Usage
 * ```ts
 * import type { ControlConnection } from "./control_protocol.ts";
 * const sink: ControlConnection = {
 *   read: () => Promise.resolve(null),
 *   write: (p) => Promise.resolve(p.length),
 *   close: () => {},
 * };
 * console.log(await sink.read(new Uint8Array(1))); // null
 * ```
 */
export type ControlConnection = Pick<Deno.Conn, "read" | "write" | "close">;

/**
 * How {@linkcode serveConnection} serves a connection.
 *
 * @example Usage
 * ```ts
 * import type { ServeConnectionOptions } from "./control_protocol.ts";
 * const options: ServeConnectionOptions = {
 *   handler: {
 *     show: () => Promise.resolve(null), reload: () => Promise.resolve(null),
 *     down: () => Promise.resolve(), up: () => Promise.resolve(),
 *   },
 *   timeoutMs: 2000,
 * };
 * console.log(options.timeoutMs); // 2000
 * ```
 */
export interface ServeConnectionOptions {
  /** What the commands do. */
  handler: ControlHandler;
  /** Logger (default: the `l2tpd.control` category). */
  logger?: Log;
  /** Longest request line in bytes (default {@linkcode MAX_REQUEST_BYTES}). */
  maxRequestBytes?: number;
  /** Time a client may take to send a request or read an answer (default {@linkcode CLIENT_TIMEOUT_MS}). */
  timeoutMs?: number;
}

/**
 * Serve one client connection until it closes its side, stalls, or sends a line that is too
 * long: each request line is answered, in order, with one answer line. A last request without
 * its newline is still answered when the client closes its side. The connection is closed when
 * this resolves; it never rejects.
 *
 * @param conn The client's connection.
 * @param options The handler and the limits.
 * @returns Resolves once the connection is done with and closed.
 *
 * @example Usage
 * ```ts
 * import { type ControlConnection, serveConnection } from "./control_protocol.ts";
 * // An in-memory connection: two requests in, the answers collected.
 * const input = [new TextEncoder().encode('{"command":"show"}\n{"command":"up"}\n')];
 * let output = "";
 * const conn: ControlConnection = {
 *   read(p) {
 *     const chunk = input.shift();
 *     if (chunk === undefined) return Promise.resolve(null);
 *     p.set(chunk);
 *     return Promise.resolve(chunk.length);
 *   },
 *   write(p) {
 *     output += new TextDecoder().decode(p);
 *     return Promise.resolve(p.length);
 *   },
 *   close() {},
 * };
 * await serveConnection(conn, {
 *   handler: {
 *     show: () => Promise.resolve({ tunnels: [] }), reload: () => Promise.resolve(null),
 *     down: () => Promise.resolve(), up: () => Promise.resolve(),
 *   },
 * });
 * console.log(output);
 * // {"ok":true,"result":{"tunnels":[]}}
 * // {"ok":false,"error":"Cannot run command \"up\": \"tunnel\" must be a tunnel's name ..."}
 * ```
 */
export async function serveConnection(
  conn: ControlConnection,
  options: ServeConnectionOptions,
): Promise<void> {
  const log = options.logger ?? getLog("control");
  const timeoutMs = options.timeoutMs ?? CLIENT_TIMEOUT_MS;
  const max = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
  const answer = (line: Uint8Array): Promise<ControlAnswer> =>
    answerRequest(line, options.handler, log);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      log.debug("Control socket: dropping a client that stalled for {ms} ms", { ms: timeoutMs });
      closeQuietly(conn);
    }, timeoutMs);
  };
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
          await writeAnswer(conn, await answer(buf.subarray(0, len)));
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
          await writeAnswer(conn, tooLong(max));
          return;
        }
        clearTimeout(timer);
        const reply = await answer(line);
        arm();
        await writeAnswer(conn, reply);
      }
      buf.copyWithin(0, start, len);
      len -= start;
      scanned = len;
      if (len > max) {
        await writeAnswer(conn, tooLong(max));
        return;
      }
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted)) {
      log.debug("Control socket: client connection failed: {error}", { error: errorText(e) });
    }
  } finally {
    clearTimeout(timer);
    closeQuietly(conn);
  }
}

/**
 * Write one answer as its line (JSON and a newline). A result that cannot be written as JSON is
 * sent as an error answer instead.
 *
 * @param conn The client's connection.
 * @param answer The answer.
 * @returns Resolves once every byte is written.
 * @throws {Error} when the connection fails (the client went away).
 *
 * @example Usage
 * ```ts
 * import { writeAnswer } from "./control_protocol.ts";
 * let line = "";
 * const conn = {
 *   write: (p: Uint8Array) => {
 *     line += new TextDecoder().decode(p);
 *     return Promise.resolve(p.length);
 *   },
 * };
 * await writeAnswer(conn, { ok: true, result: null });
 * console.log(JSON.stringify(line)); // "{\"ok\":true,\"result\":null}\n"
 * ```
 */
export async function writeAnswer(
  conn: Pick<ControlConnection, "write">,
  answer: ControlAnswer,
): Promise<void> {
  const data = answerLine(answer);
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
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

function closeQuietly(conn: Pick<ControlConnection, "close">): void {
  try {
    conn.close();
  } catch { /* closed already */ }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
