/**
 * What dynamic tunnels share, initiators (`lib/initiator.ts`) and responders
 * (`lib/responder.ts`) alike: the connection options built from a tunnel's settings, the hooks
 * that program the kernel (the tunnel with its socket's fd once the control connection is up,
 * each session and its pppd once its call is established, and the reverse on the way down), the
 * table of live calls, the translation of connection events into context events, and the
 * session handle.
 *
 * @module
 */

import type { SessionConfig, SessionEntry, TunnelConfig, TunnelMode } from "./config.ts";
import type { Log } from "./log.ts";
import type { ReactorSocket } from "../dataplane/reactor.ts";
import {
  kernelSessionSpec,
  type LiveSession,
  pppoeFields,
  pppoeOf,
  sessionUp,
} from "./sessions.ts";
import type {
  ConnectionEvent,
  ConnectionHooks,
  ControlConnection,
  ControlConnectionOptions,
} from "../control/connection.ts";
import { CdnResult, StopCcnResult } from "../control/constants.ts";
import type { ResultCodeValue } from "../control/avp.ts";
import type { Endpoint } from "../control/types.ts";
import { controlCounters, type Runtime, uptimeSeconds } from "./runtime.ts";
import type { ConnectionStatus, Session, SessionStatus, Tunnel, TunnelStatus } from "./tunnel.ts";

/** A control connection of ours. */
export type Conn = ControlConnection<SessionEntry>;

/** A call whose kernel session is up: the declared session it is bound to, and its data path. */
export interface Call {
  /** The declared session it is bound to. */
  readonly entry: SessionEntry;
  /** Its data path (IDs, interface, since when). */
  readonly live: LiveSession;
}

/** Live calls by tunnel, then session ID (no per-call key strings; a tunnel's calls at hand). */
class CallMap {
  readonly #tunnels = new Map<number, Map<number, Call>>();

  get(tunnelId: number, sessionId: number): Call | undefined {
    return this.#tunnels.get(tunnelId)?.get(sessionId);
  }

  set(call: Call): void {
    const { tunnelId, sessionId } = call.live;
    let inTunnel = this.#tunnels.get(tunnelId);
    if (inTunnel === undefined) this.#tunnels.set(tunnelId, inTunnel = new Map());
    inTunnel.set(sessionId, call);
  }

  /** Remove and return a call. */
  take(tunnelId: number, sessionId: number): Call | undefined {
    const inTunnel = this.#tunnels.get(tunnelId);
    const call = inTunnel?.get(sessionId);
    if (call === undefined) return undefined;
    inTunnel?.delete(sessionId);
    if (inTunnel?.size === 0) this.#tunnels.delete(tunnelId);
    return call;
  }

