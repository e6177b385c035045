/**
 * Hooks: the `on_up` and `on_down` commands of tunnels and sessions, run when they come up and go
 * down. This is how an operator acts on a new Ethernet pseudowire, for example by adding its
 * interface to a bridge or giving it an address.
 *
 * {@linkcode attachHooks} listens to a {@linkcode Context}'s events and runs, for `tunnel-up` /
 * `tunnel-down`, the tunnel's hook and, for `session-up` / `session-down`, the session's. Each
 * command gets the daemon's environment plus `L2TPD_*` variables describing the event (see
 * {@linkcode hookEnvironment}).
 *
 * The protocol never waits for a hook: the event listener only looks the hook up and queues a
 * run. Runs are asynchronous and bounded: at most `maxRunning` commands at once (default 8), at
 * most `maxQueued` runs waiting (default 1000; beyond that runs are dropped, counted, and a
 * rate-limited warning says so), each killed after `timeoutMs` (default 10 s; SIGTERM to its
 * process group, then SIGKILL `killGraceMs` later). Their output is captured (a bounded amount)
 * and logged at debug level. A hook that fails (exit status not 0, killed, or not started at
 * all) is logged as a warning and changes nothing else: the session stays up.
 *
 * Runs are ordered per session: a session's `on_down` starts after its `on_up` has finished, a
 * session's first hook after its tunnel's `on_up`, and a tunnel's `on_down` after the hooks of
 * its sessions. The `on_down` that runs is the one configured when the tunnel or session came up
 * (it is captured then), so it still runs after a reload removed the session from the
 * configuration; a down event without an up seen by these hooks runs nothing.
 *
 * This module is the entry: {@linkcode attachHooks} and the {@linkcode HookRunner}, which orders
 * and bounds the runs. Its parts, each importing only those below it:
 * - `hooks_process.ts`: one run of a command (spawn, timeout, output, result);
 * - `hooks_env.ts`: the `L2TPD_*` variables and the environment of a command;
 * - `hooks_options.ts`: the hooks, the options and defaults, the counters, and
 *   {@linkcode hooksInConfig}.
 *
 * @example Usage
 * ```ts
 * import { Context } from "./context.ts";
 * import { NullDataPlane } from "../dataplane/null.ts";
 * import { attachHooks } from "./hooks.ts";
 *
 * const out = await Deno.makeTempFile();
 * const ctx = new Context({ dataplane: new NullDataPlane() });
 * const hooks = attachHooks(ctx, {
 *   hooksFor: (_tunnel, session) =>
 *     session === undefined ? undefined : {
 *       onUp: { shell: `echo "$L2TPD_EVENT $L2TPD_INTERFACE" >> '${out}'` },
 *       onDown: { argv: ["sh", "-c", `echo "$L2TPD_EVENT $L2TPD_REASON" >> '${out}'`] },
 *     },
 * });
 * const t = await ctx.newStaticTunnel("t1", {
 *   mode: "static", version: 3, encap: "ip", managed: false,
 *   local: { address: "192.0.2.1", port: 0 }, peer: { address: "192.0.2.2", port: 0 },
 *   tid: 1, ptid: 2,
 * });
 * await t.newSession("s1", {
 *   sid: 10, psid: 20, pseudowire: "eth", sendSeqnum: false, recvSeqnum: false,
 *   l2specType: "none",
 * });
 * await ctx.close(); // the session goes down: its on_down is queued after its on_up
 * await hooks.close(); // waits for both
 * console.log(await Deno.readTextFile(out)); // session-up l2tpeth0\nsession-down closed
 * await Deno.remove(out);
 * ```
 *
 * @module
 */

import type { Hook } from "./config.ts";
import type {
  L2tpEvent,
  SessionDownEvent,
  SessionUpEvent,
  TunnelDownEvent,
  TunnelUpEvent,
} from "./events.ts";
import { describeEventTarget, eventLogContext, hookEnvironment } from "./hooks_env.ts";
import {
  type EventHooks,
  HOOK_DEFAULTS,
  type HookOptions,
  type HookSource,
  type HookStats,
} from "./hooks_options.ts";
import {
  HOOK_OUTPUT_GRACE_MS,
  type HookJob,
  type HookProcessContext,
  runHookProcess,
  settlesWithin,
  signalGroup,
} from "./hooks_process.ts";
import { getLog, type Log } from "./log.ts";

