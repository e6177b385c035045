/**
 * The responder side's front door: a socket that receives SCCRQs from peers (UDP bound to
 * `local:port`, 1701 by default; or L2TP/IP bound to control connection ID 0) and turns each new
 * one into a {@linkcode ControlConnection} in the responder role, on a socket of its own.
 *
 * For each datagram:
 * - a control message for a known tunnel ID (it reached the listener before the tunnel's own
 *   socket existed) is handed to that connection;
 * - an SCCRQ that repeats one already accepted (same peer address and port, same Assigned Tunnel
 *   ID) is handed to that connection, whose transport acknowledges the duplicate: it is never
 *   accepted twice;
 * - a new SCCRQ is matched against the configured responder tunnels: first those whose `peer`
 *   address is the sender's, then those that accept any peer (which need a shared secret). The
 *   SCCRQ must decode (hidden AVPs) and, for L2TPv3 with a Message Digest, authenticate with that
 *   tunnel's secret. A sender that matches nothing gets a StopCCN "not authorized" (result 4)
 *   and a log line; one over a limit (`maxTunnels` of the listener or of the tunnel) gets a
 *   StopCCN "general error, insufficient resources" (result 2, error 4). These rejections are
 *   stateless: one StopCCN per SCCRQ, acknowledging it, never retransmitted.
 * - An SCCRQ that crosses one of our own (the daemon's `contest` hook asks our initiator, see
 *   {@linkcode ControlConnection.contest}) is ignored when we win the tie breaker.
 *
 * Several tunnels from one peer address and port (RFC 2661 allows any number between two
 * hosts; xl2tpd sends all its tunnels from its one UDP port) get sockets with the same addresses
 * and ports, and the kernel delivers each datagram from that peer to one of them, whichever
 * tunnel it is for; a new SCCRQ from that peer reaches one of them too, not this socket. So what
 * an accepted connection's socket reads for another tunnel ID, or with tunnel ID 0, comes back
 * here (the connection's `onForeign`) and is handled as above.
 *
 * The per-tunnel socket comes from the injected {@linkcode TunnelSocketFactory} (the daemon's
 * opens a UDP socket bound to the listener's address and port with SO_REUSEADDR and connected to
 * the peer, or an L2TP/IP socket bound to the new control connection ID and connected to the
 * peer's); the listener closes it once the connection is over.
 *
 * The example below is not run: it needs the daemon's reactor and a configured session (the
 * {@linkcode Listener} example runs over an in-memory network).
 *
 * @example Usage
 * ```ts ignore
 * import { Listener } from "./listener.ts";
 * const listener = new Listener({
 *   socket: reactor.udp({ local: { address: "0.0.0.0", port: 1701 } }),
 *   encap: "udp", local: { address: "0.0.0.0", port: 1701 },
 *   tunnels: [{ name: "lns", version: 2, acceptAnyPeer: true, secret: "s3cret",
 *     connection: { hostName: "lns", secret: "s3cret", sessions: [pppSession] } }],
 *   openSocket: ({ local, peer }) => reactor.udp({ local, peer }),
 * });
 * listener.start();
 * ```
 *
 * @module
 */

import type { Datagram, Endpoint } from "./types.ts";
import { digestKey } from "./auth.ts";
import { buildStopccn } from "./builders.ts";
import type { Clock } from "./clock.ts";
import { ControlConnection } from "./connection.ts";
import type {
  ControlConnectionOptions,
  ControlLog,
  ControlSocket,
  SessionParams,
} from "./connection_types.ts";
import { NOOP_LOG } from "./connection_util.ts";
import { formatEndpoint } from "./endpoint.ts";
import type { ResultCodeValue } from "./avp.ts";
import { AvpType, ErrorCode, MessageType, StopCcnResult } from "./constants.ts";
import { type L2tpVersion, peekHeader } from "./header.ts";
import { IdAllocator } from "./ids.ts";
import { type ControlMessage, decodeControl, encodeControl, getAvp } from "./message.ts";
import { seqAdd } from "./sequence.ts";

