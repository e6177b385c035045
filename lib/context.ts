/**
 * The library's runtime model: a {@linkcode Context} owns a data plane's tunnels and sessions,
 * as go-l2tp's `l2tp.Context` does. Tunnels are made with `newStaticTunnel`,
 * `newQuiescentTunnel` and `newDynamicTunnel`, sessions with `tunnel.newSession`; each can be
 * closed on its own while everything else runs. `events()` streams what happens; `status()`
 * is a plain snapshot; `close()` removes everything the context made.
 *
 * @example Usage
 * ```ts
 * import { Context } from "./context.ts";
 * import { NullDataPlane } from "../dataplane/null.ts";
 * await using ctx = new Context({ dataplane: new NullDataPlane() });
 * const t = await ctx.newStaticTunnel("t1", {
 *   mode: "static", version: 3, encap: "ip", managed: false,
 *   local: { address: "192.0.2.1", port: 0 }, peer: { address: "192.0.2.2", port: 0 },
 *   tid: 1, ptid: 2,
 * });
 * await t.newSession("s1", {
 *   sid: 10, psid: 20, pseudowire: "eth", sendSeqnum: false, recvSeqnum: false,
 *   l2specType: "default",
 * });
 * console.log(ctx.status().tunnels[0].sessions[0].state); // up
 * ```
 *
 * @module
 */

import type { TunnelConfig, TunnelMode } from "./config.ts";
import type { DataPlane } from "../dataplane/dataplane.ts";
import { NullDataPlane } from "../dataplane/null.ts";
import { Reactor } from "../dataplane/reactor.ts";
import { openTunnelSocket, TunnelSocket } from "../dataplane/socket.ts";
import { resolveHost } from "../dataplane/ffi/resolve.ts";
import type { Clock } from "../control/clock.ts";
import { IdAllocator } from "../control/ids.ts";
import { EventHub, type EventStream, type L2tpEvent, type SubscribeOptions } from "./events.ts";
import { getLog, type Log } from "./log.ts";
import { isoTime } from "./iso_time.ts";
import { type RateLimitedLog, rateLimitedLog } from "./log_limit.ts";
import { resolveEndpoints } from "./endpoints.ts";
import type {
  ControlChannel,
  Runtime,
  TunnelSocketHandle,
  TunnelSocketOpener,
  Unstamped,
} from "./runtime.ts";
import { StaticTunnel } from "./static_tunnel.ts";
import { InitiatorTunnel } from "./initiator.ts";
import { type ListenerGroups, ResponderTunnel } from "./responder.ts";
import type { DynamicTunnel } from "./dynamic.ts";
import type {
  ConnectionStatus,
  ContextStatus,
  KernelCounters,
  Tunnel,
  TunnelStatus,
} from "./tunnel.ts";
import type { Stats } from "../dataplane/dataplane.ts";

/**
 * What a {@linkcode Context} needs: a data plane, and optionally a logger. The other options
 * are for tests and special hosts.
 *
 * @example Usage
 * ```ts
 * import type { ContextOptions } from "./context.ts";
 * import { NullDataPlane } from "../dataplane/null.ts";
 * const options: ContextOptions = { dataplane: new NullDataPlane() };
 * console.log(options.pppd); // undefined
 * ```
 */
export interface ContextOptions {
  /** Where tunnels and sessions are programmed: `new NullDataPlane()` or `await KernelDataPlane.open()`. */
  dataplane: DataPlane;
  /** Logger (default: the `l2tpd.context` category). */
  logger?: Log;
  /** Start pppd for PPP sessions (default: yes, unless the data plane is a `NullDataPlane`). */
  pppd?: boolean;
  /** Host Name AVP of tunnels that do not set `host_name` (default: the system's host name). */
  hostName?: string;
  /** How long closing a dynamic tunnel waits for its StopCCN's acknowledgement (default 1000 ms). */
  stopGraceMs?: number;
  /** Clock for the control protocol's timers (tests inject a fake one). */
  clock?: Clock;
  /** Opens managed static tunnels' sockets (default: real sockets). */
  openSocket?: TunnelSocketOpener;
  /** Control-message I/O for quiescent tunnels (default: the context's epoll reactor). */
  attach?: (socket: TunnelSocketHandle) => ControlChannel;
  /** Resolves host names in `local` and `peer` (default: libc getaddrinfo). */
  resolve?: (name: string, family?: 4 | 6) => Promise<string[]>;
}