export { HOOK_VARIABLES, hookEnvironment } from "./hooks_env.ts";
export {
  type EventHooks,
  HOOK_DEFAULTS,
  type HookOptions,
  hooksInConfig,
  type HookSource,
  type HookStats,
} from "./hooks_options.ts";

/**
 * Run the `on_up` / `on_down` hooks of a source's tunnels and sessions (see the module
 * documentation for what runs when, with what, and within which limits).
 *
 * @param source Where events come from (a {@linkcode Context}).
 * @param options Where hooks are configured, and limits.
 * @returns The runner; {@linkcode HookRunner.close} it after the source is closed, so that the
 * down hooks of the last events run.
 *
 * @example Usage
 * ```ts
 * import { attachHooks } from "./hooks.ts";
 * import { EventHub } from "./events.ts";
 * const hub = new EventHub();
 * const hooks = attachHooks({ onEvent: (l) => hub.listen(l) }, {
 *   hooksFor: () => ({ onUp: { argv: ["true"] } }),
 * });
 * hub.publish({
 *   type: "tunnel-up", time: "", tunnel: "t1", version: 3, encap: "ip", localTunnelId: 1,
 *   peerTunnelId: 2, peer: { address: "192.0.2.2", port: 0 },
 * });
 * await hooks.close();
 * console.log(hooks.stats); // { running: 0, queued: 0, started: 1, failed: 0, dropped: 0 }
 * ```
 */
export function attachHooks(source: HookSource, options: HookOptions): HookRunner {
  return new HookRunner(source, options);
}

/** What an up event left for its down event: the hook to run, and the up event's fields. */
interface Captured {
  onDown: Hook;
  event: L2tpEvent;
}

/** The hooks of one tunnel (one control connection of it): ups captured, runs in order. */
interface TunnelState {
  up?: Captured;
  sessionsUp: Map<number, Captured>;
  tail?: Promise<void>;
  sessionTails: Map<number, Promise<void>>;
}

/**
 * Runs hooks for a source's events; made by {@linkcode attachHooks}.
 *
 * @example Usage
 * ```ts
 * import { HookRunner } from "./hooks.ts";
 * import { EventHub } from "./events.ts";
 * const hub = new EventHub();
 * await using hooks = new HookRunner({ onEvent: (l) => hub.listen(l) }, {
 *   hooksFor: () => undefined,
 * });
 * console.log(hooks.stats.started); // 0
 * ```
 */
export class HookRunner implements AsyncDisposable {
  readonly #hooksFor: (tunnel: string, session?: string) => EventHooks | undefined;
  readonly #log: Log;
  readonly #timeoutMs: number;
  readonly #killGraceMs: number;
  readonly #maxQueued: number;
  readonly #closeTimeoutMs: number;
  readonly #unsubscribe: () => void;
  readonly #tunnels = new Map<string, TunnelState>();
  readonly #runs = new Set<Promise<void>>();
  readonly #children = new Set<Deno.ChildProcess>();
  readonly #process: HookProcessContext;
  readonly #waiting: (() => void)[] = [];
  #free: number;
  #running = 0;
  #queued = 0;
  #started = 0;
  #failed = 0;
  #dropped = 0;
  #unreportedDrops = 0;
  #lastDropWarning = -Infinity;
  #abandoned = false;
  #closing?: Promise<void>;

