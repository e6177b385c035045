/**
 * One hook's command, run to its end: spawned in its own process group with the event's
 * environment, its output captured (a bounded amount) and logged at debug level, killed after
 * its timeout (SIGTERM to the group, then SIGKILL), and its failure logged as a warning
 * ({@linkcode runHookProcess}); with the small process helpers the runner of `hooks.ts` shares.
 *
 * @example Usage
 * ```ts
 * import { runHookProcess } from "./hooks_process.ts";
 * import { getLog } from "./log.ts";
 * const out = await Deno.makeTempFile();
 * await runHookProcess({
 *   name: "on_up",
 *   hook: { shell: `echo "$L2TPD_EVENT $L2TPD_TUNNEL" > '${out}'` },
 *   event: {
 *     type: "tunnel-up", time: "", tunnel: "t1", version: 3, encap: "ip", localTunnelId: 1,
 *     peerTunnelId: 2, peer: { address: "192.0.2.2", port: 0 },
 *   },
 *   env: { L2TPD_EVENT: "tunnel-up", L2TPD_TUNNEL: "t1" },
 * }, {
 *   timeoutMs: 5000, killGraceMs: 1000, outputLimit: 4096, log: getLog("hooks"),
 *   children: new Set(), onFailure: () => console.log("failed"),
 * });
 * console.log(await Deno.readTextFile(out)); // tunnel-up t1
 * await Deno.remove(out);
 * ```
 *
 * @module
 */

import type { Hook } from "./config.ts";
import type { L2tpEvent } from "./events.ts";
import { commandEnvironment, describeEventTarget, eventLogContext } from "./hooks_env.ts";
import type { Log } from "./log.ts";

/**
 * One run of a hook: which hook, its command, the event it runs for and that event's `L2TPD_*`
 * variables.
 *
 * @example Usage
 * ```ts
 * import type { HookJob } from "./hooks_process.ts";
 * const job: HookJob = {
 *   name: "on_down",
 *   hook: { argv: ["logger", "down"] },
 *   event: { type: "tunnel-down", time: "", tunnel: "t1", localTunnelId: 1, reason: "closed" },
 *   env: { L2TPD_EVENT: "tunnel-down", L2TPD_TUNNEL: "t1" },
 * };
 * console.log(job.name); // on_down
 * ```
 */
export interface HookJob {
  /** `on_up` or `on_down`, for messages. */
  name: "on_up" | "on_down";
  /** The command: an argv array, or a `/bin/sh -c` string. */
  hook: Hook;
  /** The event it runs for. */
  event: L2tpEvent;
  /** The event's variables ({@linkcode hookEnvironment}). */
  env: Record<string, string>;
}

/**
 * What {@linkcode runHookProcess} takes from its runner: the limits, the logger, the set of
 * running commands and how to count a failure.
 *
 * @example Usage
 * ```ts
 * import type { HookProcessContext } from "./hooks_process.ts";
 * import { getLog } from "./log.ts";
 * let failed = 0;
 * const context: HookProcessContext = {
 *   timeoutMs: 10_000, killGraceMs: 2_000, outputLimit: 4096, log: getLog("hooks"),
 *   children: new Set(), onFailure: () => failed++,
 * };
 * console.log(context.timeoutMs, failed); // 10000 0
 * ```
 */
export interface HookProcessContext {
  /** How long the command may run before it is killed (SIGTERM), in milliseconds. */
  readonly timeoutMs: number;
  /** After that SIGTERM, how long until SIGKILL, in milliseconds. */
  readonly killGraceMs: number;
  /** Bytes of stdout and of stderr kept for the debug log. */
  readonly outputLimit: number;
  /** Logger; each line gets the event's tunnel and session as context. */
  readonly log: Log;
  /** The running commands: the command is in it from its start until it exits. */
  readonly children: Set<Deno.ChildProcess>;
  /** Called once when the run fails (not started, exit status not 0, or killed), before the warning. */
  onFailure(): void;
}

/**
 * How long to wait for the output of a command after it exited (a background process may hold
 * its pipes), in milliseconds.
 *
 * @example Usage
 * ```ts
 * import { HOOK_OUTPUT_GRACE_MS } from "./hooks_process.ts";
 * console.log(HOOK_OUTPUT_GRACE_MS); // 200
 * ```
 */
export const HOOK_OUTPUT_GRACE_MS = 200;

/**
 * Run one hook's command to its end; resolves once it has exited (and its output has been read,
 * at most {@linkcode HOOK_OUTPUT_GRACE_MS} after). A failure is counted
 * (`context.onFailure`) and logged as a warning, never thrown.
 *
 * @param job What to run, and for which event.
 * @param context Limits, logger, running commands, failure counter.
 * @returns Resolves when the run is over.
 *
 * @example Usage
 * ```ts
 * import { runHookProcess } from "./hooks_process.ts";
 * import { getLog } from "./log.ts";
 * let failures = 0;
 * await runHookProcess({
 *   name: "on_up",
 *   hook: { argv: ["false"] },
 *   event: {
 *     type: "tunnel-up", time: "", tunnel: "t1", version: 3, encap: "ip", localTunnelId: 1,
 *     peerTunnelId: 2, peer: { address: "192.0.2.2", port: 0 },
 *   },
 *   env: {},
 * }, {
 *   timeoutMs: 5000, killGraceMs: 1000, outputLimit: 4096, log: getLog("hooks"),
 *   children: new Set(), onFailure: () => failures++,
 * });
 * console.log(failures); // 1
 * ```
 */