  /** One tunnel's calls. */
  inTunnel(tunnelId: number): IterableIterator<Call> {
    return (this.#tunnels.get(tunnelId) ?? new Map<number, Call>()).values();
  }

  *values(): IterableIterator<Call> {
    for (const inTunnel of this.#tunnels.values()) yield* inTunnel.values();
  }

  clear(): void {
    this.#tunnels.clear();
  }
}

/**
 * The part of a dynamic tunnel that initiators and responders share.
 */
export abstract class DynamicTunnel implements Tunnel {
  readonly name: string;
  readonly mode: TunnelMode = "dynamic";
  readonly config: Readonly<TunnelConfig>;
  /** The context's shared resources. */
  protected readonly rt: Runtime;
  /** The tunnel's log. */
  protected readonly log: Log;
  /** Declared sessions (the connection reads this array: responders bind calls to it). */
  protected readonly entries: SessionEntry[] = [];
  /** The handles given out for `entries`, in the same order. */
  protected readonly handles: DynamicSession[] = [];
  /** Live calls. */
  readonly #calls: CallMap = new CallMap();
  /** Kernel tunnels' socket fds by local tunnel ID. */
  readonly #fds = new Map<number, number>();
  /** When each connection came up, by local tunnel ID. */
  protected readonly upSince = new Map<number, number>();
  /** Set once the tunnel is closing (or over). */
  protected closing?: Promise<void>;

  /** A tunnel named `name` with `config`, on the context's resources `rt`. */
  constructor(rt: Runtime, name: string, config: TunnelConfig) {
    this.rt = rt;
    this.name = name;
    this.config = config;
    this.log = rt.log.with({ tunnel: name });
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  get sessions(): readonly Session[] {
    return [...this.handles];
  }

  /** The connections this tunnel runs now. */
  protected abstract connections(): Conn[];

  /** Place the call for a newly declared session (initiators). */
  protected abstract placeCall(entry: SessionEntry): void;

  abstract status(): TunnelStatus;

  /** Stop starting connections (cancel a redial, stop accepting); `close` calls it first. */
  protected abstract stopStarting(): void;

  /** The tunnel is over: leave the context (and for a responder, maybe close the socket). */
  protected abstract ended(): void;

  /** StopCCN (result 1, general request) to every peer, then everything of the tunnel goes. */
  close(): Promise<void> {
    return this.end({ resultCode: StopCcnResult.GeneralRequest });
  }

  /** At context close: StopCCN (result 6, shutting down), then everything of the tunnel goes. */
  shutdown(): Promise<void> {
    return this.end({ resultCode: StopCcnResult.ShuttingDown });
  }

  /**
   * End the tunnel once (idempotent): StopCCN on every connection, a short wait for their
   * acknowledgements (the transport retransmits meanwhile), then abort what is left.
   *
   * @param result The StopCCN's Result Code.
   * @returns Resolves when everything of the tunnel is gone.
   */
  protected end(result: ResultCodeValue): Promise<void> {
    this.closing ??= (async () => {
      this.stopStarting();
      const conns = this.connections();
      await Promise.all(conns.map((c) =>
        c.close(result).catch((error) => {
          this.log.warn("Cannot close tunnel {id}: {error}", {
            id: c.localTunnelId,
            error: String(error),
          });
        })
      ));
      await waitAtMost(Promise.all(conns.map((c) => c.done)), this.rt.stopGraceMs);
      for (const c of conns) c.abort("closed");
      await Promise.all(conns.map((c) => c.done));
      for (const call of [...this.#calls.values()]) await call.live.down();
      this.#calls.clear();
      this.ended();
    })();
    return this.closing;
  }

  newSession(name: string, config: SessionConfig): Promise<Session> {
    if (this.closed) {
      return Promise.reject(
        new Error(`Cannot add session "${name}": tunnel "${this.name}" is closed`),
      );
    }
    if (this.entries.some((e) => e.name === name)) {
      return Promise.reject(
        new Error(`Cannot add session "${name}": tunnel "${this.name}" already has it`),
      );
    }
    try {
      pppoeOf(config); // a pppac session names its PPPoE session
    } catch (error) {
      return Promise.reject(error);
    }
    const entry: SessionEntry = { ...config, name };
    const handle = new DynamicSession(this, entry);
    this.entries.push(entry);
    this.handles.push(handle);
    this.placeCall(entry);
    return Promise.resolve(handle);
  }

  /**
   * Remove a declared session and end its calls (CDN, administrative).
   *
   * @param handle The session.
   */
  async removeSession(handle: DynamicSession): Promise<void> {
    const i = this.entries.indexOf(handle.entry);
    if (i >= 0) this.entries.splice(i, 1);
    const h = this.handles.indexOf(handle);
    if (h >= 0) this.handles.splice(h, 1);
    const ending: Promise<void>[] = [];
    for (const conn of this.connections()) {
      for (const s of conn.sessions()) {
        if (s.name !== handle.entry.name) continue;
        ending.push(
          conn.closeSession(s.localSessionId, { resultCode: CdnResult.Administrative }),
        );
      }
    }
    await Promise.all(ending);
  }

  /** The status of a declared session: its first live call, else its call in progress. */
  sessionStatus(entry: SessionEntry): SessionStatus {
    const base = { name: entry.name, pseudowire: entry.pseudowire, ...pppoeFields(entry) };
    for (const call of this.#calls.values()) {
      if (call.entry === entry) return { ...base, ...callStatus(call) };
    }
    for (const conn of this.connections()) {
      const s = conn.sessions().find((s) => s.name === entry.name);
      if (s) {
        return {
          ...base,
          state: "connecting",
          localSessionId: s.localSessionId,
          peerSessionId: s.peerSessionId || undefined,
        };
      }
    }
    return { ...base, state: "waiting" };
  }

  /** A connection's part of the status: IDs, peer, uptime, counters and its live calls. */
  protected connectionStatus(conn: Conn): ConnectionStatus {
    const since = this.upSince.get(conn.localTunnelId);
    const up = conn.state === "established";
    const stats = conn.transportStats;
    return {
      state: up ? "up" : "connecting",
      localTunnelId: conn.localTunnelId || undefined,
      peerTunnelId: conn.peerTunnelId || undefined,
      peer: conn.peer,
      peerHostName: conn.peerInfo.hostName,
      upSince: since !== undefined ? new Date(since).toISOString() : undefined,
      uptimeSeconds: since !== undefined ? uptimeSeconds(since) : undefined,
      counters: stats ? controlCounters(stats) : undefined,
      sessions: [...this.#calls.inTunnel(conn.localTunnelId)]
        .map((c) => ({
          name: c.entry.name,
          pseudowire: c.entry.pseudowire,
          ...callStatus(c),
          ...pppoeFields(c.entry),
        })),
    };
  }

  /** The status fields every dynamic tunnel has. */
  protected statusBase(): Pick<TunnelStatus, "name" | "mode" | "version" | "encap" | "role"> {
    return {
      name: this.name,
      mode: this.mode,
      version: this.config.version,
      encap: this.config.encap,
      role: this.config.role ?? "lac",
    };
  }

  /** Connection options from the tunnel's settings (socket and peer are added per connection). */
  protected connectionOptions(): Omit<ControlConnectionOptions<SessionEntry>, "socket" | "peer"> {
    const t = this.config;
    return {
      version: t.version,
      encap: t.encap,
      role: t.role === "lns" ? "responder" : "initiator",
      name: this.name,
      hostName: t.hostName ?? this.rt.hostName,
      routerId: t.routerId,
      receiveWindow: t.windowSize,
      helloInterval: t.helloTimeoutMs,
      retryTimeout: t.retryTimeoutMs,
      maxRetries: t.maxRetries,
      framingCaps: t.framingCaps,
      secret: t.secret,
      hideAvps: t.hideAvps,
      messageDigest: t.messageDigest,
      sessions: this.entries,
      maxSessions: t.maxSessions,
      sessionIds: t.version === 3 ? this.rt.sessionIds3 : undefined,
      clock: this.rt.clock,
      hooks: this.hooks(),
      log: this.log,
      onEvent: (e) => this.onConnectionEvent(e),
    };
  }

  /** The kernel side of a connection: tunnel, sessions and pppd. */
  protected hooks(): ConnectionHooks<SessionEntry> {
    const dp = this.rt.dp;
    return {
      tunnelUp: async (info) => {
        if (this.closed) throw new Error(`Cannot bring tunnel "${this.name}" up: it is closing`);
        const fd = (info.socket as Partial<ReactorSocket>).fd;
        if (fd === undefined) throw new Error("Cannot create kernel tunnel: the socket has no fd");
        const t = this.config;
        await dp.createTunnel({
          tunnelId: info.localTunnelId,
          peerTunnelId: info.peerTunnelId,
          version: info.version,
          encap: info.encap,
          fd,
          udpChecksum: t.udpChecksum,
          udp6ZeroChecksumTx: t.udp6ZeroChecksumTx,
          udp6ZeroChecksumRx: t.udp6ZeroChecksumRx,
          debug: t.debug,
        });
        this.#fds.set(info.localTunnelId, fd);
      },
      tunnelDown: async (info) => {
        this.#fds.delete(info.localTunnelId);
        await dp.deleteTunnel(info.localTunnelId);
      },
      sessionUp: async (s) => {
        const entry = s.session;
        const live = await sessionUp(
          kernelSessionSpec(
            s.version,
            {
              tunnelId: s.localTunnelId,
              sessionId: s.localSessionId,
              peerSessionId: s.peerSessionId,
            },
            entry,
            {
              cookie: s.cookie,
              peerCookie: s.peerCookie,
              l2specType: s.l2specType,
              sendSeq: s.sendSeq,
              recvSeq: s.recvSeq,
              lnsMode: s.lnsMode,
            },
          ),
          {
            dataPlane: dp,
            pppd: this.rt.pppd,
            tunnelFd: this.#fds.get(s.localTunnelId),
            version: s.version,
            peerTunnelId: s.peerTunnelId,
            peer: s.peer,
            pppdArgs: entry.pppdArgsList,
            log: this.log,
            sessionName: entry.name,
            pppoe: pppoeOf(entry),
            onPppdExit: (exit) => {
              this.#calls.take(s.localTunnelId, s.localSessionId);
              const conn = this.connections().find((c) => c.localTunnelId === s.localTunnelId);
              conn?.closeSession(s.localSessionId, {
                resultCode: CdnResult.GeneralError,
                errorMessage: `pppd exited: ${exit.reason}`,
              }).catch((error) => {
                this.log.warn("Cannot close session {sessionId}: {error}", {
                  sessionId: s.localSessionId,
                  error: String(error),
                });
              });
            },
          },
        );
        this.#calls.set({ entry, live });
      },
      sessionDown: async (s) => {
        await this.#calls.take(s.localTunnelId, s.localSessionId)?.live.down();
      },
    };
  }

  /** A connection event, as a context event. */
  protected onConnectionEvent(e: ConnectionEvent<SessionEntry>): void {
    const rt = this.rt;
    switch (e.type) {
      case "tunnel-up":
        this.upSince.set(e.tunnel.localTunnelId, Date.now());
        rt.emit({
          type: "tunnel-up",
          tunnel: this.name,
          version: e.tunnel.version,
          encap: e.tunnel.encap,
          localTunnelId: e.tunnel.localTunnelId,
          peerTunnelId: e.tunnel.peerTunnelId,
          peer: e.tunnel.peer,
          peerHostName: e.tunnel.peerHostName,
        });
        break;
      case "tunnel-down":
        this.upSince.delete(e.tunnel.localTunnelId);
        rt.emit({
          type: "tunnel-down",
          tunnel: this.name,
          localTunnelId: e.tunnel.localTunnelId,
          peerTunnelId: e.tunnel.peerTunnelId || undefined,
          peer: this.peerOf(e.tunnel.localTunnelId),
          reason: e.tunnel.reason,
          resultCode: e.tunnel.result?.resultCode,
          wasUp: e.tunnel.wasUp,
        });
        break;
      case "session-up": {
        const s = e.session;
        const call = this.#calls.get(s.localTunnelId, s.localSessionId);
        rt.emit({
          type: "session-up",
          tunnel: this.name,
          session: s.session.name,
          localTunnelId: s.localTunnelId,
          peerTunnelId: s.peerTunnelId,
          localSessionId: s.localSessionId,
          peerSessionId: s.peerSessionId,
          peer: s.peer,
          pseudowire: s.pseudowire,
          interface: call?.live.ifname,
          ...pppoeFields(s.session),
        });
        break;
      }
      case "session-down":
        rt.emit({
          type: "session-down",
          tunnel: this.name,
          session: e.session.session?.name ?? "",
          localTunnelId: e.session.localTunnelId,
          localSessionId: e.session.localSessionId,
          peerSessionId: e.session.peerSessionId || undefined,
          peer: this.peerOf(e.session.localTunnelId),
          reason: e.session.reason,
          resultCode: e.session.result?.resultCode,
          ...(e.session.session ? pppoeFields(e.session.session) : {}),
        });
        break;
      case "session-info":
        this.log.debug("Session {localSessionId}: {message}", {
          localSessionId: e.localSessionId,
          message: e.message,
        });
        break;
    }
  }

  /** The peer of one of this tunnel's connections. */
  protected peerOf(localTunnelId: number): Endpoint | undefined {
    return this.connections().find((c) => c.localTunnelId === localTunnelId)?.peer;
  }
}

/** A session of a dynamic tunnel: a call placed (initiator) or a declaration (responder). */
export class DynamicSession implements Session {
  readonly #tunnel: DynamicTunnel;
  /** The declared session (the connection binds calls to it). */
  readonly entry: SessionEntry;
  #closing?: Promise<void>;

  /** The handle of `entry` in `tunnel`. */
  constructor(tunnel: DynamicTunnel, entry: SessionEntry) {
    this.#tunnel = tunnel;
    this.entry = entry;
  }

  get name(): string {
    return this.entry.name;
  }

  get tunnelName(): string {
    return this.#tunnel.name;
  }

  get config(): Readonly<SessionConfig> {
    const { name: _name, ...config } = this.entry;
    return config;
  }

  get closed(): boolean {
    return this.#closing !== undefined || this.#tunnel.closed;
  }

  status(): SessionStatus {
    return this.#tunnel.sessionStatus(this.entry);
  }

  close(): Promise<void> {
    this.#closing ??= this.#tunnel.removeSession(this);
    return this.#closing;
  }
}

function callStatus(call: Call): Omit<SessionStatus, "name" | "pseudowire"> {
  return {
    state: "up",
    localSessionId: call.live.sessionId,
    peerSessionId: call.live.peerSessionId,
    interface: call.live.ifname,
    upSince: new Date(call.live.since).toISOString(),
    uptimeSeconds: uptimeSeconds(call.live.since),
  };
}

/**
 * Wait for `p`, but no longer than `ms` milliseconds (the timer does not outlive the wait).
 *
 * @param p What to wait for.
 * @param ms The most to wait.
 * @returns Resolves when `p` settles or the time is up.
 */
export async function waitAtMost(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((r) => (timer = setTimeout(r, ms)));
  try {
    await Promise.race([p.then(() => {}, () => {}), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
