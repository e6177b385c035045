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
 * Answering without state (UDP; the `cookies` option, on by default). A sender's address is not
 * proved by its SCCRQ, and L2TPv2 authenticates only at the SCCCN, so every SCCRQ accepted used
 * to hold a connection, a socket and our SCCRP's retransmissions for many seconds: a few spoofed
 * SCCRQs a second kept every legitimate peer out. Instead, like TCP SYN cookies, an SCCRQ is
 * answered with an SCCRP whose Assigned Tunnel (Control Connection) ID is a cookie, a keyed hash
 * of the peer's address, port, Assigned ID, SCCRQ and a time bucket (control/sccrq_cookie.ts),
 * and whose Challenge (L2TPv2, RFC 2661 §4.2) or nonce (L2TPv3, RFC 3931 §5.4.3) comes from a
 * stream seeded by the same hash. That SCCRP carries what the connection's own would (Host Name,
 * Framing Capabilities, Receive Window Size, Challenge Response to the peer's Challenge, Message
 * Digest), goes out from the listening socket, and is not retransmitted: a peer that does not get
 * it retransmits its SCCRQ, which is answered the same way again (RFC 2661 §5.8). No connection,
 * socket, transport or timer exists until the peer's SCCCN, addressed to the cookie with Ns 1 and
 * Nr 1 (acknowledging the SCCRP), proves the round trip; then the cookie becomes the tunnel's ID
 * (reserved in the tunnel ID allocator; a cookie already in use is never handed out), the
 * tunnel's socket is opened, and the connection starts as if it had sent that SCCRP itself (its
 * `sccrpReply` option): it checks the SCCCN (the Challenge Response) and acknowledges it. A
 * StopCCN to a cookie (the peer refused our SCCRP) proves the round trip as well: it gets a
 * connection too, which acknowledges it and holds it as any refused tunnel does (RFC 2661
 * §5.7).
 *
 * The SCCCN says neither the peer's tunnel ID nor anything else of its SCCRQ, so the SCCRQs
 * answered are kept until then: their bytes only (SCCRQs over 1 KiB, which no real peer sends,
 * are accepted with state instead), in a bounded table (`maxPending`, default 16384 entries of
 * about half a kilobyte, at most `maxPerSource` per address) that forgets its oldest entries to
 * make room, with a quarter reserved for configured peers (`peer` matched by address), whose
 * entries go last.
 * Entries expire with their cookie's key, between `halfOpenTimeout / 2` and `halfOpenTimeout`
 * (default 10 s) after the SCCRP; an SCCCN for an unknown cookie, from another address or port,
 * or with other sequence numbers is dropped. An SCCCN for a cookie that was given to its sender
 * but has expired (its SCCCN was lost or delayed until then) gets a stateless StopCCN "general
 * error, no control connection" (RFC 2661 §4.4.2: result 2, error 1, "cookie expired, redial"),
 * at most one per cookie, so that the peer dials again at once instead of retransmitting its
 * SCCCN for half a minute.
 *
 * Tunnels accepted but not yet established (over L2TP/IP, where the kernel delivers a control
 * message only to a socket bound to its connection ID, so a cookie's SCCCN would never arrive,
 * every accepted SCCRQ is one) are limited too: at most `maxHalfOpen` (default 64), a quarter of
 * them reserved for configured peers, `maxPerSource` per address, and each is given up after
 * `halfOpenTimeout`, well before an established tunnel's peer would be declared dead. SCCRQs or
 * SCCCNs over these limits are dropped without an answer (the peer retransmits); the warnings
 * about drops are rate-limited.
 *
 * Several tunnels from one peer address and port (RFC 2661 allows any number between two
 * hosts; xl2tpd sends all its tunnels from its one UDP port) get sockets with the same addresses
 * and ports, and the kernel delivers each datagram from that peer to one of them, whichever
 * tunnel it is for; a new SCCRQ (or SCCCN) from that peer reaches one of them too, not this
 * socket. So what an accepted connection's socket reads for another tunnel ID, or with tunnel ID
 * 0, comes back here (the connection's `onForeign`) and is handled as above.
 *
 * The per-tunnel socket comes from the injected {@linkcode TunnelSocketFactory} (the daemon's
 * opens a UDP socket bound to the listener's address and port with SO_REUSEADDR and connected to
 * the peer, or an L2TP/IP socket bound to the new control connection ID and connected to the
 * peer's); the listener closes it once the connection is over.
 *
 * The parts, one concern each: control/listener_types.ts (the options and status types, all
 * re-exported here), control/listener_match.ts (which tunnel an SCCRQ is for),
 * control/listener_limits.ts (tunnel and half-open limits), control/listener_cookie.ts (the
 * stateless cookie responder), control/listener_reply.ts (stateless StopCCNs, rate-limited
 * warnings); this module reads the socket, dispatches each datagram and makes the connections.
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
import type { ResultCodeValue } from "./avp.ts";
import { type Clock, systemClock } from "./clock.ts";
import { ControlConnection } from "./connection.ts";
import type {
  ControlConnectionOptions,
  ControlLog,
  ControlSocket,
  SessionParams,
} from "./connection_types.ts";
import { NOOP_LOG } from "./connection_util.ts";
import { formatEndpoint } from "./endpoint.ts";
import { AvpType, ErrorCode, MessageType, StopCcnResult } from "./constants.ts";
import { type ControlPeek, type L2tpVersion, peekHeader } from "./header.ts";
import { IdAllocator } from "./ids.ts";
import { CookieResponder, type PromotedCookie } from "./listener_cookie.ts";
import { AdmissionLimits } from "./listener_limits.ts";
import { matchSccrq } from "./listener_match.ts";
import { StatelessReplies } from "./listener_reply.ts";
import type {
  ListenerOptions,
  ListenerStats,
  ListenerTunnel,
  TunnelSocket,
} from "./listener_types.ts";
import { getAvp } from "./message.ts";
import { seqAdd } from "./sequence.ts";
import type { SourcePriority } from "./source_limits.ts";

export type {
  ListenerOptions,
  ListenerStats,
  ListenerTunnel,
  ResponderOptions,
  TunnelSocket,
  TunnelSocketFactory,
  TunnelSocketRequest,
} from "./listener_types.ts";

interface Accepted<S extends SessionParams> {
  conn: ControlConnection<S>;
  tunnel: ListenerTunnel<S>;
  key: string;
  socket: TunnelSocket;
}

/**
 * Larger SCCRQs are not answered with a cookie (they would be kept until the SCCCN; a real one
 * is 80 to 300 bytes): they get a connection at once, as over L2TP/IP.
 */
const MAX_PENDING_SCCRQ = 1024;

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
 * console.log(listener.connections.length, listener.stats.pending); // 0 0
 * await listener.close();
 * ```
 */
export class Listener<S extends SessionParams = SessionParams> {
  readonly #opts: ListenerOptions<S>;
  readonly #log: ControlLog;
  readonly #clock: Clock;
  readonly #ids: { 2: IdAllocator; 3: IdAllocator };
  readonly #cookies: boolean;
  readonly #replies: StatelessReplies;
  readonly #limits: AdmissionLimits<ControlConnection<S>, ListenerTunnel<S>>;
  readonly #cookie: CookieResponder<S>;
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
   * @throws {RangeError} If a limit is out of range.
   */
  constructor(options: ListenerOptions<S>) {
    for (const t of options.tunnels) {
      if (t.acceptAnyPeer && !t.connection.secret) {
        throw new TypeError(
          `Cannot create listener: tunnel ${t.name} accepts any peer but has no shared secret`,
        );
      }
    }
    const positive = (name: string, v: number | undefined, dflt: number): number => {
      const n = v ?? dflt;
      if (!Number.isInteger(n) || n < 1) {
        throw new RangeError(`Cannot create listener: ${name} ${n} is not an integer ≥ 1`);
      }
      return n;
    };
    this.#opts = options;
    this.#log = options.log ?? NOOP_LOG;
    this.#clock = options.clock ?? systemClock;
    this.#ids = {
      2: options.tunnelIds?.[2] ?? new IdAllocator(16),
      3: options.tunnelIds?.[3] ?? new IdAllocator(32),
    };
    const maxHalfOpen = positive("maxHalfOpen", options.maxHalfOpen, 64);
    const maxPerSource = positive("maxPerSource", options.maxPerSource, 8);
    const halfOpenTimeout = positive("halfOpenTimeout", options.halfOpenTimeout, 10_000);
    const maxPending = positive("maxPending", options.maxPending, 16_384);
    this.#cookies = (options.cookies ?? true) && options.encap === "udp";
    this.#replies = new StatelessReplies({
      socket: options.socket,
      local: options.local,
      wire: this.#wire(),
      clock: this.#clock,
      log: this.#log,
    });
    this.#limits = new AdmissionLimits({
      ...(options.maxTunnels !== undefined ? { maxTunnels: options.maxTunnels } : {}),
      maxHalfOpen,
      maxPerSource,
      halfOpenTimeout,
      clock: this.#clock,
    });
    this.#cookie = new CookieResponder<S>({
      clock: this.#clock,
      ...(options.random ? { random: options.random } : {}),
      halfOpenTimeout,
      maxPending,
      maxPerSource,
      ids: this.#ids,
      limits: this.#limits,
      replies: this.#replies,
      local: options.local,
      log: this.#log,
      connectionOptions: (tunnel, version, from, socket) =>
        this.#connectionOptions(tunnel, version, from, socket),
      serves: (tunnel) => !this.#closing && this.#opts.tunnels.includes(tunnel),
      promote: (reply, cookie) => this.#promote(reply, cookie),
    });
  }

  /** The connections accepted and not yet over. */
  get connections(): ControlConnection<S>[] {
    return [...this.#accepted.keys()];
  }

  /** Sizes of the listener's tables and its counters (expired cookies are forgotten first). */
  get stats(): ListenerStats {
    this.#cookie.prune();
    return {
      connections: this.#accepted.size,
      halfOpen: this.#limits.halfOpen,
      pending: this.#cookie.pending,
      cookieSccrps: this.#cookie.sccrps,
      promoted: this.#cookie.promoted,
      evicted: this.#cookie.evicted,
      dropped: this.#replies.dropped,
    };
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
      this.#replies.warn("listener on {local}: dropped a datagram from {from}: {error}", {
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
    this.#cookie.clear();
    const all = [...this.#accepted.keys()];
    await Promise.all(
      all.map((c) => c.close(result ?? { resultCode: StopCcnResult.ShuttingDown })),
    );
    await Promise.all(all.map((c) => c.done));
  }

  /** Stop accepting and end every connection now (no StopCCN hold). */
  abort(): void {
    this.#closing = true;
    this.#cookie.clear();
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
      if (a === undefined) return this.#echo(d, peek);
      if (a.conn === via) return false;
      a.conn.receive(d);
      return true;
    }
    if (peek.zlb || this.#closing) return false;
    const { msg, tunnel, priority, error } = matchSccrq(
      this.#opts.tunnels,
      version,
      d,
      this.#wire(),
    );
    if (msg === undefined) {
      if (via !== undefined) return false;
      this.#replies.warn("listener on {local}: SCCRQ from {from} refused: {error}", {
        local: formatEndpoint(this.#opts.local),
        from: formatEndpoint(d.from),
        error: `cannot decode or authenticate it (${error}); wrong shared secret?`,
      });
      return true;
    }
    if (msg.type !== MessageType.SCCRQ) return false;
    const assigned = version === 2
      ? getAvp(msg, AvpType.AssignedTunnelId)
      : getAvp(msg, AvpType.AssignedControlConnectionId);
    if (!assigned) {
      if (via !== undefined) return false;
      this.#replies.warn("listener on {local}: SCCRQ from {from} without a tunnel ID: dropped", {
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
      this.#replies.drop("SCCRQ from {from} with Ns {ns}, Nr {nr}: dropped", d.from, {
        ns: peek.ns,
        nr: peek.nr,
      });
      return true;
    }
    if (tunnel === undefined) {
      this.#replies.reject(d, version, assigned, { ns: 0, nr: seqAdd(peek.ns) }, {
        resultCode: StopCcnResult.NotAuthorized,
        errorMessage: "not a configured peer",
      }, "not a configured peer");
      return true;
    }
    // An SCCRQ too large to keep until its SCCCN is accepted with state, as over L2TP/IP.
    const cookie = this.#cookies && d.data.length <= MAX_PENDING_SCCRQ;
    const full = cookie ? undefined : this.#limits.noRoomForHalfOpen(d.from.address, priority);
    if (full !== undefined) {
      this.#replies.drop("SCCRQ from {from} dropped: {n}", d.from, { n: full });
      return true;
    }
    if (this.#limits.overLimit(tunnel)) {
      this.#replies.reject(d, version, assigned, { ns: 0, nr: seqAdd(peek.ns) }, {
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
    if (cookie) this.#cookie.answer(d, version, msg, assigned, tunnel, priority);
    else this.#accept(d, version, assigned, tunnel, key, priority);
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

  /**
   * A control message for a tunnel ID we have no connection for: the reply to a cookie (SCCCN,
   * or StopCCN) makes the connection (control/listener_cookie.ts). Returns whether it was taken.
   */
  #echo(d: Datagram, peek: ControlPeek): boolean {
    if (!this.#cookies) return false;
    return this.#cookie.echo(d, peek);
  }

  /** The options a connection of `tunnel` with the peer `from` is made with. */
  #connectionOptions(
    tunnel: ListenerTunnel<S>,
    version: L2tpVersion,
    from: Endpoint,
    socket: ControlSocket,
  ): ControlConnectionOptions<S> {
    return {
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
      peer: { ...from },
      connected: true,
      ipPrefix: this.#opts.ipPrefix ?? false,
    };
  }

  /** The reply to a cookie: the connection, its socket, the cookie as its tunnel ID. */
  #promote(reply: Datagram, p: PromotedCookie<S>): void {
    const from = { ...reply.from };
    this.#open(from, p.version, p.peerTunnelId, p.cookie, p.tunnel, p.priority, {
      initial: { data: p.sccrq, from },
      sccrpReply: reply,
      random: p.random,
      key: `${p.version}|${formatEndpoint(from)}|${p.peerTunnelId}`,
      ids: this.#ids[p.version],
    });
  }

  // ---- accepting with state -------------------------------------------------------------------

  #accept(
    d: Datagram,
    version: L2tpVersion,
    peerTunnelId: number,
    tunnel: ListenerTunnel<S>,
    key: string,
    priority: SourcePriority,
  ): void {
    const ids = this.#ids[version];
    this.#open(d.from, version, peerTunnelId, ids.allocate(), tunnel, priority, {
      initial: d,
      key,
      ids,
    });
  }

  /**
   * Make an accepted connection with our tunnel ID `localTunnelId` (taken in `extra.ids`; given
   * back if the connection cannot be made): its socket, the connection, the bookkeeping.
   */
  #open(
    from: Endpoint,
    version: L2tpVersion,
    peerTunnelId: number,
    localTunnelId: number,
    tunnel: ListenerTunnel<S>,
    priority: SourcePriority,
    extra: {
      initial: Datagram;
      sccrpReply?: Datagram;
      random?: (n: number) => Uint8Array;
      key: string;
      ids: IdAllocator;
    },
  ): void {
    const { ids, key } = extra;
    let socket: TunnelSocket;
    try {
      socket = this.#opts.openSocket({
        encap: this.#opts.encap,
        version,
        local: { ...this.#opts.local },
        peer: { ...from },
        localTunnelId,
        peerTunnelId,
        tunnel: tunnel.name,
      });
    } catch (e) {
      ids.release(localTunnelId);
      this.#log.error("listener on {local}: cannot open a socket for {from}: {error}", {
        local: formatEndpoint(this.#opts.local),
        from: formatEndpoint(from),
        error: e instanceof Error ? e.message : String(e),
      });
      return;
    }
    const self: { conn?: ControlConnection<S> } = {};
    let conn: ControlConnection<S>;
    try {
      conn = new ControlConnection<S>({
        ...this.#connectionOptions(tunnel, version, from, socket),
        initial: extra.initial,
        ...(extra.sccrpReply ? { sccrpReply: extra.sccrpReply } : {}),
        ...(extra.random ? { random: extra.random } : {}),
        localTunnelId,
        tunnelIds: ids,
        onForeign: (f) => this.#foreign(f, self.conn),
      });
    } catch (e) {
      ids.release(localTunnelId);
      socket.close();
      throw e;
    }
    self.conn = conn;
    const a: Accepted<S> = { conn, tunnel, key, socket };
    this.#accepted.set(conn, a);
    this.#bySccrq.set(key, a);
    const idKey = `${version}|${localTunnelId}`;
    this.#byTunnelId.set(idKey, a);
    this.#limits.opened(tunnel);
    const timeout = this.#limits.halfOpenTimeout;
    this.#limits.halfOpened(conn, from.address, priority, () => {
      this.#replies.warn("listener on {local}: tunnel from {from} not established after {ms} ms", {
        local: formatEndpoint(this.#opts.local),
        from: formatEndpoint(from),
        ms: timeout,
      });
      conn.abort(`not established within ${timeout} ms`);
    });
    this.#log.debug("listener on {local}: accepted {what} from {from} for {tunnel}", {
      local: formatEndpoint(this.#opts.local),
      what: extra.sccrpReply ? "reply to a cookie" : "SCCRQ",
      from: formatEndpoint(from),
      tunnel: tunnel.name,
    });
    void conn.established.then(() => this.#limits.settled(conn));
    void conn.done.then(() => {
      this.#limits.settled(conn);
      this.#accepted.delete(conn);
      if (this.#bySccrq.get(key) === a) this.#bySccrq.delete(key);
      if (this.#byTunnelId.get(idKey) === a) this.#byTunnelId.delete(idKey);
      this.#limits.closed(tunnel);
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