export async function runHookProcess(job: HookJob, context: HookProcessContext): Promise<void> {
  const e = job.event;
  const log = context.log.with(eventLogContext(e));
  const argv = "argv" in job.hook ? job.hook.argv : ["/bin/sh", "-c", job.hook.shell];
  const command = "argv" in job.hook ? JSON.stringify(job.hook.argv) : job.hook.shell;
  const what = { hook: job.name, what: describeEventTarget(e), event: e.type, command };
  const start = Date.now();
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      ...commandEnvironment(job.env),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true, // its own process group, so that a timeout kills what it started too
    }).spawn();
  } catch (error) {
    context.onFailure();
    log.warn("Hook {hook} of {what} failed ({event}): cannot start it: {error}", {
      ...what,
      error: error instanceof Error ? error.message : String(error),
    });
    return;
  }
  context.children.add(child);
  const stdout = collectOutput(child.stdout, context.outputLimit);
  const stderr = collectOutput(child.stderr, context.outputLimit);
  let exited = false;
  let timedOut = false;
  let kill: ReturnType<typeof setTimeout> | undefined;
  const term = setTimeout(() => {
    if (exited) return;
    timedOut = true;
    signalGroup(child, "SIGTERM");
    kill = setTimeout(() => {
      if (!exited) signalGroup(child, "SIGKILL");
    }, context.killGraceMs);
  }, context.timeoutMs);
  let status: Deno.CommandStatus;
  try {
    status = await child.status;
  } finally {
    exited = true;
    clearTimeout(term);
    clearTimeout(kill);
    context.children.delete(child);
  }
  const outputs = Promise.all([stdout.done, stderr.done]);
  if (!await settlesWithin(outputs, HOOK_OUTPUT_GRACE_MS)) {
    stdout.cancel();
    stderr.cancel();
  }
  const [out, err] = await outputs;
  const ms = Date.now() - start;
  if (out !== "" || err !== "") {
    log.debug("Hook {hook} of {what} ({event}) wrote output", {
      ...what,
      stdout: out,
      stderr: err,
    });
  }
  if (status.success && !timedOut) {
    log.debug("Hook {hook} of {what} ({event}) done in {ms} ms", { ...what, ms });
    return;
  }
  context.onFailure();
  const how = status.signal !== null ? `killed by ${status.signal}` : `exit status ${status.code}`;
  const result = timedOut ? `timed out after ${context.timeoutMs} ms (hook_timeout), ${how}` : how;
  log.warn("Hook {hook} of {what} failed ({event}): {result}", {
    ...what,
    result,
    ms,
    stderr: err.length > 500 ? `...${err.slice(-500)}` : err,
  });
}

/**
 * Signal a command's process group (it leads one: `detached`), or the command alone; nothing
 * when it has exited.
 *
 * @param child The command.
 * @param signal The signal.
 *
 * @example Usage
 * ```ts
 * import { signalGroup } from "./hooks_process.ts";
 * const child = new Deno.Command("sleep", { args: ["10"], detached: true }).spawn();
 * signalGroup(child, "SIGTERM");
 * console.log((await child.status).signal); // SIGTERM
 * ```
 */
export function signalGroup(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    Deno.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // It has exited meanwhile.
    }
  }
}

/**
 * Read a stream to its end, keeping its first `limit` bytes as text (and how many were cut).
 *
 * @param stream The stream (a command's stdout or stderr).
 * @param limit Bytes kept.
 * @returns `done`, the text once the stream has ended (or was cancelled); `cancel`, to stop
 *   reading.
 *
 * @example Usage
 * ```ts
 * import { collectOutput } from "./hooks_process.ts";
 * const stream = ReadableStream.from([new TextEncoder().encode("hello world")]);
 * console.log(await collectOutput(stream, 5).done); // hello... (6 more bytes)
 * ```
 */
export function collectOutput(
  stream: ReadableStream<Uint8Array>,
  limit: number,
): { done: Promise<string>; cancel(): void } {
  const reader = stream.getReader();
  const done = (async () => {
    const kept = new Uint8Array(limit);
    let length = 0;
    let total = 0;
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        total += value.length;
        const part = value.subarray(0, limit - length);
        kept.set(part, length);
        length += part.length;
      }
    } catch {
      // Cancelled, or the pipe broke: keep what was read.
    }
    const text = new TextDecoder().decode(kept.subarray(0, length));
    return total > length ? `${text}... (${total - length} more bytes)` : text;
  })();
  return { done, cancel: () => void reader.cancel().catch(() => {}) };
}

/**
 * Whether `promise` settles within `ms` (the timer is cleared either way).
 *
 * @param promise The promise.
 * @param ms The time, in milliseconds.
 * @returns Resolves to true when it settled in time, false otherwise.
 *
 * @example Usage
 * ```ts
 * import { settlesWithin } from "./hooks_process.ts";
 * console.log(await settlesWithin(Promise.resolve(), 10)); // true
 * console.log(await settlesWithin(new Promise(() => {}), 10)); // false
 * ```
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