  /**
   * Start listening to `source`'s events.
   *
   * @param source Where events come from.
   * @param options Where hooks are configured, and limits.
   */
  constructor(source: HookSource, options: HookOptions) {
    const positive = (name: string, v: number | undefined, fallback: number): number => {
      if (v === undefined) return fallback;
      if (!Number.isInteger(v) || v < 1) {
        throw new RangeError(`Cannot attach hooks: ${name} ${v} is not a positive integer`);
      }
      return v;
    };
    this.#hooksFor = options.hooksFor;
    this.#log = options.logger ?? getLog("hooks");
    this.#timeoutMs = positive("timeoutMs", options.timeoutMs, HOOK_DEFAULTS.timeoutMs);
    this.#killGraceMs = positive("killGraceMs", options.killGraceMs, HOOK_DEFAULTS.killGraceMs);
    this.#free = positive("maxRunning", options.maxRunning, HOOK_DEFAULTS.maxRunning);
    this.#maxQueued = positive("maxQueued", options.maxQueued, HOOK_DEFAULTS.maxQueued);
    const outputLimit = positive("outputLimit", options.outputLimit, HOOK_DEFAULTS.outputLimit);
    this.#closeTimeoutMs = positive(
      "closeTimeoutMs",
      options.closeTimeoutMs,
      this.#timeoutMs + this.#killGraceMs + 1000,
    );
    this.#process = {
      timeoutMs: this.#timeoutMs,
      killGraceMs: this.#killGraceMs,
      outputLimit,
      log: this.#log,
      children: this.#children,
      onFailure: () => void this.#failed++,
    };
    this.#unsubscribe = source.onEvent((e) => this.#onEvent(e));
  }

  /** Counters: running, queued, started, failed and dropped runs. */
  get stats(): HookStats {
    return {
      running: this.#running,
      queued: this.#queued,
      started: this.#started,
      failed: this.#failed,
      dropped: this.#dropped,
    };
  }

  /**
   * Wait until no hook runs or waits (runs queued meanwhile are waited for too).
   *
   * @returns Resolves when idle.
   */
  async idle(): Promise<void> {
    while (this.#runs.size > 0) await Promise.all([...this.#runs]);
  }

  /**
   * Stop listening, then wait for the queued and running hooks, at most `closeTimeoutMs`; what
   * still runs then is killed (SIGKILL) and what waits is skipped, with a warning. Close the
   * source first, so that the down hooks of its last events are queued. Idempotent.
   *
   * @returns Resolves once every run has ended.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#unsubscribe();
      if (!await settlesWithin(this.idle(), this.#closeTimeoutMs)) {
        this.#abandoned = true;
        this.#log.warn(
          "Hooks still busy {closeTimeoutMs} ms after close: killing {running} running, " +
            "skipping {queued} queued",
          { closeTimeoutMs: this.#closeTimeoutMs, running: this.#running, queued: this.#queued },
        );
        for (const child of this.#children) signalGroup(child, "SIGKILL");
        await settlesWithin(this.idle(), 1000 + HOOK_OUTPUT_GRACE_MS);
      }
      this.#reportDrops(true);
      this.#tunnels.clear();
    })();
    return this.#closing;
  }

  /** {@linkcode HookRunner.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** The listener: look the hook up and queue its run; never throws, never waits. */
  #onEvent(e: L2tpEvent): void {
    try {
      switch (e.type) {
        case "tunnel-up":
        case "session-up":
          return this.#up(e);
        case "tunnel-down":
        case "session-down":
          return this.#down(e);
        default:
          return; // a type added later: no hooks for it
      }
    } catch (error) {
      this.#log.error("Cannot queue a hook for {event}: {error}", {
        event: (e as { type?: unknown }).type,
        error: String(error),
      });
    }
  }

  #up(e: TunnelUpEvent | SessionUpEvent): void {
    const session = e.type === "session-up" ? e.session : undefined;
    let hooks: EventHooks | undefined;
    try {
      hooks = this.#hooksFor(e.tunnel, session);
    } catch (error) {
      this.#log.with(eventLogContext(e)).warn("Cannot look up the hooks of {what}: {error}", {
        what: describeEventTarget(e),
        error: String(error),
      });
      return;
    }
    const state = this.#state(e.tunnel, e.localTunnelId);
    const captured = hooks?.onDown === undefined ? undefined : { onDown: hooks.onDown, event: e };
    if (e.type === "tunnel-up") state.up = captured;
    else if (captured !== undefined) state.sessionsUp.set(e.localSessionId, captured);
    else state.sessionsUp.delete(e.localSessionId);
    if (hooks?.onUp !== undefined) {
      this.#enqueue(state, e.type === "session-up" ? e.localSessionId : undefined, {
        name: "on_up",
        hook: hooks.onUp,
        event: e,
        env: hookEnvironment(e),
      });
    }
    this.#forget(e.tunnel, e.localTunnelId, state);
  }

  #down(e: TunnelDownEvent | SessionDownEvent): void {
    const key = tunnelKey(e.tunnel, e.localTunnelId);
    const state = this.#tunnels.get(key);
    if (state === undefined) return;
    let captured: Captured | undefined;
    let sid: number | undefined;
    if (e.type === "tunnel-down") {
      captured = state.up;
      state.up = undefined;
      state.sessionsUp.clear(); // sessions never reported down have nothing more to run
    } else {
      sid = e.localSessionId;
      captured = state.sessionsUp.get(sid);
      state.sessionsUp.delete(sid);
    }
    if (captured !== undefined) {
      this.#enqueue(state, sid, {
        name: "on_down",
        hook: captured.onDown,
        event: e,
        env: hookEnvironment(e, captured.event),
      });
    }
    this.#forget(e.tunnel, e.localTunnelId, state);
  }

  #state(tunnel: string, localTunnelId: number): TunnelState {
    const key = tunnelKey(tunnel, localTunnelId);
    let state = this.#tunnels.get(key);
    if (state === undefined) {
      state = { sessionsUp: new Map(), sessionTails: new Map() };
      this.#tunnels.set(key, state);
    }
    return state;
  }

  /** Drop a tunnel's state once nothing is captured or running for it. */
  #forget(tunnel: string, localTunnelId: number, state: TunnelState): void {
    if (
      state.up === undefined && state.sessionsUp.size === 0 && state.tail === undefined &&
      state.sessionTails.size === 0
    ) {
      const key = tunnelKey(tunnel, localTunnelId);
      if (this.#tunnels.get(key) === state) this.#tunnels.delete(key);
    }
  }

  /** Queue a run after the runs it must follow (`sid` undefined: a tunnel's hook). */
  #enqueue(state: TunnelState, sid: number | undefined, job: HookJob): void {
    if (this.#queued >= this.#maxQueued) {
      this.#dropped++;
      this.#unreportedDrops++;
      this.#reportDrops(false);
      return;
    }
    const after: (Promise<void> | undefined)[] = sid !== undefined
      ? [state.sessionTails.get(sid) ?? state.tail]
      : job.name === "on_down"
      ? [state.tail, ...state.sessionTails.values()]
      : [state.tail];
    this.#queued++;
    const run = (async () => {
      await Promise.all(after);
      await this.#slot();
      this.#queued--;
      try {
        if (!this.#abandoned) {
          this.#running++;
          this.#started++;
          await runHookProcess(job, this.#process).catch((error) => {
            this.#failed++;
            this.#log.error("Cannot run a hook: {error}", { error: String(error) });
          });
          this.#running--;
        }
      } finally {
        this.#release();
      }
    })();
    if (sid !== undefined) state.sessionTails.set(sid, run);
    else state.tail = run;
    this.#runs.add(run);
    void run.then(() => {
      this.#runs.delete(run);
      if (sid !== undefined) {
        if (state.sessionTails.get(sid) === run) state.sessionTails.delete(sid);
      } else if (state.tail === run) {
        state.tail = undefined;
      }
      this.#forget(job.event.tunnel, job.event.localTunnelId, state);
    });
  }

  #slot(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next !== undefined) next();
    else this.#free++;
  }

  #reportDrops(final: boolean): void {
    const now = Date.now();
    if (this.#unreportedDrops === 0) return;
    if (!final && now - this.#lastDropWarning < HOOK_DEFAULTS.dropWarningIntervalMs) return;
    this.#log.warn(
      "Hook queue full ({maxQueued} waiting): dropped {count} hook runs ({dropped} in all); " +
        "hooks may be too slow for the rate of events",
      { maxQueued: this.#maxQueued, count: this.#unreportedDrops, dropped: this.#dropped },
    );
    this.#unreportedDrops = 0;
    this.#lastDropWarning = now;
  }
}

function tunnelKey(tunnel: string, localTunnelId: number): string {
  return `${tunnel}\u0000${localTunnelId}`;
}
