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
 * (default 10 s) after the SCCRP; an SCCCN for an unknown or expired cookie, from another
 * address or port, or with other sequence numbers is dropped.
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
import { randomBytes } from "node:crypto";
import { digestKey } from "./auth.ts";
import { buildSccrp, buildStopccn, readTunnelAvps, type TunnelIdentity } from "./builders.ts";
import { type Clock, systemClock, type Timer } from "./clock.ts";
import { ControlConnection } from "./connection.ts";
import { createConnectionContext } from "./connection_context.ts";
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
import { Handshake, type Refusal } from "./handshake.ts";
import { type ControlPeek, type L2tpVersion, peekHeader } from "./header.ts";
import { IdAllocator } from "./ids.ts";
import {
  type ControlMessage,
  decodeControl,
  encodeControl,
  type EncodeOptions,
  getAvp,
} from "./message.ts";
import { CookieJar, cookieRandom } from "./sccrq_cookie.ts";
import { seqAdd } from "./sequence.ts";
import { SourceCounter, SourceLimitedTable, type SourcePriority } from "./source_limits.ts";

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
  | "sccrpReply"
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
   * Most tunnels accepted and not yet established at once (default 64; a quarter of them only
   * for configured peers). SCCRQs (over L2TP/IP) or SCCCNs beyond it are dropped without an
   * answer; the peer retransmits.
   */
  maxHalfOpen?: number;
  /**
   * Answer SCCRQs with stateless cookie SCCRPs, keeping no connection until the SCCCN (default
   * true; UDP only: over L2TP/IP every accepted SCCRQ gets its connection at once).
   */
  cookies?: boolean;
  /**
   * Most SCCRQs answered with a cookie and waiting for their SCCCN (default 16384, about half a
   * kilobyte each; a quarter of them only for configured peers). The oldest are forgotten to
   * make room.
   */
  maxPending?: number;
  /** Most half-open tunnels, and most SCCRQs waiting for their SCCCN, per address (default 8). */
  maxPerSource?: number;
  /**
   * How long a tunnel may stay half-open, in milliseconds (default 10000): a connection not
   * established by then is given up; a cookie is accepted for between half of it and all of it.
   */
  halfOpenTimeout?: number;
  /** Random bytes for the cookie keys (default node:crypto). */
  random?: (n: number) => Uint8Array;
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

/**
 * What a listener holds and has done, for status and tests: the sizes of its tables and
 * counters since it was made.
 *
 * @example Usage
 * ```ts
 * import type { ListenerStats } from "./listener.ts";
 * function line(s: ListenerStats): string {
 *   return `${s.connections} tunnels (${s.halfOpen} half-open), ${s.pending} cookies out`;
 * }
 * console.log(line({ connections: 1, halfOpen: 0, pending: 3, cookieSccrps: 9, promoted: 1,
 *   evicted: 0, dropped: 2 })); // 1 tunnels (0 half-open), 3 cookies out
 * ```
 */
export interface ListenerStats {
  /** Connections accepted and not yet over. */
  connections: number;
  /** Of them, those not yet established. */
  halfOpen: number;
  /** SCCRQs answered with a cookie, waiting for their SCCCN (no connection, no socket). */
  pending: number;
  /** Cookie SCCRPs sent (a retransmitted SCCRQ gets one again). */
  cookieSccrps: number;
  /** Connections made from an SCCCN that echoed a cookie. */
  promoted: number;
  /** Answered SCCRQs forgotten to make room for newer ones. */
  evicted: number;
  /** SCCRQs and SCCCNs dropped without an answer (over a limit, expired, out of sequence). */
  dropped: number;
}

interface Accepted<S extends SessionParams> {
  conn: ControlConnection<S>;
  tunnel: ListenerTunnel<S>;
  key: string;
  socket: TunnelSocket;
}

/** A connection accepted and not yet established. */
interface HalfOpen {
  source: string;
  priority: SourcePriority;
  timer: Timer;
}

/**
 * An SCCRQ answered with a cookie: what its reply needs to make the connection (kept small:
 * there may be many).
 */
interface Pending<S extends SessionParams> {
  /** The peer's address (the source of the per-source limit; its port is in the key). */
  readonly source: string;
  readonly priority: SourcePriority;
  readonly tunnel: ListenerTunnel<S>;
  /** The SCCRQ, as received (a copy). */
  readonly sccrq: Uint8Array;
  readonly peerTunnelId: number;
  readonly cookie: number;
  readonly bucket: number;
  readonly attempt: number;
  /** How many `random` calls the SCCRP took (the connection takes the same ones). */
  readonly draws: number;
}

