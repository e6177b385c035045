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

import type { Config, Hook } from "./config.ts";
import type {
  L2tpEvent,
  SessionDownEvent,
  SessionUpEvent,
  TunnelDownEvent,
  TunnelUpEvent,
} from "./events.ts";
import { getLog, type Log } from "./log.ts";
import type { Endpoint } from "../control/types.ts";

/**
 * The hooks of one tunnel or session: what runs when it comes up and when it goes down.
 *
 * @example Usage
 * ```ts
 * import type { EventHooks } from "./hooks.ts";
 * const hooks: EventHooks = {
 *   onUp: { argv: ["ip", "link", "set", "dev", "l2tpeth0", "master", "br0"] },
 *   onDown: { shell: "logger -t l2tpd session down" },
 * };
 * console.log(Object.keys(hooks)); // ["onUp", "onDown"]
 * ```
 */
export interface EventHooks {
  /** Run on `tunnel-up` / `session-up`. */
  onUp?: Hook;
  /** Run on `tunnel-down` / `session-down`, after an up. */
  onDown?: Hook;
}

/**
 * Where events come from: a {@linkcode Context} is one.
 *
 * @example Usage
 * ```ts
 * import type { HookSource } from "./hooks.ts";
 * import { EventHub } from "./events.ts";
 * const hub = new EventHub();
 * const source: HookSource = { onEvent: (listener) => hub.listen(listener) };
 * console.log(typeof source.onEvent); // function
 * ```
 */
export interface HookSource {
  /**
   * Call `listener` synchronously for every event; returns a function that stops it.
   *
   * @param listener The function.
   */
  onEvent(listener: (event: L2tpEvent) => void): () => void;
}

/**
 * Options of {@linkcode attachHooks}: where hooks are configured, and the limits of their runs.
 *
 * @example Usage
 * ```ts
 * import { type HookOptions, hooksInConfig } from "./hooks.ts";
 * import { parseConfig } from "./config.ts";
 * const config = parseConfig('[daemon]\nhook_timeout = 5000\n[tunnel.t1]\npeer = "192.0.2.2"');
 * const options: HookOptions = {
 *   hooksFor: (tunnel, session) => hooksInConfig(config, tunnel, session),
 *   timeoutMs: config.daemon?.hookTimeoutMs,
 * };
 * console.log(options.timeoutMs); // 5000
 * ```
 */
export interface HookOptions {
  /**
   * The hooks of a tunnel (`session` absent) or of a session, looked up when it comes up (for
   * example from the daemon's current configuration, with {@linkcode hooksInConfig}). Called
   * from the event listener: it must be quick and must not block.
   */
  hooksFor(tunnel: string, session?: string): EventHooks | undefined;
  /** How long a command may run before it is killed, in milliseconds (default 10000). */
  timeoutMs?: number;
  /** After the SIGTERM of a timeout, how long until SIGKILL, in milliseconds (default 2000). */
  killGraceMs?: number;
  /** Most commands running at once (default 8). */
  maxRunning?: number;
  /** Most runs waiting to start (default 1000); more are dropped, with a warning. */
  maxQueued?: number;
  /** Bytes of stdout and of stderr kept for the debug log, per run (default 4096). */
  outputLimit?: number;
  /**
   * How long {@linkcode HookRunner.close} waits for queued and running hooks before it kills
   * what runs and skips the rest, in milliseconds (default `timeoutMs + killGraceMs + 1000`).
   */
  closeTimeoutMs?: number;
  /** Logger (default: the `l2tpd.hooks` category). */
  logger?: Log;
}

/**
 * Counters of a {@linkcode HookRunner}.
 *
 * @example Usage
 * ```ts
 * import type { HookStats } from "./hooks.ts";
 * const s: HookStats = { running: 0, queued: 0, started: 2, failed: 1, dropped: 0 };
 * console.log(s.started - s.failed); // 1
 * ```
 */
export interface HookStats {
  /** Commands running now. */
  running: number;
  /** Runs waiting: for a free slot, or for an earlier hook of the same session or tunnel. */
  queued: number;
  /** Runs started so far (commands spawned, or that failed to spawn). */
  started: number;
  /** Runs that failed: not started, exit status not 0, or killed. */
  failed: number;
  /** Runs dropped because the queue was full. */
  dropped: number;
}