type AnyTunnel = StaticTunnel | DynamicTunnel;

/**
 * Owns tunnels and sessions on one data plane. See the module documentation for an example.
 *
 * @example Usage
 * ```ts
 * import { Context } from "./context.ts";
 * import { NullDataPlane } from "../dataplane/null.ts";
 * const ctx = new Context({ dataplane: new NullDataPlane() });
 * const events = ctx.events();
 * await ctx.close();
 * for await (const e of events) console.log(e.type); // (nothing: no tunnel was made)
 * ```
 */
export class Context implements AsyncDisposable {
  readonly #rt: Runtime;
  readonly #log: RateLimitedLog;
  readonly #hub = new EventHub();
  readonly #tunnels: AnyTunnel[] = [];
  readonly #pending = new Set<string>();
  readonly #groups: ListenerGroups = new Map();
  #reactor?: Reactor;
  #kernelIdsReserved?: Promise<void>;
  /** IDs of the kernel tunnels that existed before the first dynamic tunnel was made. */
  readonly #kernelIds = new Set<number>();
  #closing?: Promise<void>;

  /**
   * A context on a data plane; nothing is created until a tunnel is made.
   *
   * @param options The data plane, a logger, and test hooks.
   */
  constructor(options: ContextOptions) {
    const dp = options.dataplane;
    // Peer-triggered warnings and errors are limited per cause (5 in 10 s, then a summary).
    const log = rateLimitedLog(options.logger ?? getLog("context"));
    this.#log = log;
    const reactor = (): Reactor => {
      if (this.#closing) throw new Error("Cannot open a socket: the context is closed");
      this.#reactor ??= new Reactor();
      return this.#reactor;
    };
    this.#rt = {
      dp,
      log,
      clock: options.clock,
      pppd: options.pppd ?? !(dp instanceof NullDataPlane),
      hostName: options.hostName ?? Deno.hostname(),
      stopGraceMs: options.stopGraceMs ?? 1000,
      tunnelIds: { 2: new IdAllocator(16), 3: new IdAllocator(32) },
      sessionIds3: new IdAllocator(32),
      reactor,
      openSocket: options.openSocket ?? openTunnelSocket,
      attach: options.attach ?? ((socket) => {
        if (!(socket instanceof TunnelSocket)) {
          throw new TypeError("Cannot attach a control channel: not a TunnelSocket (pass attach)");
        }
        return reactor().register(socket);
      }),
      resolve: options.resolve ?? resolveHost,
      emit: (e: Unstamped) => this.#hub.publish({ ...e, time: isoTime() } as L2tpEvent),
    };
  }