/** What an SCCRP from us needs, made the way the connection makes its own. */
interface Answer {
  identity: TunnelIdentity;
  encode: Omit<EncodeOptions, "transport">;
  auth: ReturnType<Handshake["sccrpAuth"]>;
  draws: number;
}

/** How a stateless reply is numbered and signed, and what it answers (for the log). */
interface Reply {
  ns: number;
  nr: number;
  /** Our tunnel ID in it (default 0: none assigned). */
  localTunnelId?: number;
  /** Codec options (L2TPv3 Message Digest with the nonces of the exchange). */
  encode?: Omit<EncodeOptions, "transport">;
  /** The message answered (default "SCCRQ"). */
  what?: string;
}

/** Candidate cookies tried per SCCRQ before giving up (each collides with odds ≤ IDs in use). */
const COOKIE_ATTEMPTS = 8;
/**
 * Larger SCCRQs are not answered with a cookie (they would be kept until the SCCCN; a real one
 * is 80 to 300 bytes): they get a connection at once, as over L2TP/IP.
 */
const MAX_PENDING_SCCRQ = 1024;

/** A socket that is never used: the cookie SCCRP's context is made without one. */
const NO_SOCKET: ControlSocket = {
  send: (): void => {},
  connect: (): void => {},
  [Symbol.asyncIterator]: (): AsyncIterator<Datagram> => ({
    next: (): Promise<IteratorResult<Datagram>> =>
      Promise.resolve({ done: true, value: undefined }),
  }),
};