/**
 * Defaults of {@linkcode HookOptions}.
 *
 * @example Usage
 * ```ts
 * import { HOOK_DEFAULTS } from "./hooks.ts";
 * console.log(HOOK_DEFAULTS.timeoutMs, HOOK_DEFAULTS.maxRunning); // 10000 8
 * ```
 */
export const HOOK_DEFAULTS: {
  readonly timeoutMs: number;
  readonly killGraceMs: number;
  readonly maxRunning: number;
  readonly maxQueued: number;
  readonly outputLimit: number;
  readonly dropWarningIntervalMs: number;
} = Object.freeze({
  timeoutMs: 10_000,
  killGraceMs: 2_000,
  maxRunning: 8,
  maxQueued: 1000,
  outputLimit: 4096,
  dropWarningIntervalMs: 10_000,
});

/**
 * The variables a hook gets on top of the daemon's environment, each set only when it has a
 * value for the event.
 *
 * @example Usage
 * ```ts
 * import { HOOK_VARIABLES } from "./hooks.ts";
 * console.log(HOOK_VARIABLES.includes("L2TPD_INTERFACE")); // true
 * ```
 */
export const HOOK_VARIABLES: readonly string[] = Object.freeze([
  "L2TPD_EVENT",
  "L2TPD_TUNNEL",
  "L2TPD_SESSION",
  "L2TPD_LOCAL_TUNNEL_ID",
  "L2TPD_PEER_TUNNEL_ID",
  "L2TPD_LOCAL_SESSION_ID",
  "L2TPD_PEER_SESSION_ID",
  "L2TPD_INTERFACE",
  "L2TPD_PEER_ADDRESS",
  "L2TPD_PEER_PORT",
  "L2TPD_PSEUDOWIRE",
  "L2TPD_REASON",
  "L2TPD_RESULT_CODE",
]);

/** Every field an event may carry that a hook's environment shows. */
interface EventFields {
  session?: string;
  localTunnelId?: number;
  peerTunnelId?: number;
  localSessionId?: number;
  peerSessionId?: number;
  interface?: string;
  peer?: Endpoint;
  pseudowire?: string;
  reason?: string;
  resultCode?: number;
}

/**
 * The `L2TPD_*` variables of a hook run for `event`; for a down event, what it lacks (the
 * interface, the pseudowire, the peer's tunnel ID, ...) is taken from the matching up event when
 * given. A variable without a value (an ID of 0, the port over IP encapsulation) is left out.
 *
 * - `L2TPD_EVENT`: `tunnel-up`, `tunnel-down`, `session-up` or `session-down`
 * - `L2TPD_TUNNEL`, `L2TPD_SESSION`: the names of the tunnel and session
 * - `L2TPD_LOCAL_TUNNEL_ID`, `L2TPD_PEER_TUNNEL_ID`: tunnel IDs
 * - `L2TPD_LOCAL_SESSION_ID`, `L2TPD_PEER_SESSION_ID`: session IDs
 * - `L2TPD_INTERFACE`: the session's network interface (`l2tpeth0`, `ppp0`)
 * - `L2TPD_PEER_ADDRESS`, `L2TPD_PEER_PORT`: the peer
 * - `L2TPD_PSEUDOWIRE`: the session's pseudowire (`eth`, `ppp`, ...)
 * - `L2TPD_REASON`, `L2TPD_RESULT_CODE`: why it went down (down events)
 *
 * @param event The event.
 * @param up For a down event, the up event of the same tunnel or session.
 * @returns The variables.
 *
 * @example Usage
 * ```ts
 * import { hookEnvironment } from "./hooks.ts";
 * console.log(hookEnvironment({
 *   type: "session-down", time: "", tunnel: "t1", session: "s1", localTunnelId: 1,
 *   localSessionId: 10, reason: "closed",
 * }, {
 *   type: "session-up", time: "", tunnel: "t1", session: "s1", localTunnelId: 1,
 *   peerTunnelId: 2, localSessionId: 10, peerSessionId: 20, pseudowire: "eth",
 *   peer: { address: "192.0.2.2", port: 0 }, interface: "l2tpeth0",
 * }));
 * // { L2TPD_EVENT: "session-down", L2TPD_TUNNEL: "t1", L2TPD_SESSION: "s1", ...,
 * //   L2TPD_INTERFACE: "l2tpeth0", L2TPD_PEER_ADDRESS: "192.0.2.2", L2TPD_REASON: "closed" }
 * ```
 */
