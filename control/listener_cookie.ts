/**
 * The listener's stateless responder (control/listener.ts, UDP, its `cookies` option): SCCRQs
 * answered with a cookie SCCRP, and the replies to those cookies.
 *
 * A sender's address is not proved by its SCCRQ, and L2TPv2 authenticates only at the SCCCN, so
 * an SCCRQ accepted with state holds a connection, a socket and our SCCRP's retransmissions for
 * many seconds. Instead, like TCP SYN cookies, an SCCRQ is answered with an SCCRP whose Assigned
 * Tunnel (Control Connection) ID is a cookie, a keyed hash of the peer's address, port, Assigned
 * ID, SCCRQ and a time bucket (control/sccrq_cookie.ts), and whose Challenge (L2TPv2, RFC 2661
 * §4.2) or nonce (L2TPv3, RFC 3931 §5.4.3) comes from a stream seeded by the same hash. That
 * SCCRP carries what the connection's own would (Host Name, Framing Capabilities, Receive Window
 * Size, Challenge Response to the peer's Challenge, Message Digest), goes out from the listening
 * socket, and is not retransmitted: a peer that does not get it retransmits its SCCRQ, which is
 * answered the same way again (RFC 2661 §5.8). The SCCRQs answered are kept, their bytes only,
 * in a bounded table (control/source_limits.ts: `maxPending` entries, at most `maxPerSource` per
 * address, a quarter reserved for configured peers, the oldest forgotten to make room), until
 * their cookie's key expires, between `halfOpenTimeout / 2` and `halfOpenTimeout` after the
 * SCCRP.
 *
 * The peer's second message, addressed to the cookie with Ns 1 and Nr 1 (acknowledging the
 * SCCRP), proves the round trip: its SCCCN, or a StopCCN when it refuses our SCCRP. Then the
 * cookie is reserved as the tunnel's ID and the listener makes the connection, which starts as
 * if it had sent that SCCRP itself. One from another address or port, with other sequence
 * numbers, or to a cookie never given to that address and port (forged, or forgotten to make
 * room) is dropped without an answer.
 *
 * An SCCCN to a cookie that was given to that address and port but has expired (the peer's
 * SCCCN was lost, or delayed, until then) is answered: with a stateless StopCCN (RFC 2661
 * §4.4.2, RFC 3931 §5.4.2: result 2 "general error", error 1 "no control connection exists
 * yet", message "cookie expired, redial"), addressed to the peer's tunnel ID from its SCCRQ,
 * numbered as our second message (Ns 1, Nr 2, acknowledging the SCCCN), with the cookie as our
 * Assigned Tunnel ID; so the peer gives up at once and dials again, instead of retransmitting
 * its SCCCN for half a minute (RFC 2661 §5.8). What an expired cookie was given for (the peer's
 * tunnel ID, nothing of its SCCRQ) is kept for {@linkcode EXPIRED_COOKIE_MS}, as long as an
 * L2TPv2 peer retransmits, in a table bounded as the first; it answers one SCCCN and is
 * forgotten, so each SCCRQ answered gets at most one such StopCCN, whatever a peer sends, and
 * the warnings about them are rate-limited (control/listener_reply.ts). A StopCCN to an expired
 * cookie, or an L2TPv3 SCCCN to one signed with a Message Digest (our nonce went with the
 * cookie's key, and the peer would discard an unsigned StopCCN, RFC 3931 §5.4.1), is dropped.
 *
 * @example Usage
 * ```ts
 * import { CookieResponder } from "./listener_cookie.ts";
 * import { AdmissionLimits } from "./listener_limits.ts";
 * import { StatelessReplies } from "./listener_reply.ts";
 * import { buildSccrq } from "./builders.ts";
 * import { FakeClock } from "./clock.ts";
 * import { IdAllocator } from "./ids.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * import { decodeControl, encodeControl } from "./message.ts";
 * const clock = new FakeClock();
 * const net = new MemoryNetwork();
 * const local = { address: "192.0.2.2", port: 1701 };
 * const lac = { address: "192.0.2.1", port: 1701 };
 * const sent: Uint8Array[] = [];
 * net.filter = (d) => (sent.push(d.data), d.data);
 * const cookies = new CookieResponder({
 *   clock, halfOpenTimeout: 10_000, maxPending: 16, maxPerSource: 8, local,
 *   ids: { 2: new IdAllocator(16), 3: new IdAllocator(32) },
 *   limits: new AdmissionLimits({ maxHalfOpen: 64, maxPerSource: 8, halfOpenTimeout: 10_000,
 *     clock }),
 *   replies: new StatelessReplies({ socket: net.socket(local), local, wire: "udp", clock }),
 *   connectionOptions: (t, version, peer, socket) => ({ ...t.connection, name: t.name, version,
 *     encap: "udp", role: "responder", socket, peer }),
 *   serves: () => true,
 *   promote: () => {},
 * });
 * const tunnel = { name: "lns", version: 2 as const, peer: lac, connection: { hostName: "lns" } };
 * const sccrq = buildSccrq({ version: 2, hostName: "lac", receiveWindow: 4 }, 9, {});
 * const data = encodeControl({ version: 2, tunnelId: 0, ns: 0, nr: 0, ...sccrq });
 * cookies.answer({ data, from: lac }, 2, decodeControl(data), 9, tunnel, "configured");
 * const sccrp = decodeControl(sent[0]);
 * console.log(cookies.pending, sccrp.type, sccrp.tunnelId); // 1 2 9
 * ```
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { buildSccrp, readTunnelAvps, type TunnelIdentity } from "./builders.ts";
import type { Clock } from "./clock.ts";
import { createConnectionContext } from "./connection_context.ts";
import type {
  ControlConnectionOptions,
  ControlLog,
  ControlSocket,
  SessionParams,
} from "./connection_types.ts";
import { NOOP_LOG } from "./connection_util.ts";
import { ErrorCode, MessageType, StopCcnResult } from "./constants.ts";
import { formatEndpoint } from "./endpoint.ts";
import { Handshake, type Refusal } from "./handshake.ts";
import type { ControlPeek, L2tpVersion } from "./header.ts";
import { IdAllocator } from "./ids.ts";
import type { AdmissionLimits } from "./listener_limits.ts";
import { decodeFor } from "./listener_match.ts";
import { messageTypeOf, type StatelessReplies } from "./listener_reply.ts";
import type { ListenerTunnel } from "./listener_types.ts";
import { type ControlMessage, encodeControl, type EncodeOptions } from "./message.ts";
import { CookieJar, cookieRandom } from "./sccrq_cookie.ts";
import { SourceLimitedTable, type SourcePriority } from "./source_limits.ts";
import type { Datagram, Endpoint } from "./types.ts";

/**
 * How long after its cookie expired an SCCCN to it is still answered with a StopCCN, in
 * milliseconds: as long as an L2TPv2 peer retransmits its SCCCN (RFC 2661 §5.8: 1 s, doubling
 * to 8 s, 5 retransmissions; 31 s in all). Later ones are dropped without an answer.
 *
 * @example Usage
 * ```ts
 * import { EXPIRED_COOKIE_MS } from "./listener_cookie.ts";
 * console.log(EXPIRED_COOKIE_MS); // 31000
 * ```
 */