function defaultRandom(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

/** The Message Type of a control message (its first AVP, RFC 2661 §3.2), without decoding. */
function messageTypeOf(data: Uint8Array, peek: ControlPeek): number | undefined {
  const o = peek.offset + 12;
  if (data.length < o + 8) return undefined;
  const hidden = (data[o] & 0x40) !== 0;
  const length = ((data[o] & 0x03) << 8) | data[o + 1];
  const vendor = (data[o + 2] << 8) | data[o + 3];
  const type = (data[o + 4] << 8) | data[o + 5];
  if (hidden || length !== 8 || vendor !== 0 || type !== AvpType.MessageType) return undefined;
  return (data[o + 6] << 8) | data[o + 7];
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

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
  #warnWindow = -Infinity;
  #warnCount = 0;
  #warnSuppressed = 0;
  readonly #log: ControlLog;
  readonly #clock: Clock;
  readonly #ids: { 2: IdAllocator; 3: IdAllocator };
  /** Where the cookie SCCRP's context reserves its ID for a moment (never the real ones). */
  readonly #scratchIds = { 2: new IdAllocator(16), 3: new IdAllocator(32) };
  readonly #cookies: boolean;
  readonly #jar: CookieJar;
  readonly #pending: SourceLimitedTable<Pending<S>>;
  readonly #maxHalfOpen: number;
  readonly #maxPerSource: number;
  readonly #halfOpenTimeout: number;
  readonly #accepted = new Map<ControlConnection<S>, Accepted<S>>();
  readonly #bySccrq = new Map<string, Accepted<S>>();
  readonly #byTunnelId = new Map<string, Accepted<S>>();
  readonly #perTunnel = new Map<ListenerTunnel<S>, number>();
  readonly #halfOpen = new Map<ControlConnection<S>, HalfOpen>();
  readonly #halfOpenFrom = new SourceCounter();
  /**
   * `version|cookie` -> the key of the pending entry last answered with that cookie (entries may
   * be stale: the pending table is the truth). Two peers answered with the same cookie would
   * both address us with it, and only the first SCCCN could have it as its tunnel's ID.
   */
  readonly #cookieOwners = new Map<string, string>();
  #halfOpenAny = 0;
  #cookieSccrps = 0;
  #promoted = 0;
  #dropped = 0;
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
    this.#maxHalfOpen = positive("maxHalfOpen", options.maxHalfOpen, 64);
    this.#maxPerSource = positive("maxPerSource", options.maxPerSource, 8);
    this.#halfOpenTimeout = positive("halfOpenTimeout", options.halfOpenTimeout, 10_000);
    const maxPending = positive("maxPending", options.maxPending, 16_384);
    this.#cookies = (options.cookies ?? true) && options.encap === "udp";
    this.#jar = new CookieJar({
      clock: this.#clock,
      bucketMs: this.#halfOpenTimeout / 2,
      ...(options.random ? { random: options.random } : {}),
    });
    this.#pending = new SourceLimitedTable({
      capacity: maxPending,
      reserved: Math.floor(maxPending / 4),
      perSource: this.#maxPerSource,
    });
  }

  /** The connections accepted and not yet over. */
  get connections(): ControlConnection<S>[] {
    return [...this.#accepted.keys()];
  }

  /** Sizes of the listener's tables and its counters (expired cookies are forgotten first). */
  get stats(): ListenerStats {
    this.#prune();
    return {
      connections: this.#accepted.size,
      halfOpen: this.#halfOpen.size,
      pending: this.#pending.size,
      cookieSccrps: this.#cookieSccrps,
      promoted: this.#promoted,
      evicted: this.#pending.evicted,
      dropped: this.#dropped,
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
    this.#pending.clear();
    this.#cookieOwners.clear();
    const all = [...this.#accepted.keys()];
    await Promise.all(
      all.map((c) => c.close(result ?? { resultCode: StopCcnResult.ShuttingDown })),
    );
    await Promise.all(all.map((c) => c.done));
  }

  /** Stop accepting and end every connection now (no StopCCN hold). */
  abort(): void {
    this.#closing = true;
    this.#pending.clear();
    this.#cookieOwners.clear();
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
      this.#drop("SCCRQ from {from} with Ns {ns}, Nr {nr}: dropped", d.from, {
        ns: peek.ns,
        nr: peek.nr,
      });
      return true;
    }
    if (tunnel === undefined) {
      this.#reject(d, version, assigned, { ns: 0, nr: seqAdd(peek.ns) }, {
        resultCode: StopCcnResult.NotAuthorized,
        errorMessage: "not a configured peer",
      }, "not a configured peer");
      return true;
    }
    const priority: SourcePriority = byAddress.includes(tunnel) ? "configured" : "any";
    // An SCCRQ too large to keep until its SCCCN is accepted with state, as over L2TP/IP.
    const cookie = this.#cookies && d.data.length <= MAX_PENDING_SCCRQ;
    const full = cookie ? undefined : this.#noRoomForHalfOpen(d.from.address, priority);
    if (full !== undefined) {
      this.#drop("SCCRQ from {from} dropped: {n}", d.from, { n: full });
      return true;
    }
    if (this.#overLimit(tunnel)) {
      this.#reject(d, version, assigned, { ns: 0, nr: seqAdd(peek.ns) }, {
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
    if (cookie) this.#answer(d, version, msg, assigned, tunnel, priority);
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
    const now = this.#clock.now();
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

  /** A datagram dropped without an answer: counted, and a rate-limited warning. */
  #drop(what: string, from: Endpoint, properties: Record<string, unknown> = {}): void {
    this.#dropped++;
    this.#warn(`listener on {local}: ${what}`, {
      local: formatEndpoint(this.#opts.local),
      from: formatEndpoint(from),
      ...properties,
    });
  }

  /** A stateless StopCCN: one per message refused, acknowledging it, never retransmitted. */
  #reject(
    d: Datagram,
    version: L2tpVersion,
    peerTunnelId: number,
    seq: Reply,
    result: ResultCodeValue,
    why: string,
  ): void {
    this.#warn("listener on {local}: {what} from {from} refused: {why}", {
      local: formatEndpoint(this.#opts.local),
      what: seq.what ?? "SCCRQ",
      from: formatEndpoint(d.from),
      why,
    });
    const stop = buildStopccn(version, seq.localTunnelId ?? 0, result);
    const bytes = encodeControl({
      version,
      tunnelId: peerTunnelId,
      ns: seq.ns,
      nr: seq.nr,
      type: stop.type,
      avps: stop.avps,
    }, { ...seq.encode, transport: this.#wire() });
    this.#send(bytes, d.from);
  }

  #send(bytes: Uint8Array, to: Endpoint): void {
    try {
      this.#opts.socket.send(bytes, to);
    } catch {
      // A lost answer is like one lost on the way: the peer retransmits, or gives up.
    }
  }

  /** Whether a tunnel entry, or the listener, has as many tunnels as it may. */
  #overLimit(tunnel: ListenerTunnel<S>): boolean {
    const max = this.#opts.maxTunnels;
    return (max !== undefined && this.#accepted.size >= max) ||
      (tunnel.maxTunnels !== undefined && (this.#perTunnel.get(tunnel) ?? 0) >= tunnel.maxTunnels);
  }

  /** Why another half-open connection from `source` is not allowed, or undefined. */
  #noRoomForHalfOpen(source: string, priority: SourcePriority): string | undefined {
    const max = this.#maxHalfOpen;
    const n = this.#halfOpen.size;
    if (n >= max) return `${n} tunnels already setting up`;
    const any = max - Math.floor(max / 4);
    if (priority === "any" && this.#halfOpenAny >= any) {
      return `${this.#halfOpenAny} tunnels already setting up for peers not configured`;
    }
    // Configured peers are not held to the per-source limit: a herd of LACs behind one address
    // (or one host dialling many tunnels) is legitimate; the totals above still bound them.
    const mine = this.#halfOpenFrom.get(source);
    if (priority === "any" && mine >= this.#maxPerSource) {
      return `${mine} tunnels already setting up from ${source}`;
    }
    return undefined;
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

  // ---- answering with a cookie ----------------------------------------------------------------

  /** Forget answered SCCRQs whose cookie has expired. */
  #prune(): void {
    this.#pending.prune((p) => !this.#jar.valid(p.bucket));
  }

  /** Note the pending entry a cookie was given to; forget stale notes when they pile up. */
  #ownCookie(cookie: string, key: string): void {
    const owners = this.#cookieOwners;
    owners.delete(cookie);
    owners.set(cookie, key);
    if (owners.size <= 2 * this.#pending.size + 1024) return;
    for (const [c, k] of owners) if (this.#pending.get(k) === undefined) owners.delete(c);
  }

  /**
   * What the connection made from an SCCRQ with our tunnel ID `cookie` would answer it with,
   * its random values drawn from the cookie's stream: the SCCRP's parts, or the refusal the
   * connection would answer with instead (RFC 2661 §5.1.1: the checks of control/handshake.ts).
   */
  #prepare(
    tunnel: ListenerTunnel<S>,
    version: L2tpVersion,
    msg: ControlMessage,
    from: Endpoint,
    cookie: number,
    tag: Uint8Array,
  ): Answer | Refusal {
    const stream = cookieRandom(tag);
    let draws = 0;
    const random = (n: number): Uint8Array => {
      draws++;
      return stream(n);
    };
    const scratch = this.#scratchIds[version];
    const ctx = ((): ReturnType<typeof createConnectionContext<S>> => {
      try {
        return createConnectionContext<S>({
          ...this.#connectionOptions(tunnel, version, from, NO_SOCKET),
          localTunnelId: cookie,
          tunnelIds: scratch,
          random,
        });
      } finally {
        scratch.release(cookie);
      }
    })();
    const handshake = new Handshake({
      version,
      secret: ctx.secret,
      digest: ctx.digest,
      tieBreaker: ctx.options.tieBreaker,
      random: ctx.random,
    });
    const bad = handshake.checkSccrq(readTunnelAvps(msg, version));
    if (bad !== undefined) return bad;
    const auth = handshake.sccrpAuth();
    return { identity: ctx.identity, encode: handshake.codecOptions().encode, auth, draws };
  }

  /** Answer a new SCCRQ with a cookie SCCRP, keeping only its bytes (see the module doc). */
  #answer(
    d: Datagram,
    version: L2tpVersion,
    msg: ControlMessage,
    peerTunnelId: number,
    tunnel: ListenerTunnel<S>,
    priority: SourcePriority,
  ): void {
    this.#prune();
    const bucket = this.#jar.bucket();
    const ids = this.#ids[version];
    const sccrq = d.data.slice();
    const from = { ...d.from };
    let chosen: { cookie: number; tag: Uint8Array; key: string; attempt: number } | undefined;
    for (let attempt = 0; attempt < COOKIE_ATTEMPTS && chosen === undefined; attempt++) {
      const tag = this.#jar.tag({ version, from, peerTunnelId, sccrq, attempt }, bucket);
      if (tag === undefined) break;
      const cookie = this.#jar.idOf(tag, version);
      if (cookie === 0 || ids.has(cookie)) continue;
      const key = `${version}|${formatEndpoint(from)}|${cookie}`;
      const other = this.#pending.get(key);
      // The same key is this SCCRQ again (a retransmission) or, rarely, another one: skip it.
      if (other !== undefined && (other.bucket !== bucket || !sameBytes(other.sccrq, sccrq))) {
        continue;
      }
      // The cookie another peer's SCCRQ is waiting with (a herd makes that likely): skip it.
      const owner = this.#cookieOwners.get(`${version}|${cookie}`);
      if (owner !== undefined && owner !== key && this.#pending.get(owner) !== undefined) continue;
      chosen = { cookie, tag, key, attempt };
    }
    if (chosen === undefined) {
      this.#drop("SCCRQ from {from} dropped: no free tunnel ID for a cookie", from);
      return;
    }
    const answer = this.#prepare(tunnel, version, msg, from, chosen.cookie, chosen.tag);
    if (!("identity" in answer)) {
      this.#reject(d, version, peerTunnelId, { ns: 0, nr: 1 }, answer.result, answer.reason);
      return;
    }
    const sccrp = buildSccrp(answer.identity, chosen.cookie, answer.auth);
    const bytes = encodeControl({
      version,
      tunnelId: peerTunnelId,
      ns: 0,
      nr: 1,
      type: sccrp.type,
      avps: sccrp.avps,
    }, { ...answer.encode, transport: "udp" });
    this.#ownCookie(`${version}|${chosen.cookie}`, chosen.key);
    const evicted = this.#pending.set(chosen.key, {
      // Configured peers: each SCCRQ is its own source (no per-address limit, see above).
      source: priority === "configured" ? chosen.key : from.address,
      priority,
      tunnel,
      sccrq,
      peerTunnelId,
      cookie: chosen.cookie,
      bucket,
      attempt: chosen.attempt,
      draws: answer.draws,
    });
    if (evicted.length > 0) {
      this.#warn(
        "listener on {local}: {n} SCCRQs answered and waiting for an SCCCN: forgetting the " +
          "oldest (a flood of SCCRQs?)",
        { local: formatEndpoint(this.#opts.local), n: this.#pending.size },
      );
    }
    this.#cookieSccrps++;
    this.#log.debug("listener on {local}: SCCRQ from {from} for {tunnel} answered, cookie {id}", {
      local: formatEndpoint(this.#opts.local),
      from: formatEndpoint(from),
      tunnel: tunnel.name,
      id: chosen.cookie,
    });
    this.#send(bytes, from);
  }

  /**
   * A control message for a tunnel ID we have no connection for: the reply to a cookie (SCCCN,
   * or StopCCN) makes the connection. Returns whether it was taken.
   */
  #echo(d: Datagram, peek: ControlPeek): boolean {
    if (!this.#cookies || peek.zlb) return false;
    const version = peek.version;
    const key = `${version}|${formatEndpoint(d.from)}|${peek.tunnelId}`;
    const p = this.#pending.get(key);
    if (p === undefined) return false;
    if (!this.#jar.valid(p.bucket)) {
      this.#pending.delete(key);
      this.#drop("reply from {from} to an expired cookie: dropped", d.from);
      return true;
    }
    const type = messageTypeOf(d.data, peek);
    const stop = type === MessageType.StopCCN;
    // The peer's second message, acknowledging our SCCRP (RFC 2661 §5.8): its SCCCN, or a
    // StopCCN when it refuses our SCCRP (our Challenge Response, say).
    if ((type !== MessageType.SCCCN && !stop) || peek.ns !== 1 || peek.nr !== 1) {
      this.#drop("{type} from {from} to a cookie with Ns {ns}, Nr {nr}: dropped", d.from, {
        type: type === MessageType.SCCCN ? "SCCCN" : stop ? "StopCCN" : `message type ${type}`,
        ns: peek.ns,
        nr: peek.nr,
      });
      return true;
    }
    const tag = this.#jar.tag({
      version,
      from: d.from,
      peerTunnelId: p.peerTunnelId,
      sccrq: p.sccrq,
      attempt: p.attempt,
    }, p.bucket);
    if (this.#closing || !this.#opts.tunnels.includes(p.tunnel) || tag === undefined) {
      this.#pending.delete(key);
      return true;
    }
    if (
      stop && (this.#overLimit(p.tunnel) || this.#noRoomForHalfOpen(d.from.address, p.priority))
    ) {
      this.#pending.delete(key);
      this.#drop("StopCCN from {from} to a cookie dropped: no room to acknowledge it", d.from);
      return true;
    }
    if (this.#overLimit(p.tunnel)) {
      this.#pending.delete(key);
      const msg = this.#decode({ data: p.sccrq, from: d.from }, version, p.tunnel);
      const answer = this.#prepare(p.tunnel, version, msg, d.from, p.cookie, tag);
      this.#reject(d, version, p.peerTunnelId, {
        what: "SCCCN",
        ns: 1,
        nr: 2,
        localTunnelId: p.cookie,
        ...("encode" in answer ? { encode: answer.encode } : {}),
      }, {
        resultCode: StopCcnResult.GeneralError,
        errorCode: ErrorCode.NoResources,
        errorMessage: "tunnel limit reached",
      }, "tunnel limit reached");
      return true;
    }
    const full = this.#noRoomForHalfOpen(d.from.address, p.priority);
    if (full !== undefined) {
      // Kept: the peer retransmits its SCCCN, which may find room.
      this.#drop("SCCCN from {from} dropped: {n}", d.from, { n: full });
      return true;
    }
    this.#pending.delete(key);
    const ids = this.#ids[version];
    if (!ids.reserve(p.cookie)) {
      this.#drop("SCCCN from {from} dropped: its cookie {id} is now another tunnel's ID", d.from, {
        id: p.cookie,
      });
      return true;
    }
    this.#promote(d, p, tag);
    return true;
  }

  /** The reply to a cookie: the connection, its socket, the cookie as its tunnel ID. */
  #promote(reply: Datagram, p: Pending<S>, tag: Uint8Array): void {
    const version = p.tunnel.version;
    const ids = this.#ids[version];
    const from = { ...reply.from };
    const stream = cookieRandom(tag);
    const fallback = p.tunnel.connection.random ?? defaultRandom;
    let calls = 0;
    // The same draws as the SCCRP's (Router ID, Challenge or nonce), then fresh ones.
    const random = (n: number): Uint8Array => calls++ < p.draws ? stream(n) : fallback(n);
    this.#promoted++;
    this.#open(from, version, p.peerTunnelId, p.cookie, p.tunnel, p.priority, {
      initial: { data: p.sccrq, from },
      sccrpReply: reply,
      random,
      key: `${version}|${formatEndpoint(from)}|${p.peerTunnelId}`,
      ids,
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
    this.#perTunnel.set(tunnel, (this.#perTunnel.get(tunnel) ?? 0) + 1);
    const source = from.address;
    this.#halfOpen.set(conn, {
      source,
      priority,
      timer: this.#clock.setTimer(this.#halfOpenTimeout, () => {
        if (!this.#halfOpen.has(conn)) return;
        this.#warn("listener on {local}: tunnel from {from} not established after {ms} ms", {
          local: formatEndpoint(this.#opts.local),
          from: formatEndpoint(from),
          ms: this.#halfOpenTimeout,
        });
        conn.abort(`not established within ${this.#halfOpenTimeout} ms`);
      }),
    });
    this.#halfOpenFrom.add(source);
    if (priority === "any") this.#halfOpenAny++;
    this.#log.debug("listener on {local}: accepted {what} from {from} for {tunnel}", {
      local: formatEndpoint(this.#opts.local),
      what: extra.sccrpReply ? "reply to a cookie" : "SCCRQ",
      from: formatEndpoint(from),
      tunnel: tunnel.name,
    });
    void conn.established.then(() => this.#settled(conn));
    void conn.done.then(() => {
      this.#settled(conn);
      this.#accepted.delete(conn);
      if (this.#bySccrq.get(key) === a) this.#bySccrq.delete(key);
      if (this.#byTunnelId.get(idKey) === a) this.#byTunnelId.delete(idKey);
      const n = (this.#perTunnel.get(tunnel) ?? 1) - 1;
      if (n > 0) this.#perTunnel.set(tunnel, n);
      else this.#perTunnel.delete(tunnel);
      try {
        socket.close();
      } catch {
        // already closed
      }
    });
    this.#opts.onConnection?.(conn, tunnel);
    conn.start();
  }

  /** A connection is established, or over: it no longer counts as half-open. */
  #settled(conn: ControlConnection<S>): void {
    const h = this.#halfOpen.get(conn);
    if (h === undefined) return;
    this.#halfOpen.delete(conn);
    h.timer.cancel();
    this.#halfOpenFrom.remove(h.source);
    if (h.priority === "any") this.#halfOpenAny--;
  }
}
