/**
 * Helpers shared by the control socket tests: a stale socket file and a raw client connection.
 *
 * @module
 */

import assert from "node:assert/strict";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Leave a socket file nobody listens on at `path`, as a daemon killed with SIGKILL does. (Deno's
 * UnixListener.close() unlinks the path it listened on, so listen elsewhere and rename.)
 */
export async function staleSocket(path: string): Promise<void> {
  const listener = Deno.listen({ transport: "unix", path: `${path}.tmp` });
  await Deno.rename(`${path}.tmp`, path);
  listener.close();
  assert.ok((await Deno.lstat(path)).isSocket);
}

/** A raw connection: write bytes, read answer lines. */
export class Raw {
  readonly #conn: Deno.UnixConn;
  #buffered = "";

  private constructor(conn: Deno.UnixConn) {
    this.#conn = conn;
  }

  /** Connect to the control socket at `path`. */
  static async open(path: string): Promise<Raw> {
    return new Raw(await Deno.connect({ transport: "unix", path }));
  }

  /** Write all of `data`. */
  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    for (let off = 0; off < bytes.length;) off += await this.#conn.write(bytes.subarray(off));
  }

  /** The next line, or undefined once the server closed the connection. */
  async line(): Promise<string | undefined> {
    const buf = new Uint8Array(65536);
    while (!this.#buffered.includes("\n")) {
      let n: number | null;
      try {
        n = await this.#conn.read(buf);
      } catch {
        n = null; // reset by the server
      }
      if (n === null) return undefined;
      this.#buffered += decoder.decode(buf.subarray(0, n));
    }
    const nl = this.#buffered.indexOf("\n");
    const line = this.#buffered.slice(0, nl);
    this.#buffered = this.#buffered.slice(nl + 1);
    return line;
  }

  /** The next line as a JSON answer (the server must answer). */
  async answer(): Promise<{ ok: boolean; result?: unknown; error?: string }> {
    const line = await this.line();
    assert.ok(line !== undefined, "the server closed the connection without answering");
    return JSON.parse(line);
  }

  /** Close the connection (again is fine). */
  close(): void {
    try {
      this.#conn.close();
    } catch { /* closed */ }
  }
}