/**
 * What a responder tunnel's connections are made with: the connection options other than those
 * the listener fills in.
 *
 * @example Usage
 * ```ts
 * import type { ResponderOptions } from "./listener.ts";
 * const o: ResponderOptions = { hostName: "lns", secret: "s3cret" };
 * console.log(o.hostName); // lns
 * ```
 */
export type ResponderOptions<S extends SessionParams = SessionParams> = Omit<
  ControlConnectionOptions<S>,
  | "version"
  | "encap"
  | "role"
  | "socket"
  | "peer"
  | "connected"
  | "ipPrefix"
  | "initial"
  | "localTunnelId"
  | "tunnelIds"
  | "onForeign"
>;

/**
 * One configured responder tunnel (a `role = "lns"` tunnel of the configuration): whom it
 * accepts and how its connections are made.
 *
 * @example Usage
 * ```ts
 * import type { ListenerTunnel } from "./listener.ts";
 * const t: ListenerTunnel = {
 *   name: "lns", version: 2, peer: { address: "192.0.2.1", port: 1701 },
 *   connection: { hostName: "lns" },
 * };
 * console.log(t.name); // lns
 * ```
 */
export interface ListenerTunnel<S extends SessionParams = SessionParams> {
  /** Name, for logs. */
  name: string;
  /** Protocol version it speaks. */
  version: L2tpVersion;
  /** The peer it accepts (its address; the port is not checked). */
  peer?: Endpoint;
  /** Accept an SCCRQ from any address (requires `connection.secret`). */
  acceptAnyPeer?: boolean;
  /** Most connections at once from this entry (default unlimited). */
  maxTunnels?: number;
  /** How its connections are made. */
  connection: ResponderOptions<S>;
}

/**
 * What the per-tunnel socket factory is asked for.
 *
 * @example Usage
 * ```ts
 * import type { TunnelSocketRequest } from "./listener.ts";
 * const r: TunnelSocketRequest = { encap: "udp", version: 2, local: { address: "0.0.0.0", port: 1701 },
 *   peer: { address: "192.0.2.1", port: 1701 }, localTunnelId: 5, peerTunnelId: 9, tunnel: "lns" };
 * console.log(r.localTunnelId); // 5
 * ```
 */
export interface TunnelSocketRequest {
  /** Encapsulation. */
  encap: "udp" | "ip";
  /** Protocol version. */
  version: L2tpVersion;
  /** The listener's local endpoint (bind the new socket there). */
  local: Endpoint;
  /** The peer (connect the new socket to it). */
  peer: Endpoint;
  /** Our new tunnel ID (for L2TP/IP: bind to it). */
  localTunnelId: number;
  /** The peer's tunnel ID (for L2TP/IP: connect to it). */
  peerTunnelId: number;
  /** The configured tunnel's name. */
  tunnel: string;
}

/**
 * A socket for one accepted tunnel, closed by the listener when the tunnel is over.
 *
 * @example Usage
 * ```ts
 * import type { TunnelSocket } from "./listener.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const s: TunnelSocket = new MemoryNetwork().socket({ address: "192.0.2.2", port: 1701 });
 * s.close();
 * ```
 */
export type TunnelSocket = ControlSocket & { close(): void };

/**
 * Opens the socket of an accepted tunnel.
 *
 * @example Usage
 * ```ts
 * import type { TunnelSocketFactory } from "./listener.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const net = new MemoryNetwork();
 * const open: TunnelSocketFactory = ({ local, peer }) => {
 *   const s = net.socket(local);
 *   s.connect(peer);
 *   return s;
 * };
 * const s = open({
 *   encap: "udp", version: 2, local: { address: "192.0.2.2", port: 1701 },
 *   peer: { address: "192.0.2.1", port: 1701 }, localTunnelId: 5, peerTunnelId: 9, tunnel: "lns",
 * });
 * s.close();
 * ```
 */
export type TunnelSocketFactory = (request: TunnelSocketRequest) => TunnelSocket;

/**
 * Options of {@linkcode Listener}.
 *
 * @example Usage
 * ```ts
 * import type { ListenerOptions } from "./listener.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const net = new MemoryNetwork();
 * const local = { address: "192.0.2.2", port: 1701 };
 * const o: ListenerOptions = { socket: net.socket(local), encap: "udp", local,
 *   tunnels: [], openSocket: () => net.socket(local) };
 * console.log(o.tunnels.length); // 0
 * ```
 */
