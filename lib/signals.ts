/**
 * The process-wide events a running daemon answers: SIGINT and SIGTERM (shut down), SIGHUP
 * (reload), SIGUSR1 (log the status), and an unhandled promise rejection (a bug: shut down
 * cleanly rather than die with the kernel half-programmed). {@linkcode listenForSignals} wires
 * them to a daemon's handlers until it is closed; `service.ts` says what the daemon does.
 *
 * @example Usage
 * ```ts
 * import { listenForSignals } from "./signals.ts";
 * using _signals = listenForSignals({
 *   stop: (signal) => console.log(`${signal}: shutting down`),
 *   reload: () => console.log("SIGHUP: reloading"),
 *   status: () => console.log("SIGUSR1: status"),
 *   internalError: (reason) => console.log("internal error", reason),
 * });
 * // ... run until stop() is called; the listeners go when _signals goes out of scope.
 * ```
 *
 * @module
 */

import type { Log } from "./log.ts";

/**
 * What a daemon does on each signal (and on an unhandled promise rejection).
 *
 * @example Usage
 * ```ts
 * import type { SignalHandlers } from "./signals.ts";
 * const stop = new AbortController();
 * const handlers: SignalHandlers = {
 *   stop: () => stop.abort(),
 *   reload: () => {},
 *   status: () => {},
 *   internalError: () => stop.abort(),
 * };
 * handlers.stop("SIGTERM");
 * console.log(stop.signal.aborted); // true
 * ```
 */
export interface SignalHandlers {
  /** SIGINT or SIGTERM arrived (each time it does). */
  stop(signal: "SIGINT" | "SIGTERM"): void;
  /** SIGHUP arrived: re-read the configuration. */
  reload(): void;
  /** SIGUSR1 arrived: report the status. */
  status(): void;
  /**
   * A promise was rejected and nobody handled it: `reason` is what it was rejected with. It is
   * not reported further (Deno would end the process).
   */
  internalError(reason: unknown): void;
}

/**
 * The installed listeners; {@linkcode SignalListeners.close} removes them.
 *
 * @example Usage
 * ```ts
 * import { listenForSignals, type SignalListeners } from "./signals.ts";
 * const listeners: SignalListeners = listenForSignals({
 *   stop: () => {}, reload: () => {}, status: () => {}, internalError: () => {},
 * });
 * listeners.close();
 * ```
 */
export interface SignalListeners extends Disposable {
  /** Remove every listener (idempotent). */
  close(): void;
}

/**
 * Listen for SIGINT, SIGTERM, SIGHUP, SIGUSR1 and unhandled promise rejections, and call
 * `handlers` for each, until the result is closed.
 *
 * @param handlers What to do on each.
 * @returns The listeners, to close when the daemon is done.
 *
 * @example Usage
 * ```ts
 * import { listenForSignals } from "./signals.ts";
 * let internal: unknown;
 * const listeners = listenForSignals({
 *   stop: () => {}, reload: () => {}, status: () => {},
 *   internalError: (reason) => internal = reason,
 * });
 * Promise.reject(new Error("a bug"));
 * await new Promise((r) => setTimeout(r, 10));
 * listeners.close();
 * console.log(internal instanceof Error && internal.message); // a bug
 * ```
 */
export function listenForSignals(handlers: SignalHandlers): SignalListeners {
  const onRejection = (e: PromiseRejectionEvent): void => {
    e.preventDefault();
    handlers.internalError(e.reason);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  const listeners: [Deno.Signal, () => void][] = [
    ["SIGINT", () => handlers.stop("SIGINT")],
    ["SIGTERM", () => handlers.stop("SIGTERM")],
    ["SIGHUP", () => handlers.reload()],
    ["SIGUSR1", () => handlers.status()],
  ];
  for (const [signal, listener] of listeners) Deno.addSignalListener(signal, listener);
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    globalThis.removeEventListener("unhandledrejection", onRejection);
  };
  return { close, [Symbol.dispose]: close };
}

/**
 * The `stop` handler every daemon here uses: the first SIGINT or SIGTERM aborts `controller`
 * (a clean shutdown), a second one while it shuts down ends the process at once (exit 1,
 * without the cleanup).
 *
 * @param log Where the lines go.
 * @param controller What the daemon's run waits on.
 * @returns The handler, for {@linkcode SignalHandlers.stop}.
 *
 * @example Usage
 * ```ts
 * import { stopHandler } from "./signals.ts";
 * import { getLog } from "./log.ts";
 * const controller = new AbortController();
 * stopHandler(getLog("example"), controller)("SIGTERM");
 * console.log(controller.signal.aborted); // true
 * ```
 */
export function stopHandler(
  log: Log,
  controller: AbortController,
): (signal: "SIGINT" | "SIGTERM") => void {
  return (signal) => {
    if (controller.signal.aborted) {
      log.error("{signal} received again: exiting now, without cleanup", { signal });
      Deno.exit(1);
    }
    log.info("{signal} received: shutting down", { signal });
    controller.abort();
  };
}

/**
 * Resolve once `signal` aborts (at once if it has).
 *
 * @param signal The signal.
 * @returns When it aborts.
 *
 * @example Usage
 * ```ts
 * import { waitForAbort } from "./signals.ts";
 * const stop = new AbortController();
 * setTimeout(() => stop.abort(), 10);
 * await waitForAbort(stop.signal);
 * console.log(stop.signal.aborted); // true
 * ```
 */
export function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}
