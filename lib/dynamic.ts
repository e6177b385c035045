/**
 * Dynamic tunnels: the full control protocol, wired to the kernel and pppd.
 *
 * Initiator tunnels (an L2TPv2 LAC, or an L2TPv3 LCCE that starts the connection) get a socket
 * of their own and a {@linkcode ControlConnection} that sends the SCCRQ and then opens every
 * configured session. Responder tunnels (`role = "lns"`) are served by a {@linkcode Listener} per
 * local address, which gives each accepted peer a socket of its own. In both cases the
 * connection's hooks program the kernel: the tunnel (with that socket's fd) once the control
 * connection is up, each session (and its pppd) once the call is established, and the reverse on
 * the way down. A pppd that exits by itself ends its session with a CDN.
 *
 * @module
 */

import type { TunnelEntry } from "./config.ts";
import type { Log } from "./log.ts";
import { ipFamily } from "../dataplane/ffi/sockaddr.ts";
import type { Reactor, ReactorSocket } from "../dataplane/reactor.ts";
import { kernelSessionSpec, type LiveSession, sessionUp } from "./sessions.ts";
import type { DataPlane, Endpoint } from "../dataplane/dataplane.ts";
import type { Clock } from "../control/clock.ts";
import {
  type ConnectionEvent,
  type ConnectionHooks,
  ControlConnection,
  type ControlConnectionOptions,
  endpointText,
} from "../control/connection.ts";
import { Listener, type ListenerTunnel } from "../control/listener.ts";
import { IdAllocator } from "../control/ids.ts";
import type { SessionEntry } from "./config.ts";
import { CdnResult, StopCcnResult } from "../control/constants.ts";

/** What {@linkcode DynamicTunnels} needs from the daemon. */
export interface DynamicOptions {
  /** The dynamic tunnels of the configuration, host names already resolved. */
  tunnels: readonly TunnelEntry[];
  /** Where tunnels and sessions are programmed. */
  dataPlane: DataPlane;
  /** The daemon's reactor (sockets are registered with it). */
  reactor: Reactor;
  /** Start pppd for PPP sessions. */
  pppd: boolean;
  /** Log. */
  log: Log;
  /** Clock for the control protocol (tests). */
  clock?: Clock;
  /** How long a StopCCN may wait for its acknowledgement at shutdown (default 1000 ms). */
  stopGraceMs?: number;
  /** IDs the static tunnels use: never allocated to a dynamic tunnel or session. */
  reserved?: readonly { version: 2 | 3; tunnelId?: number; sessionIds: (number | undefined)[] }[];
}

type Conn = ControlConnection<SessionEntry>;

/**
 * Runs the dynamic tunnels of a configuration.
 *
 * @example Usage
 * ```ts ignore
 * import { DynamicTunnels } from "./dynamic.ts";
 * const dyn = new DynamicTunnels({ tunnels, dataPlane, reactor, pppd: true, log });
 * dyn.start();
 * // ... later
 * await dyn.stop();
 * ```
 */
export class DynamicTunnels {
  readonly #o: DynamicOptions;
  readonly #tunnelIds = { 2: new IdAllocator(16), 3: new IdAllocator(32) };
  /** L2TPv3 session IDs are unique on the host (RFC 3931 §4.1: the session ID alone demuxes). */
  readonly #sessionIds3 = new IdAllocator(32);
  readonly #initiators: { conn: Conn; socket: ReactorSocket }[] = [];
  readonly #listeners: { listener: Listener<SessionEntry>; socket: ReactorSocket }[] = [];
  readonly #sessions = new Map<string, LiveSession>();
  readonly #redials = new Set<ReturnType<typeof setTimeout>>();
  #stopping = false;

  /** Prepare; nothing happens until {@linkcode DynamicTunnels.start}. */
  constructor(options: DynamicOptions) {
    this.#o = options;
    for (const r of options.reserved ?? []) {
      if (r.tunnelId !== undefined) this.#tunnelIds[r.version].reserve(r.tunnelId);
      if (r.version === 3) {
        for (const sid of r.sessionIds) if (sid !== undefined) this.#sessionIds3.reserve(sid);
      }
    }
  }