export const EXPIRED_COOKIE_MS = 31_000;

/**
 * Options of {@linkcode CookieResponder}.
 *
 * @example Usage
 * ```ts
 * import type { CookieResponderOptions } from "./listener_cookie.ts";
 * type Hooks = Pick<CookieResponderOptions, "serves" | "promote">;
 * const hooks: Hooks = { serves: () => true, promote: (reply, c) => console.log(c.cookie) };
 * console.log(hooks.serves({ name: "lns", version: 2, connection: { hostName: "lns" } })); // true
 * ```
 */
export interface CookieResponderOptions<S extends SessionParams = SessionParams> {
  /** Time of the cookies' buckets. */
  clock: Clock;
  /** Random bytes for the cookie keys (default node:crypto). */
  random?: (n: number) => Uint8Array;
  /** The listener's half-open time-out: a cookie lives between half of it and all of it. */
  halfOpenTimeout: number;
  /** Most SCCRQs answered and waiting for their SCCCN. */
  maxPending: number;
  /** Most of them per address. */
  maxPerSource: number;
  /** The listener's tunnel ID allocators (a cookie is never one in use). */
  ids: { 2: IdAllocator; 3: IdAllocator };
  /** The listener's limits: whether a reply to a cookie may make a connection. */
  limits: Pick<AdmissionLimits<unknown, ListenerTunnel<S>>, "overLimit" | "noRoomForHalfOpen">;
  /** The listener's stateless replies and warnings. */
  replies: StatelessReplies;
  /** The listener's local endpoint (for the log). */
  local: Endpoint;
  /** Log. */
  log?: ControlLog;
  /** The options the connection of `tunnel` with `peer` would be made with. */
  connectionOptions: (
    tunnel: ListenerTunnel<S>,
    version: L2tpVersion,
    peer: Endpoint,
    socket: ControlSocket,
  ) => ControlConnectionOptions<S>;
  /** Whether `tunnel` is still served (the listener is not closing; it is still configured). */
  serves: (tunnel: ListenerTunnel<S>) => boolean;
  /**
   * Make the connection for a reply to a cookie (its tunnel ID already reserved in `ids`;
   * released by the listener if the connection cannot be made).
   */
  promote: (reply: Datagram, cookie: PromotedCookie<S>) => void;
}