export interface ListenerOptions<S extends SessionParams = SessionParams> {
  /** The listening socket (the listener reads it; its owner closes it). */
  socket: ControlSocket;
  /** Encapsulation of the socket. */
  encap: "udp" | "ip";
  /** The socket's local endpoint. */
  local: Endpoint;
  /** L2TP/IP datagrams carry the zero Session ID (default false: real sockets strip it). */
  ipPrefix?: boolean;
  /** The responder tunnels it serves. */
  tunnels: readonly ListenerTunnel<S>[];
  /** Opens each accepted tunnel's socket. */
  openSocket: TunnelSocketFactory;
  /** Most tunnels at once over all entries (default unlimited). */
  maxTunnels?: number;
  /**
   * Most tunnels still being set up at once (default 64). SCCRQs beyond it are dropped without
   * an answer, so a flood of them (L2TPv2 authenticates only at the SCCCN) costs little.
   */
  maxHalfOpen?: number;
  /** Tunnel ID allocators per version (default private ones). */
  tunnelIds?: { 2?: IdAllocator; 3?: IdAllocator };
  /** Session ID allocator shared by the connections (L2TPv3: host-wide). */
  sessionIds?: IdAllocator;
  /** Clock for the connections. */
  clock?: Clock;
  /** Log. */
  log?: ControlLog;
  /** Asks our initiator towards `peer` whether an SCCRQ crossing ours wins (see contest). */
  contest?: (peer: Endpoint, version: L2tpVersion, tieBreaker?: bigint) => "win" | "lose" | "none";
  /** Called for each connection accepted, before it starts. */
  onConnection?: (connection: ControlConnection<S>, tunnel: ListenerTunnel<S>) => void;
}

interface Accepted<S extends SessionParams> {
  conn: ControlConnection<S>;
  tunnel: ListenerTunnel<S>;
  key: string;
  socket: TunnelSocket;
}

/** Tunnel states of a connection that is accepted but not yet established. */
const SETTING_UP: ReadonlySet<string> = new Set([
  "idle",
  "wait-ctl-conn",
  "wait-ctl-ack",
  "wait-up",
]);

/**
 * Accepts control connections (see the module documentation).
 *
 * @example Usage
 * ```ts
 * import { Listener } from "./listener.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const net = new MemoryNetwork();
 * const local = { address: "10.0.0.2", port: 1701 };
 * using sock = net.socket(local);
 * const listener = new Listener({
 *   socket: sock, encap: "udp", local,
 *   tunnels: [{ name: "lns", version: 2, peer: { address: "10.0.0.1", port: 1701 },
 *     connection: { hostName: "lns" } }],
 *   openSocket: ({ peer }) => {
 *     const s = net.socket(local);
 *     s.connect(peer);
 *     return s;
 *   },
 * });
 * listener.start();
 * console.log(listener.connections.length); // 0
 * await listener.close();
 * ```
 */
export class Listener<S extends SessionParams = SessionParams> {
  readonly #opts: ListenerOptions<S>;
  #warnWindow = -Infinity;
  #warnCount = 0;
  #warnSuppressed = 0;
  readonly #log: ControlLog;
  readonly #ids: { 2: IdAllocator; 3: IdAllocator };
  readonly #accepted = new Map<ControlConnection<S>, Accepted<S>>();
  readonly #bySccrq = new Map<string, Accepted<S>>();
  readonly #byTunnelId = new Map<string, Accepted<S>>();
  #started = false;
  #closing = false;

