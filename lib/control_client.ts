/**
 * The client side of the control socket (see `control_server.ts` for the protocol): send one
 * request to the running daemon, read its answer. Failing to get an answer is a
 * {@linkcode ControlClientError} whose {@linkcode ControlClientError.reason} tells "no daemon"
 * from "not allowed" (the CLI's exit codes 3 and 4).
 *
 * @example Usage
 * ```ts
 * import { ControlClientError, sendControlRequest } from "./control_client.ts";
 * try {
 *   await sendControlRequest("/nonexistent/l2tpd.sock", { command: "show" });
 * } catch (e) {
 *   if (e instanceof ControlClientError) console.log(e.reason, e.message);
 *   // unreachable Cannot reach l2tpd at /nonexistent/l2tpd.sock: no daemon is listening ...
 * }
 * ```
 *
 * @module
 */

import { parse as parseToml } from "smol-toml";
import { type ControlAnswer, type ControlRequest, DEFAULT_SOCKET_PATH } from "./control_server.ts";

/**
 * Why no answer came: `unreachable` (nothing listens at the path, or the daemon went away),
 * `permission` (the socket's permissions keep us out), `protocol` (the daemon's answer was not
 * an answer, or did not come in time).
 *
 * @example Usage
 * ```ts
 * import type { ControlFailure } from "./control_client.ts";
 * const f: ControlFailure = "permission";
 * console.log(f);
 * ```
 */
export type ControlFailure = "unreachable" | "permission" | "protocol";

/**
 * No answer from the daemon; the message is one line that says what to do.
 *
 * @example Usage
 * ```ts
 * import { ControlClientError } from "./control_client.ts";
 * const e = new ControlClientError("unreachable", "Cannot reach l2tpd at /x.sock: ...");
 * console.log(e.reason); // unreachable
 * ```
 */
export class ControlClientError extends Error {
  /** Why no answer came. */
  readonly reason: ControlFailure;

  /** Make the error. */
  constructor(reason: ControlFailure, message: string) {
    super(message);
    this.name = "ControlClientError";
    this.reason = reason;
  }
}

/**
 * How long to wait for an answer.
 *
 * @example Usage
 * ```ts
 * import type { ControlClientOptions } from "./control_client.ts";
 * const o: ControlClientOptions = { timeoutMs: 5000 };
 * console.log(o.timeoutMs);
 * ```
 */
export interface ControlClientOptions {
  /** Milliseconds from connecting to the end of the answer (default 120000: a reload may take a while). */
  timeoutMs?: number;
}

/** The longest answer read (a status of very many tunnels fits many times over). */
const MAX_ANSWER_BYTES = 256 * 1024 * 1024;

/**
 * The error for a failed connection to the control socket at `path`.
 *
 * @param path The socket's path.
 * @param error What `Deno.connect` threw.
 * @returns The error to report.
 *
 * @example Usage
 * ```ts
 * import { connectError } from "./control_client.ts";
 * const e = connectError("/run/l2tpd/l2tpd.sock", new Deno.errors.PermissionDenied("EACCES"));
 * console.log(e.reason, e.message);
 * // permission Cannot reach l2tpd at /run/l2tpd/l2tpd.sock: permission denied (run as root ...)
 * ```
 */
export function connectError(path: string, error: unknown): ControlClientError {
  if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.ConnectionRefused) {
    return new ControlClientError(
      "unreachable",
      `Cannot reach l2tpd at ${path}: no daemon is listening (is it running? see --socket)`,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new ControlClientError(
      "permission",
      `Cannot reach l2tpd at ${path}: permission denied (run as root or as a member of the ` +
        "socket's group)",
    );
  }
  if (error instanceof Deno.errors.NotCapable) {
    return new ControlClientError(
      "permission",
      `Cannot reach l2tpd at ${path}: Deno does not allow it (run with --allow-read and ` +
        "--allow-write, or -A)",
    );
  }
  const detail = error instanceof Error ? error.message : String(error);
  return new ControlClientError("unreachable", `Cannot reach l2tpd at ${path}: ${detail}`);
}