/**
 * What the connection made from a reply to a cookie starts from.
 *
 * @example Usage
 * ```ts
 * import type { PromotedCookie } from "./listener_cookie.ts";
 * function describe(c: PromotedCookie): string {
 *   return `${c.tunnel.name}: our ID ${c.cookie}, the peer's ${c.peerTunnelId}`;
 * }
 * console.log(describe({ tunnel: { name: "lns", version: 2, connection: { hostName: "lns" } },
 *   version: 2, priority: "any", sccrq: new Uint8Array(0), peerTunnelId: 9, cookie: 77,
 *   random: (n) => new Uint8Array(n) })); // lns: our ID 77, the peer's 9
 * ```
 */
export interface PromotedCookie<S extends SessionParams = SessionParams> {
  /** The configured tunnel. */
  tunnel: ListenerTunnel<S>;
  /** Protocol version. */
  version: L2tpVersion;
  /** Whose it is (for the half-open limits). */
  priority: SourcePriority;
  /** The peer's SCCRQ, as received. */
  sccrq: Uint8Array;
  /** The peer's Assigned Tunnel (Control Connection) ID. */
  peerTunnelId: number;
  /** The cookie: our tunnel ID. */
  cookie: number;
  /** The connection's random source: the SCCRP's draws again, then fresh bytes. */
  random: (n: number) => Uint8Array;
}

/**
 * An SCCRQ answered with a cookie: what its reply needs to make the connection (kept small:
 * there may be many).
 */
interface Pending<S extends SessionParams> {
  /** Its key in the table (version, peer address and port, cookie). */
  readonly key: string;
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
  /** Whether the SCCRP carried a Message Digest (a StopCCN to the peer would need one). */
  readonly signed: boolean;
}

/** An expired cookie: what a StopCCN answering an SCCCN to it needs. */
interface Expired {
  readonly source: string;
  readonly priority: SourcePriority;
  readonly peerTunnelId: number;
  readonly cookie: number;
  readonly signed: boolean;
  /** Until when (clock time) an SCCCN to it is answered. */
  readonly until: number;
}

/** What an SCCRP from us needs, made the way the connection makes its own. */
interface Answer {
  identity: TunnelIdentity;
  encode: Omit<EncodeOptions, "transport">;
  auth: ReturnType<Handshake["sccrpAuth"]>;
  draws: number;
}