  /**
   * A listener; nothing is read until {@linkcode Listener.start}.
   *
   * @param options Socket, tunnels, socket factory, limits.
   * @throws {TypeError} If a tunnel accepts any peer without a shared secret.
   */
  constructor(options: ListenerOptions<S>) {
    for (const t of options.tunnels) {
      if (t.acceptAnyPeer && !t.connection.secret) {
        throw new TypeError(
          `Cannot create listener: tunnel ${t.name} accepts any peer but has no shared secret`,
        );
      }
    }
    this.#opts = options;
    this.#log = options.log ?? NOOP_LOG;
    this.#ids = {
      2: options.tunnelIds?.[2] ?? new IdAllocator(16),
      3: options.tunnelIds?.[3] ?? new IdAllocator(32),
    };
  }

  /** The connections accepted and not yet over. */
  get connections(): ControlConnection<S>[] {
    return [...this.#accepted.keys()];
  }

  /** Start reading the listening socket. Calling it again does nothing. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    void (async (): Promise<void> => {
      try {
        for await (const d of this.#opts.socket) {
          if (this.#closing) break;
          this.receive(d);
        }
      } catch (e) {
        if (!this.#closing) {
          this.#log.warn("listener on {local}: socket read failed: {error}", {
            local: formatEndpoint(this.#opts.local),
            error: e instanceof Error ? e.message : String(e),
          });
        }
      }
    })();
  }

  /**
   * Process one datagram that reached the listening socket. Never throws.
   *
   * @param d The datagram.
   */
  receive(d: Datagram): void {
    try {
      this.#onDatagram(d);
    } catch (e) {
      this.#warn("listener on {local}: dropped a datagram from {from}: {error}", {
        local: formatEndpoint(this.#opts.local),
        from: formatEndpoint(d.from),
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }

  /**
   * Stop accepting and close every connection (StopCCN); resolves once all are over.
   *
   * @param result The StopCCN's Result Code (default 6, shutting down).
   * @returns Resolves when every connection is done.
   */
  async close(result?: ResultCodeValue): Promise<void> {
    this.#closing = true;
    const all = [...this.#accepted.keys()];
    await Promise.all(
      all.map((c) => c.close(result ?? { resultCode: StopCcnResult.ShuttingDown })),
    );
    await Promise.all(all.map((c) => c.done));
  }

  /** Stop accepting and end every connection now (no StopCCN hold). */
  abort(): void {
    this.#closing = true;
    for (const c of this.#accepted.keys()) c.abort("listener closed");
  }

  #wire(): "ip" | "udp" {
    return this.#opts.ipPrefix && this.#opts.encap === "ip" ? "ip" : "udp";
  }

  /**
   * A datagram that reached the listening socket, or (`via`) one that reached the socket of the
   * accepted connection `via` but is not for it (see `onForeign` in control/connection.ts).
   * Returns whether it was taken (handed to a connection, accepted, refused or dropped here);
   * `via` processes what was not.
   */
  #onDatagram(d: Datagram, via?: ControlConnection<S>): boolean {
    const peek = peekHeader(d.data, this.#wire());
    if (peek.kind !== "control") return false;
    const version = peek.version;
    if (peek.tunnelId !== 0) {
      const a = this.#byTunnelId.get(`${version}|${peek.tunnelId}`);
      if (a === undefined || a.conn === via) return false;
      a.conn.receive(d);
      return true;
    }
    if (peek.zlb || this.#closing) return false;
    const byAddress = this.#opts.tunnels.filter((t) =>
      t.version === version && t.peer !== undefined && t.peer.address === d.from.address
    );
    const anyPeer = this.#opts.tunnels.filter((t) =>
      t.version === version && t.acceptAnyPeer && !byAddress.includes(t)
    );
    const candidates = [...byAddress, ...anyPeer];
    let msg: ControlMessage | undefined;
    let tunnel: ListenerTunnel<S> | undefined;
    let lastError = "";
    for (const t of candidates.length > 0 ? candidates : [undefined]) {
      try {
        msg = this.#decode(d, version, t);
        tunnel = t;
        break;
      } catch (e) {
        lastError = e instanceof Error ? e.message : String(e);
      }
    }
    if (msg === undefined) {
      if (via !== undefined) return false;
      this.#warn("listener on {local}: SCCRQ from {from} refused: {error}", {
        local: formatEndpoint(this.#opts.local),
        from: formatEndpoint(d.from),
        error: `cannot decode or authenticate it (${lastError}); wrong shared secret?`,
      });
      return true;
    }
    if (msg.type !== MessageType.SCCRQ) return false;
    const assigned = version === 2
      ? getAvp(msg, AvpType.AssignedTunnelId)
      : getAvp(msg, AvpType.AssignedControlConnectionId);
    if (!assigned) {
      if (via !== undefined) return false;
      this.#warn("listener on {local}: SCCRQ from {from} without a tunnel ID: dropped", {
        local: formatEndpoint(this.#opts.local),
        from: formatEndpoint(d.from),
      });
      return true;
    }
    const key = `${version}|${formatEndpoint(d.from)}|${assigned}`;
    const known = this.#bySccrq.get(key);
    if (known !== undefined) {
      if (known.conn === via) return false;
      known.conn.receive(d);
      return true;
    }
    // A new control connection starts at Ns 0 and Nr 0 (RFC 2661 §5.8); anything else would sit
    // in the new transport's queue, never delivered, and hold a socket until setup time ran out.
    if (peek.ns !== 0 || peek.nr !== 0) {
      if (via !== undefined) return false;
      this.#warn("listener on {local}: SCCRQ from {from} with Ns {ns}, Nr {nr}: dropped", {
        local: formatEndpoint(this.#opts.local),
        from: formatEndpoint(d.from),
        ns: peek.ns,
        nr: peek.nr,
      });
      return true;
    }
    if (tunnel === undefined) {
      this.#reject(d, version, peek.ns, assigned, {
        resultCode: StopCcnResult.NotAuthorized,
        errorMessage: "not a configured peer",
      }, "not a configured peer");
      return true;
    }
    const halfOpen = [...this.#accepted.keys()].filter((c) => SETTING_UP.has(c.state)).length;
    if (halfOpen >= (this.#opts.maxHalfOpen ?? 64)) {
      this.#warn("listener on {local}: SCCRQ from {from} dropped: {n} tunnels already setting up", {
        local: formatEndpoint(this.#opts.local),
        from: formatEndpoint(d.from),
        n: halfOpen,
      });
      return true;
    }
    const max = this.#opts.maxTunnels;
    const count = (t: ListenerTunnel<S>): number =>
      [...this.#accepted.values()].filter((a) => a.tunnel === t).length;
    if (
      (max !== undefined && this.#accepted.size >= max) ||
      (tunnel.maxTunnels !== undefined && count(tunnel) >= tunnel.maxTunnels)
    ) {
      this.#reject(d, version, peek.ns, assigned, {
        resultCode: StopCcnResult.GeneralError,
        errorCode: ErrorCode.NoResources,
        errorMessage: "tunnel limit reached",
      }, "tunnel limit reached");
      return true;
    }
    const verdict = this.#opts.contest?.(d.from, version, getAvp(msg, AvpType.TieBreaker)) ??
      "none";
    if (verdict === "win") {
      this.#log.info(
        "listener on {local}: SCCRQ from {from} crosses ours and loses the tie breaker",
        {
          local: formatEndpoint(this.#opts.local),
          from: formatEndpoint(d.from),
        },
      );
      return true;
    }
    this.#accept(d, version, assigned, tunnel, key);
    return true;
  }

  /** A datagram read by an accepted connection's socket that is not for it. Never throws. */
  #foreign(d: Datagram, via: ControlConnection<S> | undefined): boolean {
    if (via === undefined) return false;
    try {
      return this.#onDatagram(d, via);
    } catch {
      return false;
    }
  }

  #decode(d: Datagram, version: L2tpVersion, t: ListenerTunnel<S> | undefined): ControlMessage {
    const secret = t?.connection.secret;
    const v3digest = version === 3 && secret !== undefined && secret.length > 0;
    const digestOn = v3digest && (t?.connection.messageDigest ?? "md5") !== "none";
    return decodeControl(d.data, {
      transport: this.#wire(),
      version,
      ignoreMalformed: true,
      ...(secret !== undefined && secret.length > 0 ? { secret } : {}),
      ...(v3digest ? { digest: { key: digestKey(secret), required: digestOn } } : {}),
    });
  }

  /** A warning caused by what a peer sent: at most 10 per 10 s, then a count of the rest. */
  #warn(message: string, properties: Record<string, unknown>): void {
    const now = this.#opts.clock?.now() ?? Date.now();
    if (now - this.#warnWindow >= 10_000) {
      if (this.#warnSuppressed > 0) {
        this.#log.warn("listener on {local}: {n} more such warnings were suppressed", {
          local: formatEndpoint(this.#opts.local),
          n: this.#warnSuppressed,
        });
      }
      this.#warnWindow = now;
      this.#warnCount = 0;
      this.#warnSuppressed = 0;
    }
    if (this.#warnCount++ < 10) this.#log.warn(message, properties);
    else this.#warnSuppressed++;
  }

  #reject(
    d: Datagram,
    version: L2tpVersion,
    ns: number,
    peerTunnelId: number,
    result: ResultCodeValue,
    why: string,
  ): void {
    this.#warn("listener on {local}: SCCRQ from {from} refused: {why}", {
      local: formatEndpoint(this.#opts.local),
      from: formatEndpoint(d.from),
      why,
    });
    const stop = buildStopccn(version, 0, result);
    const bytes = encodeControl({
      version,
      tunnelId: peerTunnelId,
      ns: 0,
      nr: seqAdd(ns),
      type: stop.type,
      avps: stop.avps,
    }, { transport: this.#wire() });
    try {
      this.#opts.socket.send(bytes, d.from);
    } catch {
      // A lost rejection is a rejection all the same.
    }
  }

  #accept(
    d: Datagram,
    version: L2tpVersion,
    peerTunnelId: number,
    tunnel: ListenerTunnel<S>,
    key: string,
  ): void {
    const ids = this.#ids[version];
    const localTunnelId = ids.allocate();
    let socket: TunnelSocket;
    try {
      socket = this.#opts.openSocket({
        encap: this.#opts.encap,
        version,
        local: { ...this.#opts.local },
        peer: { ...d.from },
        localTunnelId,
        peerTunnelId,
        tunnel: tunnel.name,
      });
    } catch (e) {
      ids.release(localTunnelId);
      this.#log.error("listener on {local}: cannot open a socket for {from}: {error}", {
        local: formatEndpoint(this.#opts.local),
        from: formatEndpoint(d.from),
        error: e instanceof Error ? e.message : String(e),
      });
      return;
    }
    const self: { conn?: ControlConnection<S> } = {};
    const conn = new ControlConnection<S>({
      ...(this.#opts.clock ? { clock: this.#opts.clock } : {}),
      ...(this.#opts.log ? { log: this.#opts.log } : {}),
      // The shared allocator hands out 32-bit IDs: L2TPv3 only (v2 session IDs are per tunnel).
      ...(this.#opts.sessionIds && version === 3 ? { sessionIds: this.#opts.sessionIds } : {}),
      name: tunnel.name,
      ...tunnel.connection,
      version,
      encap: this.#opts.encap,
      role: "responder",
      socket,
      peer: { ...d.from },
      connected: true,
      ipPrefix: this.#opts.ipPrefix ?? false,
      initial: d,
      localTunnelId,
      tunnelIds: ids,
      onForeign: (f) => this.#foreign(f, self.conn),
    });
    self.conn = conn;
    const a: Accepted<S> = { conn, tunnel, key, socket };
    this.#accepted.set(conn, a);
    this.#bySccrq.set(key, a);
    const idKey = `${version}|${localTunnelId}`;
    this.#byTunnelId.set(idKey, a);
    this.#log.debug("listener on {local}: accepted SCCRQ from {from} for {tunnel}", {
      local: formatEndpoint(this.#opts.local),
      from: formatEndpoint(d.from),
      tunnel: tunnel.name,
    });
    void conn.done.then(() => {
      this.#accepted.delete(conn);
      if (this.#bySccrq.get(key) === a) this.#bySccrq.delete(key);
      if (this.#byTunnelId.get(idKey) === a) this.#byTunnelId.delete(idKey);
      try {
        socket.close();
      } catch {
        // already closed
      }
    });
    this.#opts.onConnection?.(conn, tunnel);
    conn.start();
  }
}