export function hookEnvironment(event: L2tpEvent, up?: L2tpEvent): Record<string, string> {
  const now: EventFields = event;
  const before: EventFields = up ?? {};
  const get = <K extends keyof EventFields>(k: K): EventFields[K] => now[k] ?? before[k];
  const env: Record<string, string> = {};
  const set = (name: string, value: string | number | undefined): void => {
    if (value !== undefined && value !== "" && value !== 0) env[`L2TPD_${name}`] = String(value);
  };
  set("EVENT", event.type);
  set("TUNNEL", event.tunnel);
  set("SESSION", get("session"));
  set("LOCAL_TUNNEL_ID", get("localTunnelId"));
  set("PEER_TUNNEL_ID", get("peerTunnelId"));
  set("LOCAL_SESSION_ID", get("localSessionId"));
  set("PEER_SESSION_ID", get("peerSessionId"));
  set("INTERFACE", get("interface"));
  const peer = get("peer");
  set("PEER_ADDRESS", peer?.address);
  set("PEER_PORT", peer?.port);
  set("PSEUDOWIRE", get("pseudowire"));
  set("REASON", now.reason);
  set("RESULT_CODE", now.resultCode);
  return env;
}

/**
 * The hooks a configuration gives a tunnel (`session` absent) or one of its sessions: a lookup
 * for {@linkcode HookOptions.hooksFor}.
 *
 * @param config The configuration.
 * @param tunnel The tunnel's name.
 * @param session The session's name, for a session's hooks.
 * @returns Its hooks, or `undefined` when it has none (or is not in the configuration).
 *
 * @example Usage
 * ```ts
 * import { hooksInConfig } from "./hooks.ts";
 * import { parseConfig } from "./config.ts";
 * const config = parseConfig(
 *   '[tunnel.t1]\npeer = "192.0.2.2"\n[tunnel.t1.session.s1]\non_up = ["ip", "link"]\n',
 * );
 * console.log(hooksInConfig(config, "t1", "s1"), hooksInConfig(config, "t1"));
 * // { onUp: { argv: ["ip", "link"] } } undefined
 * ```
 */
export function hooksInConfig(
  config: Config,
  tunnel: string,
  session?: string,
): EventHooks | undefined {
  const t = config.tunnels.find((x) => x.name === tunnel);
  const c = session === undefined ? t?.config : t?.sessions.find((s) => s.name === session)?.config;
  if (c === undefined || (c.onUp === undefined && c.onDown === undefined)) return undefined;
  const hooks: EventHooks = {};
  if (c.onUp !== undefined) hooks.onUp = c.onUp;
  if (c.onDown !== undefined) hooks.onDown = c.onDown;
  return hooks;
}

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

