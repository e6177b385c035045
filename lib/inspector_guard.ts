/**
 * Keep SIGUSR1 from opening the V8 inspector.
 *
 * Since 2.9.2, Deno (like Node) starts its inspector on 127.0.0.1:9229 when the process receives
 * SIGUSR1 (it installs that handler half a second after start). For a daemon running as root
 * that would hand any local user who can send the signal, or who can reach that port once it is
 * open, the means to run code as root. A JavaScript SIGUSR1 listener does not stop it (Deno runs
 * both), and there is no flag or environment variable to turn it off.
 *
 * What does stop it: the inspector only ever binds 127.0.0.1:9229, and gives up when it cannot.
 * {@linkcode reserveInspectorPort} binds a TCP socket there without listening on it (and without
 * `SO_REUSEADDR`), so the inspector's bind fails ("Failed to start inspector server", which Deno
 * prints on stderr) while a connection to 127.0.0.1:9229 is refused: nothing listens there. The
 * cost: while the daemon runs, no other program on the host can use 127.0.0.1:9229 (another
 * `deno --inspect` or `node --inspect` needs another port then).
 *
 * @example Usage
 * ```ts
 * import { reserveInspectorPort } from "./inspector_guard.ts";
 * const guard = reserveInspectorPort();
 * console.log(guard.state); // "held", or "in-use" when another program has the port
 * guard.close();
 * ```
 *
 * @module
 */

import { errno, libc, strerror } from "../dataplane/ffi/libc.ts";
import { AF_INET, encodeSockaddrIn } from "../dataplane/ffi/sockaddr.ts";

/**
 * The address Deno's SIGUSR1 handler opens the inspector on.
 *
 * @example Usage
 * ```ts
 * import { INSPECTOR_ADDRESS } from "./inspector_guard.ts";
 * console.log(`${INSPECTOR_ADDRESS.address}:${INSPECTOR_ADDRESS.port}`); // 127.0.0.1:9229
 * ```
 */
export const INSPECTOR_ADDRESS: { readonly address: string; readonly port: number } = Object
  .freeze({ address: "127.0.0.1", port: 9229 });

const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const EADDRINUSE = 98;

/**
 * The reservation: `held` (our socket has the port), or `in-use` (another program has it, so
 * the inspector cannot bind it either, but it is not ours to keep).
 *
 * @example Usage
 * ```ts
 * import type { InspectorGuard } from "./inspector_guard.ts";
 * function report(g: InspectorGuard): string {
 *   return g.state === "held" ? "guarded" : "port taken by another program";
 * }
 * ```
 */
export interface InspectorGuard extends Disposable {
  /** Whether we hold the port. */
  readonly state: "held" | "in-use";
  /** Give the port back. Idempotent. */
  close(): void;
}

/**
 * Bind 127.0.0.1:9229 (without listening) so that Deno cannot open its inspector there.
 *
 * @returns The reservation.
 * @throws {Error} when libc cannot be loaded (no `--allow-ffi`) or the socket cannot be made.
 *
 * @example Usage
 * ```ts
 * import { reserveInspectorPort } from "./inspector_guard.ts";
 * using guard = reserveInspectorPort();
 * console.log(guard.state);
 * ```
 */
export function reserveInspectorPort(): InspectorGuard {
  const c = libc();
  const fd = c.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    const code = errno();
    throw new Error(`Cannot reserve the inspector's port: socket: ${strerror(code)}`);
  }
  const sa = encodeSockaddrIn(INSPECTOR_ADDRESS) as Uint8Array<ArrayBuffer>;
  if (c.bind(fd, sa, sa.length) < 0) {
    const code = errno();
    c.close(fd);
    if (code === EADDRINUSE) return released("in-use");
    throw new Error(
      `Cannot reserve the inspector's port ${INSPECTOR_ADDRESS.address}:` +
        `${INSPECTOR_ADDRESS.port}: bind: ${strerror(code)}`,
    );
  }
  let open = true;
  const close = (): void => {
    if (!open) return;
    open = false;
    c.close(fd);
  };
  return { state: "held", close, [Symbol.dispose]: close };
}

function released(state: "in-use"): InspectorGuard {
  const close = (): void => {};
  return { state, close, [Symbol.dispose]: close };
}