  /**
   * Open every socket and start every control connection and listener. Throws (after closing
   * what it opened) if a socket cannot be opened.
   */
  start(): void {
    try {
      const responders = this.#o.tunnels.filter((t) => t.role === "lns");
      for (const t of this.#o.tunnels.filter((t) => t.role !== "lns")) this.#startInitiator(t);
      const groups = new Map<string, TunnelEntry[]>();
      for (const t of responders) {
        const local = listenEndpoint(t);
        const key = `${t.encap} ${endpointText(local)}`;
        groups.set(key, [...groups.get(key) ?? [], t]);
      }
      for (const group of groups.values()) this.#startListener(group);
    } catch (error) {
      this.#abortAll();
      throw error;
    }
  }

  /** Close every control connection (StopCCN), wait briefly for the acknowledgements, end. */
  async stop(): Promise<void> {
    this.#stopping = true;
    for (const timer of this.#redials) clearTimeout(timer);
    this.#redials.clear();
    const open = this.#connections();
    const warn = (what: string) => (error: unknown): void => {
      this.#o.log.warn("Cannot close {what}: {error}", { what, error: String(error) });
    };
    // Listeners stop accepting at once and close their tunnels (StopCCN); so do initiators.
    // Everything they started is awaited below, through each connection's `done`.
    for (const { listener } of this.#listeners) listener.close().catch(warn("a listener"));
    for (const { conn } of this.#initiators) {
      conn.close({ resultCode: StopCcnResult.ShuttingDown })
        .catch(warn(`tunnel ${conn.localTunnelId}`));
    }
    // The transport keeps retransmitting the StopCCNs meanwhile; their hold time is not waited.
    if (open.length > 0) await sleep(this.#o.stopGraceMs ?? 1000);
    this.#abortAll();
    // Listeners may have accepted more connections during the grace time: those too.
    await Promise.all(this.#connections().map((c) => c.done));
    for (const s of this.#sessions.values()) await s.down();
    this.#sessions.clear();
  }

  #connections(): Conn[] {
    return [
      ...this.#initiators.map((i) => i.conn),
      ...this.#listeners.flatMap((l) => l.listener.connections),
    ];
  }

  #abortAll(): void {
    for (const { conn } of this.#initiators) conn.abort("shutting down");
    for (const { listener, socket } of this.#listeners) {
      listener.abort();
      this.#close(socket);
    }
  }

  #close(socket: { close(): void }): void {
    try {
      socket.close();
    } catch (error) {
      this.#o.log.warn("Cannot close a control socket: {error}", { error: String(error) });
    }
  }

  #common(t: TunnelEntry): Omit<ControlConnectionOptions<SessionEntry>, "socket" | "peer"> {
    return {
      version: t.version,
      encap: t.encap,
      role: t.role === "lns" ? "responder" : "initiator",
      name: t.name,
      hostName: t.hostName ?? Deno.hostname(),
      routerId: t.routerId,
      receiveWindow: t.windowSize,
      helloInterval: t.helloTimeoutMs,
      retryTimeout: t.retryTimeoutMs,
      maxRetries: t.maxRetries,
      framingCaps: t.framingCaps,
      secret: t.secret,
      hideAvps: t.hideAvps,
      messageDigest: t.messageDigest,
      sessions: t.sessions,
      maxSessions: t.maxSessions,
      sessionIds: t.version === 3 ? this.#sessionIds3 : undefined,
      clock: this.#o.clock,
      hooks: this.#hooks(t),
      log: this.#o.log.with({ tunnel: t.name }),
      onEvent: (e) => this.#event(t, e),
    };
  }

  #startInitiator(t: TunnelEntry, attempt = 0): void {
    if (!t.peer) throw new TypeError(`Cannot start tunnel "${t.name}": key "peer" is required`);
    const peer = t.peer;
    const wildcard = ipFamily(peer.address) === 6 ? "::" : "0.0.0.0";
    const local: Endpoint = t.local ?? { address: wildcard, port: 0 };
    let localTunnelId: number | undefined;
    let socket: ReactorSocket;
    const ids = this.#tunnelIds[t.version];
    if (t.tid !== undefined && !ids.reserve(t.tid)) {
      throw new Error(`Cannot start tunnel "${t.name}": tid ${t.tid} is already in use`);
    }
    if (t.encap === "ip") {
      // An L2TP/IP socket is bound to our connection ID: pick it first.
      localTunnelId = t.tid ?? ids.allocate();
      socket = this.#o.reactor.l2tpip({ local, connId: localTunnelId });
    } else {
      socket = this.#o.reactor.udp({ local });
    }
    // Redial once per connection: when its tunnel goes down (before the StopCCN hold), or when
    // it ends without ever reporting that.
    let redialled = false;
    const redial = (wasUp: boolean): void => {
      if (redialled) return;
      redialled = true;
      this.#redial(t, wasUp ? 1 : attempt + 1);
    };
    const common = this.#common(t);
    let conn: Conn;
    try {
      conn = new ControlConnection<SessionEntry>({
        ...common,
        onEvent: (e) => {
          common.onEvent?.(e);
          if (e.type === "tunnel-down") redial(e.tunnel.wasUp);
        },
        socket,
        peer,
        connected: false,
        localTunnelId: localTunnelId ?? t.tid,
        tunnelIds: ids,
      });
    } catch (error) {
      this.#close(socket);
      throw error;
    }
    const entry = { conn, socket };
    this.#initiators.push(entry);
    conn.start();
    for (const s of t.sessions) conn.openSession(s);
    conn.done.then(async () => {
      this.#close(socket);
      const i = this.#initiators.indexOf(entry);
      if (i >= 0) this.#initiators.splice(i, 1);
      redial(await conn.established);
    });
  }

  /** Dial a LAC tunnel again after it went down, when configured to (`redial`). */
  #redial(t: TunnelEntry, attempt: number): void {
    const log = this.#o.log.with({ tunnel: t.name });
    if (this.#stopping || t.redialTimeoutMs === undefined) return;
    if (t.maxRedials !== undefined && attempt > t.maxRedials) {
      log.error("Tunnel down; giving up after {n} redials", { n: t.maxRedials });
      return;
    }
    log.info("Tunnel down; redialling in {ms} ms (attempt {attempt})", {
      ms: t.redialTimeoutMs,
      attempt,
    });
    const timer = setTimeout(() => {
      this.#redials.delete(timer);
      if (this.#stopping) return;
      try {
        this.#startInitiator(t, attempt);
      } catch (error) {
        log.error("Cannot redial: {error}", { error: String(error) });
        this.#redial(t, attempt + 1);
      }
    }, t.redialTimeoutMs);
    this.#redials.add(timer);
  }

  #startListener(group: TunnelEntry[]): void {
    const first = group[0];
    const local = listenEndpoint(first);
    const reactor = this.#o.reactor;
    const socket = first.encap === "ip"
      ? reactor.l2tpip({ local, connId: 0 })
      : reactor.udp({ local });
    const tunnels: ListenerTunnel<SessionEntry>[] = group.map((t) => {
      const { version: _v, encap: _e, role: _r, ...connection } = this.#common(t);
      return {
        name: t.name,
        version: t.version,
        peer: t.peer,
        acceptAnyPeer: t.acceptAnyPeer,
        maxTunnels: t.maxTunnels,
        connection,
      };
    });
    let listener: Listener<SessionEntry>;
    try {
      listener = new Listener<SessionEntry>({
        socket,
        encap: first.encap,
        local,
        tunnels,
        openSocket: (r) =>
          r.encap === "ip"
            ? reactor.l2tpip({
              local: r.local,
              peer: r.peer,
              connId: r.localTunnelId,
              peerConnId: r.peerTunnelId,
            })
            : reactor.udp({ local: r.local, peer: r.peer }),
        tunnelIds: this.#tunnelIds,
        sessionIds: this.#sessionIds3,
        clock: this.#o.clock,
        log: this.#o.log.with({ listener: endpointText(local) }),
      });
    } catch (error) {
      this.#close(socket);
      throw error;
    }
    this.#listeners.push({ listener, socket });
    listener.start();
    this.#o.log.info("Listening for {encap} control connections on {local} ({tunnels})", {
      encap: first.encap === "ip" ? "L2TP/IP" : "UDP",
      local: endpointText(local),
      tunnels: group.map((t) => t.name).join(", "),
    });
  }