/** What ran, or will run, for one event. */
interface Job {
  name: "on_up" | "on_down";
  hook: Hook;
  event: L2tpEvent;
  env: Record<string, string>;
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

/** Wait for the output of a command after it exited (a background process may hold it). */
const OUTPUT_GRACE_MS = 200;

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
  readonly #outputLimit: number;
  readonly #closeTimeoutMs: number;
  readonly #unsubscribe: () => void;
  readonly #tunnels = new Map<string, TunnelState>();
  readonly #runs = new Set<Promise<void>>();
  readonly #children = new Set<Deno.ChildProcess>();
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
    this.#outputLimit = positive("outputLimit", options.outputLimit, HOOK_DEFAULTS.outputLimit);
    this.#closeTimeoutMs = positive(
      "closeTimeoutMs",
      options.closeTimeoutMs,
      this.#timeoutMs + this.#killGraceMs + 1000,
    );
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
      if (!await within(this.idle(), this.#closeTimeoutMs)) {
        this.#abandoned = true;
        this.#log.warn(
          "Hooks still busy {closeTimeoutMs} ms after close: killing {running} running, " +
            "skipping {queued} queued",
          { closeTimeoutMs: this.#closeTimeoutMs, running: this.#running, queued: this.#queued },
        );
        for (const child of this.#children) signalGroup(child, "SIGKILL");
        await within(this.idle(), 1000 + OUTPUT_GRACE_MS);
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
      this.#log.with(target(e)).warn("Cannot look up the hooks of {what}: {error}", {
        what: describeTarget(e),
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
  #enqueue(state: TunnelState, sid: number | undefined, job: Job): void {
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
          await this.#run(job).catch((error) => {
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

  /** Run one command to its end; resolves (never rejects) once it has exited. */
  async #run(job: Job): Promise<void> {
    const e = job.event;
    const log = this.#log.with(target(e));
    const argv = "argv" in job.hook ? job.hook.argv : ["/bin/sh", "-c", job.hook.shell];
    const command = "argv" in job.hook ? JSON.stringify(job.hook.argv) : job.hook.shell;
    const what = { hook: job.name, what: describeTarget(e), event: e.type, command };
    const start = Date.now();
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(argv[0], {
        args: argv.slice(1),
        ...environment(job.env),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true, // its own process group, so that a timeout kills what it started too
      }).spawn();
    } catch (error) {
      this.#failed++;
      log.warn("Hook {hook} of {what} failed ({event}): cannot start it: {error}", {
        ...what,
        error: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    this.#children.add(child);
    const stdout = collect(child.stdout, this.#outputLimit);
    const stderr = collect(child.stderr, this.#outputLimit);
    let exited = false;
    let timedOut = false;
    let kill: ReturnType<typeof setTimeout> | undefined;
    const term = setTimeout(() => {
      if (exited) return;
      timedOut = true;
      signalGroup(child, "SIGTERM");
      kill = setTimeout(() => {
        if (!exited) signalGroup(child, "SIGKILL");
      }, this.#killGraceMs);
    }, this.#timeoutMs);
    let status: Deno.CommandStatus;
    try {
      status = await child.status;
    } finally {
      exited = true;
      clearTimeout(term);
      clearTimeout(kill);
      this.#children.delete(child);
    }
    const outputs = Promise.all([stdout.done, stderr.done]);
    if (!await within(outputs, OUTPUT_GRACE_MS)) {
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
    this.#failed++;
    const how = status.signal !== null
      ? `killed by ${status.signal}`
      : `exit status ${status.code}`;
    const result = timedOut ? `timed out after ${this.#timeoutMs} ms (hook_timeout), ${how}` : how;
    log.warn("Hook {hook} of {what} failed ({event}): {result}", {
      ...what,
      result,
      ms,
      stderr: err.length > 500 ? `...${err.slice(-500)}` : err,
    });
  }
}

function tunnelKey(tunnel: string, localTunnelId: number): string {
  return `${tunnel}\u0000${localTunnelId}`;
}

/** The log context of an event: its tunnel and session. */
function target(e: L2tpEvent): { tunnel: string; session?: string } {
  return "session" in e && e.session !== "" ? { tunnel: e.tunnel, session: e.session } : {
    tunnel: e.tunnel,
  };
}

/** `tunnel "t1"` or `session "t1/s1"`, for messages. */
function describeTarget(e: L2tpEvent): string {
  return "session" in e
    ? `session ${JSON.stringify(`${e.tunnel}/${e.session}`)}`
    : `tunnel ${JSON.stringify(e.tunnel)}`;
}

/**
 * The environment of a command: the daemon's (without stale `L2TPD_*` event variables) plus the
 * event's; without permission to read the daemon's, the event's on top of what is inherited.
 */
function environment(
  vars: Record<string, string>,
): { env: Record<string, string>; clearEnv: boolean } {
  let parent: Record<string, string>;
  try {
    parent = Deno.env.toObject();
  } catch {
    return { env: vars, clearEnv: false };
  }
  for (const name of HOOK_VARIABLES) delete parent[name];
  return { env: { ...parent, ...vars }, clearEnv: true };
}

/** Signal a command's process group (it leads one: `detached`), or the command alone. */
function signalGroup(child: Deno.ChildProcess, signal: Deno.Signal): void {
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

/** Read a stream to its end, keeping its first `limit` bytes as text (and how many were cut). */
function collect(
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

/** Whether `promise` settles within `ms` (the timer is cleared either way). */
async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([promise.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