/** Candidate cookies tried per SCCRQ before giving up (each collides with odds ≤ IDs in use). */
const COOKIE_ATTEMPTS = 8;

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

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Answers SCCRQs with cookies and takes the replies to them (see the module documentation).
 *
 * @example Usage
 * ```ts
 * import { CookieResponder } from "./listener_cookie.ts";
 * import { AdmissionLimits } from "./listener_limits.ts";
 * import { StatelessReplies } from "./listener_reply.ts";
 * import { FakeClock } from "./clock.ts";
 * import { IdAllocator } from "./ids.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const clock = new FakeClock();
 * const local = { address: "192.0.2.2", port: 1701 };
 * const cookies = new CookieResponder({
 *   clock, halfOpenTimeout: 10_000, maxPending: 16, maxPerSource: 8, local,
 *   ids: { 2: new IdAllocator(16), 3: new IdAllocator(32) },
 *   limits: new AdmissionLimits({ maxHalfOpen: 64, maxPerSource: 8, halfOpenTimeout: 10_000,
 *     clock }),
 *   replies: new StatelessReplies({ socket: new MemoryNetwork().socket(local), local,
 *     wire: "udp", clock }),
 *   connectionOptions: (t, version, peer, socket) => ({ ...t.connection, name: t.name, version,
 *     encap: "udp", role: "responder", socket, peer }),
 *   serves: () => true,
 *   promote: () => {},
 * });
 * console.log(cookies.pending, cookies.sccrps, cookies.promoted); // 0 0 0
 * ```
 */
export class CookieResponder<S extends SessionParams = SessionParams> {
  readonly #opts: CookieResponderOptions<S>;
  readonly #log: ControlLog;
  readonly #jar: CookieJar;
  readonly #pending: SourceLimitedTable<Pending<S>>;
  /** Cookies expired while their SCCRQ was waiting (see the module documentation). */
  readonly #expired: SourceLimitedTable<Expired>;
  /** Where the cookie SCCRP's context reserves its ID for a moment (never the real ones). */
  readonly #scratchIds = { 2: new IdAllocator(16), 3: new IdAllocator(32) };
  /**
   * `version|cookie` -> the key of the pending entry last answered with that cookie (entries may
   * be stale: the pending table is the truth). Two peers answered with the same cookie would
   * both address us with it, and only the first SCCCN could have it as its tunnel's ID.
   */
  readonly #cookieOwners = new Map<string, string>();
  #sccrps = 0;
  #promoted = 0;