  #hooks(t: TunnelEntry): ConnectionHooks<SessionEntry> {
    const dp = this.#o.dataPlane;
    const fds = new Map<number, number>();
    return {
      tunnelUp: async (info) => {
        const fd = (info.socket as Partial<ReactorSocket>).fd;
        if (fd === undefined) throw new Error("Cannot create kernel tunnel: the socket has no fd");
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
        fds.set(info.localTunnelId, fd);
      },
      tunnelDown: async (info) => {
        fds.delete(info.localTunnelId);
        await dp.deleteTunnel(info.localTunnelId);
      },
      sessionUp: async (s) => {
        const key = `${s.localTunnelId}/${s.localSessionId}`;
        const cfg = s.session;
        const live = await sessionUp(
          kernelSessionSpec(
            s.version,
            {
              tunnelId: s.localTunnelId,
              sessionId: s.localSessionId,
              peerSessionId: s.peerSessionId,
            },
            cfg,
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
            pppd: this.#o.pppd,
            tunnelFd: fds.get(s.localTunnelId),
            version: s.version,
            peerTunnelId: s.peerTunnelId,
            peer: s.peer,
            pppdArgs: cfg.pppdArgsList,
            log: this.#o.log.with({ tunnel: t.name, session: cfg.name }),
            onPppdExit: (exit) => {
              this.#sessions.delete(key);
              const conn = this.#connections().find((c) => c.localTunnelId === s.localTunnelId);
              if (!conn) return;
              conn.closeSession(s.localSessionId, {
                resultCode: CdnResult.GeneralError,
                errorMessage: `pppd exited: ${exit.reason}`,
              }).catch((error) => {
                this.#o.log.warn("Cannot close session {sessionId}: {error}", {
                  sessionId: s.localSessionId,
                  error: String(error),
                });
              });
            },
          },
        );
        this.#sessions.set(key, live);
      },
      sessionDown: async (s) => {
        const key = `${s.localTunnelId}/${s.localSessionId}`;
        const live = this.#sessions.get(key);
        this.#sessions.delete(key);
        await live?.down();
      },
    };
  }

  #event(t: TunnelEntry, e: ConnectionEvent<SessionEntry>): void {
    const log = this.#o.log.with({ tunnel: t.name });
    switch (e.type) {
      case "tunnel-up":
        log.info("Tunnel {localTunnelId} up: peer {peer} tunnel {peerTunnelId}{host}", {
          localTunnelId: e.tunnel.localTunnelId,
          peerTunnelId: e.tunnel.peerTunnelId,
          peer: endpointText(e.tunnel.peer),
          host: e.tunnel.peerHostName ? ` (${e.tunnel.peerHostName})` : "",
        });
        break;
      case "tunnel-down":
        log.info("Tunnel {localTunnelId} down: {reason}", {
          localTunnelId: e.tunnel.localTunnelId,
          reason: e.tunnel.reason,
        });
        break;
      case "session-up": {
        const live = this.#sessions.get(`${e.session.localTunnelId}/${e.session.localSessionId}`);
        log.with({ session: e.session.session.name }).info(
          "Session {localSessionId} up: peer session {peerSessionId} ({pseudowire}{ifname})",
          {
            localSessionId: e.session.localSessionId,
            peerSessionId: e.session.peerSessionId,
            pseudowire: e.session.pseudowire,
            ifname: live?.info?.ifname ? `, ${live.info.ifname}` : "",
          },
        );
        break;
      }
      case "session-down":
        log.with({ session: e.session.session?.name }).info(
          "Session {localSessionId} down: {reason}",
          { localSessionId: e.session.localSessionId, reason: e.session.reason },
        );
        break;
      case "session-info":
        log.info("Session {localSessionId}: {message}", {
          localSessionId: e.localSessionId,
          message: e.message,
        });
        break;
    }
  }
}

/** Where a responder tunnel listens: its `local` (the configuration requires one). */
function listenEndpoint(t: TunnelEntry): Endpoint {
  if (!t.local) {
    throw new TypeError(`Cannot listen for tunnel "${t.name}": key "local" is required`);
  }
  return t.local;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