/**
 * Send one request to the daemon's control socket and read its answer.
 *
 * @param path The control socket.
 * @param request The request.
 * @param options The timeout.
 * @returns The daemon's answer (`ok` false when it refused or failed the command).
 * @throws {ControlClientError} when no answer came.
 *
 * @example Usage
 * ```ts ignore
 * import { sendControlRequest } from "./control_client.ts";
 * const answer = await sendControlRequest("/run/l2tpd/l2tpd.sock", { command: "down", tunnel: "t1" });
 * if (!answer.ok) console.error(answer.error);
 * ```
 */
export async function sendControlRequest(
  path: string,
  request: ControlRequest,
  options: ControlClientOptions = {},
): Promise<ControlAnswer> {
  const timeoutMs = options.timeoutMs ?? 120_000;
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (e) {
    throw connectError(path, e);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch { /* closed already */ }
  }, timeoutMs);
  try {
    const data = new TextEncoder().encode(JSON.stringify(request) + "\n");
    for (let off = 0; off < data.length;) off += await conn.write(data.subarray(off));
    const line = await readLine(conn);
    if (line === undefined) {
      throw new ControlClientError(
        "unreachable",
        `Cannot reach l2tpd at ${path}: the daemon closed the connection without answering ` +
          "(is it shutting down?)",
      );
    }
    return parseAnswer(path, line);
  } catch (e) {
    if (e instanceof ControlClientError) throw e;
    if (timedOut) {
      throw new ControlClientError(
        "protocol",
        `Cannot get an answer from l2tpd at ${path}: none came within ${timeoutMs / 1000} s`,
      );
    }
    const detail = e instanceof Error ? e.message : String(e);
    throw new ControlClientError("unreachable", `Cannot reach l2tpd at ${path}: ${detail}`);
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed already */ }
  }
}

/** The first line the daemon sends (without its newline), or undefined at end of stream. */
async function readLine(conn: Deno.Conn): Promise<string | undefined> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const scratch = new Uint8Array(64 * 1024);
  while (true) {
    const n = await conn.read(scratch);
    if (n === null) return undefined;
    const nl = scratch.subarray(0, n).indexOf(0x0a);
    chunks.push(scratch.slice(0, nl >= 0 ? nl : n));
    total += nl >= 0 ? nl : n;
    if (nl >= 0) break;
    if (total > MAX_ANSWER_BYTES) {
      throw new ControlClientError(
        "protocol",
        `Cannot read the daemon's answer: longer than ${MAX_ANSWER_BYTES} bytes`,
      );
    }
  }
  const bytes = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.length;
  }
  return new TextDecoder().decode(bytes);
}

function parseAnswer(path: string, line: string): ControlAnswer {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    value = undefined;
  }
  const a = value as Record<string, unknown> | undefined;
  if (a?.ok === true && "result" in a) return { ok: true, result: a.result };
  if (a?.ok === false && typeof a.error === "string") return { ok: false, error: a.error };
  throw new ControlClientError(
    "protocol",
    `Cannot understand the answer of ${path}: ${JSON.stringify(line.slice(0, 200))} is not a ` +
      "control socket answer (is that socket l2tpd's?)",
  );
}

/**
 * The control socket a CLI command talks to: `--socket` when given, else the `[daemon]` table's
 * `socket` in the configuration file (when the file can be read and sets it), else
 * {@linkcode DEFAULT_SOCKET_PATH}. The file is only looked at, not validated: a broken
 * configuration must not keep an operator from `show`.
 *
 * @param flag The `--socket` value, if given.
 * @param configPath The configuration file the daemon was started with.
 * @returns The socket's path.
 *
 * @example Usage
 * ```ts
 * import { resolveSocketPath } from "./control_client.ts";
 * console.log(await resolveSocketPath("/tmp/l2tpd.sock")); // /tmp/l2tpd.sock
 * console.log(await resolveSocketPath(undefined, "/nonexistent.toml")); // /run/l2tpd/l2tpd.sock
 * ```
 */
export async function resolveSocketPath(flag?: string, configPath?: string): Promise<string> {
  if (flag !== undefined) return flag;
  if (configPath === undefined) return DEFAULT_SOCKET_PATH;
  try {
    const doc = parseToml(await Deno.readTextFile(configPath)) as Record<string, unknown>;
    const daemon = doc.daemon as Record<string, unknown> | undefined;
    const socket = daemon?.socket;
    if (typeof socket === "string" && socket !== "") return socket;
  } catch {
    // Unreadable (not root) or invalid: the daemon's own default then.
  }
  return DEFAULT_SOCKET_PATH;
}