  /** The tunnels, in creation order (closed ones leave the list). */
  get tunnels(): readonly Tunnel[] {
    return [...this.#tunnels];
  }

  /**
   * The tunnel called `name`, if the context has it.
   *
   * @param name The tunnel's name.
   * @returns The tunnel or `undefined`.
   */
  tunnel(name: string): Tunnel | undefined {
    return this.#tunnels.find((t) => t.name === name);
  }

  /**
   * A new consumer of events: it sees everything that happens from now on, in order, through a
   * bounded buffer of its own (see {@linkcode SubscribeOptions}); a slow consumer never holds up
   * the protocol, it loses its oldest events and can read how many in `dropped`. The stream
   * ends when the context is closed, after the last down events.
   *
   * @param options Buffer size and an abort signal.
   * @returns The stream.
   */
  events(options?: SubscribeOptions): EventStream {
    return this.#hub.subscribe(options);
  }

  /**
   * Call `listener` synchronously for every event (the daemon logs this way). It must not block.
   *
   * @param listener The function.
   * @returns A function that removes it.
   */
  onEvent(listener: (event: L2tpEvent) => void): () => void {
    return this.#hub.listen(listener);
  }

  /**
   * Bring a static tunnel up: its kernel tunnel is programmed from `config` alone (`tid`,
   * `ptid`, `local` and `peer` are required). Kernel state left by an earlier run is adopted or
   * replaced (see `reconcile.ts`).
   *
   * @param name Unique in the context.
   * @param config Its settings.
   * @returns The tunnel, up.
   */
  newStaticTunnel(name: string, config: TunnelConfig): Promise<Tunnel> {
    return this.#make(name, config, "static");
  }

  /**
   * Bring a quiescent tunnel up: a static tunnel (managed) that also sends HELLO keep-alives
   * (`hello_timeout`) and goes down when its peer stops answering.
   *
   * @param name Unique in the context.
   * @param config Its settings.
   * @returns The tunnel, up.
   */
  newQuiescentTunnel(name: string, config: TunnelConfig): Promise<Tunnel> {
    return this.#make(name, config, "quiescent");
  }

  /**
   * Start a dynamic tunnel: with `role = "lac"` (the default) it dials `peer` and places a call
   * for each of its sessions; with `role = "lns"` it listens on `local` and accepts peers.
   *
   * @param name Unique in the context.
   * @param config Its settings.
   * @returns The tunnel, dialling or listening (its `tunnel-up` event follows).
   */
  newDynamicTunnel(name: string, config: TunnelConfig): Promise<Tunnel> {
    return this.#make(name, config, "dynamic");
  }

  async #make(name: string, config: TunnelConfig, mode: TunnelMode): Promise<Tunnel> {
    if (this.#closing) throw new Error(`Cannot add tunnel "${name}": the context is closed`);
    if (this.tunnel(name) !== undefined || this.#pending.has(name)) {
      throw new Error(`Cannot add tunnel "${name}": the context already has a tunnel by that name`);
    }
    if (config.version === 2 && config.encap === "ip") {
      throw new TypeError(`Cannot add tunnel "${name}": L2TPv2 runs over UDP only`);
    }
    this.#pending.add(name);
    try {
      const cfg = await resolveEndpoints(
        name,
        { ...config, mode },
        this.#rt.resolve,
        this.#rt.log.with({ tunnel: name }),
      );
      let t: AnyTunnel;
      if (mode === "dynamic") {
        await this.#reserveKernelIds();
        t = cfg.role === "lns"
          ? await ResponderTunnel.open(this.#rt, this.#groups, name, cfg, (x) => this.#ended(x))
          : await InitiatorTunnel.open(this.#rt, name, cfg, (x) => this.#ended(x));
      } else {
        t = await this.#makeStatic(name, cfg);
      }
      if (this.#closing) {
        await (t instanceof StaticTunnel ? t.close() : t.shutdown());
        throw new Error(`Cannot add tunnel "${name}": the context was closed meanwhile`);
      }
      this.#tunnels.push(t);
      return t;
    } finally {
      this.#pending.delete(name);
    }
  }

  async #makeStatic(name: string, cfg: TunnelConfig): Promise<StaticTunnel> {
    // Dynamic tunnels must never draw the IDs that static ones use.
    const ids = this.#rt.tunnelIds[cfg.version];
    const tid = cfg.tid;
    const owner = this.#tunnels.find((t) => t instanceof StaticTunnel && t.config.tid === tid);
    if (tid !== undefined && owner !== undefined) {
      throw new Error(`Cannot add tunnel "${name}": tid ${tid} is tunnel "${owner.name}"'s`);
    }
    const reserved = tid !== undefined && ids.reserve(tid);
    if (tid !== undefined && !reserved && !this.#kernelIds.has(tid)) {
      throw new Error(`Cannot add tunnel "${name}": tid ${tid} is in use by a dynamic tunnel`);
    }
    try {
      return await StaticTunnel.open(this.#rt, name, cfg, (x) => {
        if (reserved) ids.release(tid);
        this.#ended(x);
      });
    } catch (error) {
      if (reserved) ids.release(tid);
      throw error;
    }
  }

  /** IDs of kernel tunnels that exist (ours from an earlier run, or anyone's) are never drawn. */
  #reserveKernelIds(): Promise<void> {
    this.#kernelIdsReserved ??= (async () => {
      try {
        for (const t of await this.#rt.dp.listTunnels()) {
          this.#kernelIds.add(t.tunnelId);
          this.#rt.tunnelIds[2].reserve(t.tunnelId);
          this.#rt.tunnelIds[3].reserve(t.tunnelId);
        }
      } catch (error) {
        this.#rt.log.warn("Cannot list kernel tunnels: {error}", { error: String(error) });
      }
    })();
    return this.#kernelIdsReserved;
  }

  #ended(t: AnyTunnel): void {
    const i = this.#tunnels.indexOf(t);
    if (i >= 0) this.#tunnels.splice(i, 1);
  }

  /**
   * A snapshot of everything the context runs: tunnels with their sessions, states, IDs,
   * peers, uptimes and control-plane counters. Plain data: `JSON.stringify` works on it.
   *
   * @returns The snapshot.
   */
  status(): ContextStatus {
    return { time: new Date().toISOString(), tunnels: this.#tunnels.map((t) => t.status()) };
  }

  /**
   * {@linkcode Context.status} with the data plane's counters of every kernel tunnel and session
   * (`kernel` fields), read now.
   *
   * @returns The snapshot.
   */
  async readStatus(): Promise<ContextStatus> {
    const status = this.status();
    const [tunnels, sessions] = await Promise.all([
      this.#rt.dp.listTunnels(),
      this.#rt.dp.listSessions(),
    ]);
    const byTunnel = new Map(tunnels.map((t) => [t.tunnelId, kernelCounters(t.stats)]));
    const bySession = new Map(
      sessions.map((s) => [`${s.tunnelId}/${s.sessionId}`, kernelCounters(s.stats)]),
    );
    const fill = (c: ConnectionStatus | TunnelStatus): void => {
      if (c.localTunnelId !== undefined) c.kernel = byTunnel.get(c.localTunnelId);
      for (const s of c.sessions) {
        if (s.localSessionId === undefined || c.localTunnelId === undefined) continue;
        s.kernel = bySession.get(`${c.localTunnelId}/${s.localSessionId}`);
      }
    };
    for (const t of status.tunnels) {
      fill(t);
      for (const p of t.peers ?? []) fill(p);
    }
    return status;
  }

  /**
   * Remove everything the context made: dynamic tunnels send StopCCN (result 6, shutting down)
   * and wait briefly for its acknowledgement; sessions, kernel tunnels and sockets go; the event
   * streams end after the last down event. The data plane stays open (it is the caller's).
   * Idempotent.
   *
   * @returns Resolves once everything is gone.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const tunnels = [...this.#tunnels].reverse();
      // Dynamic tunnels close together (their StopCCN waits overlap), then the static ones.
      await Promise.all(
        tunnels.filter((t) => !(t instanceof StaticTunnel)).map((t) =>
          (t as DynamicTunnel).shutdown().catch((error) => this.#closeFailed(t, error))
        ),
      );
      for (const t of tunnels.filter((t) => t instanceof StaticTunnel)) {
        await t.close().catch((error) => this.#closeFailed(t, error));
      }
      this.#reactor?.close();
      this.#log.flush();
      this.#hub.close();
    })();
    return this.#closing;
  }

  #closeFailed(t: AnyTunnel, error: unknown): void {
    this.#rt.log.error("Cannot close tunnel {name}: {error}", {
      name: t.name,
      error: String(error),
    });
  }

  /** {@linkcode Context.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The kernel's u64 counters as numbers (exact below 2^53, far beyond any real counter). */
function kernelCounters(s: Stats): KernelCounters {
  return {
    rxPackets: Number(s.rxPackets),
    rxBytes: Number(s.rxBytes),
    rxErrors: Number(s.rxErrors),
    rxDiscards: Number(s.rxSeqDiscards + s.rxCookieDiscards + s.rxInvalid),
    txPackets: Number(s.txPackets),
    txBytes: Number(s.txBytes),
    txErrors: Number(s.txErrors),
  };
}