  /**
   * A responder with no cookie given yet.
   *
   * @param options Clock, limits, and what it needs of the listener.
   */
  constructor(options: CookieResponderOptions<S>) {
    this.#opts = options;
    this.#log = options.log ?? NOOP_LOG;
    this.#jar = new CookieJar({
      clock: options.clock,
      bucketMs: options.halfOpenTimeout / 2,
      ...(options.random ? { random: options.random } : {}),
    });
    const limits = {
      capacity: options.maxPending,
      reserved: Math.floor(options.maxPending / 4),
      perSource: options.maxPerSource,
    };
    this.#pending = new SourceLimitedTable(limits);
    this.#expired = new SourceLimitedTable(limits);
  }

  /** SCCRQs answered with a cookie, waiting for their SCCCN (call `prune` first). */
  get pending(): number {
    return this.#pending.size;
  }

  /** Answered SCCRQs forgotten to make room for newer ones. */
  get evicted(): number {
    return this.#pending.evicted;
  }

  /** Cookie SCCRPs sent (a retransmitted SCCRQ gets one again). */
  get sccrps(): number {
    return this.#sccrps;
  }

  /** Connections made from a reply to a cookie. */
  get promoted(): number {
    return this.#promoted;
  }

  /**
   * Forget answered SCCRQs whose cookie has expired (keeping what an SCCCN to it is answered
   * with, for {@linkcode EXPIRED_COOKIE_MS}), and expired cookies older than that.
   */
  prune(): void {
    const now = this.#opts.clock.now();
    this.#expired.prune((e) => now >= e.until);
    this.#pending.prune((p) => {
      if (this.#jar.valid(p.bucket)) return false;
      const e = this.#retired(p);
      if (now < e.until) this.#expired.set(p.key, e);
      return true;
    });
  }

  /** Forget every cookie (the listener is closing). */
  clear(): void {
    this.#pending.clear();
    this.#expired.clear();
    this.#cookieOwners.clear();
  }

  /**
   * Answer a new SCCRQ with a cookie SCCRP, keeping only its bytes (see the module
   * documentation); or refuse it with a stateless StopCCN, as its connection would.
   *
   * @param d The SCCRQ as received.
   * @param version Its protocol version.
   * @param msg It, decoded.
   * @param peerTunnelId Its Assigned Tunnel (Control Connection) ID.
   * @param tunnel The configured tunnel it is for.
   * @param priority Whose it is.
   */
  answer(
    d: Datagram,
    version: L2tpVersion,
    msg: ControlMessage,
    peerTunnelId: number,
    tunnel: ListenerTunnel<S>,
    priority: SourcePriority,
  ): void {
    this.prune();
    const bucket = this.#jar.bucket();
    const ids = this.#opts.ids[version];
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
      this.#opts.replies.drop("SCCRQ from {from} dropped: no free tunnel ID for a cookie", from);
      return;
    }
    const answer = this.#prepare(tunnel, version, msg, from, chosen.cookie, chosen.tag);
    if (!("identity" in answer)) {
      this.#opts.replies.reject(
        d,
        version,
        peerTunnelId,
        { ns: 0, nr: 1 },
        answer.result,
        answer.reason,
      );
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
    this.#expired.delete(chosen.key);
    const evicted = this.#pending.set(chosen.key, {
      key: chosen.key,
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
      signed: answer.encode.digest !== undefined,
    });
    if (evicted.length > 0) {
      this.#opts.replies.warn(
        "listener on {local}: {n} SCCRQs answered and waiting for an SCCCN: forgetting the " +
          "oldest (a flood of SCCRQs?)",
        { local: formatEndpoint(this.#opts.local), n: this.#pending.size },
      );
    }
    this.#sccrps++;
    this.#log.debug("listener on {local}: SCCRQ from {from} for {tunnel} answered, cookie {id}", {
      local: formatEndpoint(this.#opts.local),
      from: formatEndpoint(from),
      tunnel: tunnel.name,
      id: chosen.cookie,
    });
    this.#opts.replies.send(bytes, from);
  }

  /**
   * A control message for a tunnel ID the listener has no connection for: the reply to a
   * cookie (SCCCN, or StopCCN) makes the connection; an SCCCN to an expired cookie gets a
   * StopCCN.
   *
   * @param d The datagram.
   * @param peek Its header.
   * @returns Whether it was taken (promoted, answered or dropped here); false when it is not
   *   for a cookie given to its sender.
   */
  echo(d: Datagram, peek: ControlPeek): boolean {
    if (peek.zlb) return false;
    const version = peek.version;
    const key = `${version}|${formatEndpoint(d.from)}|${peek.tunnelId}`;
    const p = this.#pending.get(key);
    if (p === undefined) {
      const e = this.#expired.delete(key);
      return e !== undefined && this.#expiredReply(d, peek, e);
    }
    if (!this.#jar.valid(p.bucket)) {
      this.#pending.delete(key);
      return this.#expiredReply(d, peek, this.#retired(p));
    }
    const type = messageTypeOf(d.data, peek);
    const stop = type === MessageType.StopCCN;
    const { replies, limits } = this.#opts;
    // The peer's second message, acknowledging our SCCRP (RFC 2661 §5.8): its SCCCN, or a
    // StopCCN when it refuses our SCCRP (our Challenge Response, say).
    if ((type !== MessageType.SCCCN && !stop) || peek.ns !== 1 || peek.nr !== 1) {
      replies.drop("{type} from {from} to a cookie with Ns {ns}, Nr {nr}: dropped", d.from, {
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
    if (!this.#opts.serves(p.tunnel) || tag === undefined) {
      this.#pending.delete(key);
      return true;
    }
    if (
      stop && (limits.overLimit(p.tunnel) || limits.noRoomForHalfOpen(d.from.address, p.priority))
    ) {
      this.#pending.delete(key);
      replies.drop("StopCCN from {from} to a cookie dropped: no room to acknowledge it", d.from);
      return true;
    }
    if (limits.overLimit(p.tunnel)) {
      this.#pending.delete(key);
      // Cookies are UDP only.
      const msg = decodeFor(p.sccrq, "udp", version, p.tunnel);
      const answer = this.#prepare(p.tunnel, version, msg, d.from, p.cookie, tag);
      replies.reject(d, version, p.peerTunnelId, {
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
    const full = limits.noRoomForHalfOpen(d.from.address, p.priority);
    if (full !== undefined) {
      // Kept: the peer retransmits its SCCCN, which may find room.
      replies.drop("SCCCN from {from} dropped: {n}", d.from, { n: full });
      return true;
    }
    this.#pending.delete(key);
    const ids = this.#opts.ids[version];
    if (!ids.reserve(p.cookie)) {
      replies.drop(
        "SCCCN from {from} dropped: its cookie {id} is now another tunnel's ID",
        d.from,
        {
          id: p.cookie,
        },
      );
      return true;
    }
    this.#promote(d, p, tag);
    return true;
  }

  /** What is kept of an answered SCCRQ once its cookie has expired. */
  #retired(p: Pending<S>): Expired {
    // Its key went at the start of the second bucket after its own (control/sccrq_cookie.ts).
    const expiredAt = (p.bucket + 2) * this.#jar.bucketMs;
    return {
      source: p.source,
      priority: p.priority,
      peerTunnelId: p.peerTunnelId,
      cookie: p.cookie,
      signed: p.signed,
      until: expiredAt + EXPIRED_COOKIE_MS,
    };
  }

  /**
   * A message from the address and port an expired cookie was given to, addressed to it: an
   * SCCCN gets a stateless StopCCN (see the module documentation); anything else, or what comes
   * too late, is dropped.
   */
  #expiredReply(d: Datagram, peek: ControlPeek, e: Expired): true {
    const { replies } = this.#opts;
    const type = messageTypeOf(d.data, peek);
    if (
      type !== MessageType.SCCCN || peek.ns !== 1 || peek.nr !== 1 || e.signed ||
      this.#opts.clock.now() >= e.until
    ) {
      replies.drop("reply from {from} to an expired cookie: dropped", d.from);
      return true;
    }
    replies.reject(d, peek.version, e.peerTunnelId, {
      what: "SCCCN",
      ns: 1,
      nr: 2,
      localTunnelId: e.cookie,
    }, {
      resultCode: StopCcnResult.GeneralError,
      errorCode: ErrorCode.NoControlConnection,
      errorMessage: "cookie expired, redial",
    }, "its cookie has expired");
    return true;
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
          ...this.#opts.connectionOptions(tunnel, version, from, NO_SOCKET),
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

  /** The reply to a cookie: the connection, its socket, the cookie as its tunnel ID. */
  #promote(reply: Datagram, p: Pending<S>, tag: Uint8Array): void {
    const stream = cookieRandom(tag);
    const fallback = p.tunnel.connection.random ?? defaultRandom;
    let calls = 0;
    // The same draws as the SCCRP's (Router ID, Challenge or nonce), then fresh ones.
    const random = (n: number): Uint8Array => calls++ < p.draws ? stream(n) : fallback(n);
    this.#promoted++;
    this.#opts.promote(reply, {
      tunnel: p.tunnel,
      version: p.tunnel.version,
      priority: p.priority,
      sccrq: p.sccrq,
      peerTunnelId: p.peerTunnelId,
      cookie: p.cookie,
      random,
    });
  }
}
