/**
 * The access concentrator's side of PPPoE Discovery (RFC 2516 §5), sans-IO: it is given each
 * received discovery frame (source and destination MAC, Ethernet payload) and returns the frames
 * to send and the events for its caller, which carries the sessions it opens elsewhere (for
 * kpppoed, into L2TPv2 sessions towards an LNS).
 *
 * - PADI (§5.1, broadcast, or unicast to us): answered with a PADO (§5.2) when its Service-Name
 *   is empty (any service) or one we offer, else not answered at all (§5.2: an AC that cannot
 *   serve the request must not respond). Nothing is kept: the PADO's AC-Cookie (control/pppoe/
 *   cookie.ts) binds the subscriber's MAC, Host-Uniq and Service-Name, so a flood of PADIs costs
 *   one HMAC each and no memory.
 * - PADR (§5.3, unicast to us): a Service-Name we do not offer gets a PADS with SESSION_ID 0 and
 *   a Service-Name-Error (§5.4); a missing or invalid cookie is dropped without any state; a full
 *   table or a subscriber at its session limit gets a PADS with SESSION_ID 0 and an
 *   AC-System-Error; otherwise a fresh random SESSION_ID (never 0 nor 0xffff, §4) is assigned,
 *   the PADS sent and a `session` event emitted. A retransmitted PADR (same MAC, Host-Uniq,
 *   Service-Name and cookie) gets the same PADS again.
 * - PADT (§5.5) from the subscriber of a session ends it (a `terminated` event);
 *   {@linkcode DiscoveryServer.terminate} ends one from our side and makes the PADT.
 *
 * Host-Uniq and Relay-Session-Id are echoed byte for byte in the PADO and PADS (Appendix A), and
 * the Relay-Session-Id in our PADT. A frame that is not a well-formed discovery packet, or that
 * breaks a rule of §5, is dropped and counted by reason; {@linkcode DiscoveryServer.receive}
 * never throws for what it is given.
 *
 * @example Usage
 * ```ts
 * import { DiscoveryServer } from "./discovery.ts";
 * import { decodePppoe, encodePppoe, findTag, PppoeCode, PppoeTagType, tag } from "./codec.ts";
 * import { BROADCAST_MAC } from "../mac.ts";
 * const ac = new DiscoveryServer({ localMac: new Uint8Array([2, 0, 0, 0, 0, 1]),
 *   services: ["isp"] });
 * const host = new Uint8Array([2, 0, 0, 0, 0, 2]);
 * const padi = encodePppoe({ code: PppoeCode.PADI, sessionId: 0,
 *   tags: [tag(PppoeTagType.SERVICE_NAME, "isp")] });
 * const offer = ac.receive({ source: host, destination: BROADCAST_MAC, payload: padi });
 * const cookie = findTag(decodePppoe(offer.frames[0].payload), PppoeTagType.AC_COOKIE) ??
 *   new Uint8Array();
 * const padr = encodePppoe({ code: PppoeCode.PADR, sessionId: 0,
 *   tags: [tag(PppoeTagType.SERVICE_NAME, "isp"), tag(PppoeTagType.AC_COOKIE, cookie)] });
 * const out = ac.receive({ source: host, destination: ac.localMac, payload: padr });
 * console.log(out.events[0].type, ac.sessions().length); // session 1
 * ```
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import { BROADCAST_MAC, formatMac } from "../mac.ts";
import { AC_COOKIE_LENGTH, AcCookieJar, type TimeSource } from "./cookie.ts";
import {
  decodePppoe,
  type DiscoveryFrame,
  encodedPppoeLength,
  encodePppoe,
  findTag,
  type OutgoingFrame,
  PPPOE_DECODE_REASONS,
  PPPOE_MAX_PAYLOAD,
  PppoeCode,
  type PppoeCodeValue,
  PppoeDecodeError,
  type PppoeDecodeReason,
  type PppoePacket,
  type PppoeTag,
  PppoeTagType,
  sameBytes,
  tag,
} from "./codec.ts";

/**
 * Options of {@linkcode DiscoveryServer}.
 *
 * @example Usage
 * ```ts
 * import type { DiscoveryServerOptions } from "./discovery.ts";
 * const o: DiscoveryServerOptions = { localMac: new Uint8Array([2, 0, 0, 0, 0, 1]),
 *   services: ["isp"], perMacLimit: 1 };
 * console.log(o.services); // [ "isp" ]
 * ```
 */
export interface DiscoveryServerOptions {
  /** Our MAC address (6 bytes, unicast): the source of what we send. */
  localMac: Uint8Array;
  /** The Service-Names we offer (at least one; non-empty, distinct). */
  services: readonly string[];
  /** Our AC-Name (default "kpppoed"). */
  acName?: string;
  /** Time source (default `performance.now()`); only `now()` is used. */
  clock?: TimeSource;
  /** AC-Cookie time bucket in milliseconds (default 30000; a cookie lives one to two). */
  cookieBucketMs?: number;
  /** Most sessions in all (default 4096, at most 65534). */
  maxSessions?: number;
  /** Most sessions per subscriber MAC address (default 4). */
  perMacLimit?: number;
  /** Random bytes for session IDs and cookies (default node:crypto). */
  random?: (n: number) => Uint8Array;
}

/**
 * A session the server has opened (after the PADS) and still knows.
 *
 * @example Usage
 * ```ts
 * import type { PppoeSession } from "./discovery.ts";
 * const s: PppoeSession = { sessionId: 0x1234, peerMac: new Uint8Array(6), service: "isp",
 *   createdAt: 0 };
 * console.log(s.service); // isp
 * ```
 */
export interface PppoeSession {
  /** The SESSION_ID we assigned (1 to 0xfffe). */
  readonly sessionId: number;
  /** The subscriber's MAC address. */
  readonly peerMac: Uint8Array;
  /** The service: the PADR's Service-Name, or our first service when that was empty. */
  readonly service: string;
  /** The subscriber's Host-Uniq, if it sent one. */
  readonly hostUniq?: Uint8Array;
  /** The relay agent's Relay-Session-Id, if the PADR came through one. */
  readonly relaySessionId?: Uint8Array;
  /** Clock time when the session was opened. */
  readonly createdAt: number;
}

/**
 * What happened to sessions: `session` when one is opened (the caller starts carrying it; the
 * event is the session), `terminated` when the subscriber ended one with a PADT (with the text
 * of its Generic-Error tag, if any).
 *
 * @example Usage
 * ```ts
 * import type { DiscoveryEvent } from "./discovery.ts";
 * const e: DiscoveryEvent = { type: "terminated", sessionId: 7, peerMac: new Uint8Array(6),
 *   by: "peer" };
 * console.log(e.type); // terminated
 * ```
 */
export type DiscoveryEvent =
  | ({ type: "session" } & PppoeSession)
  | { type: "terminated"; sessionId: number; peerMac: Uint8Array; by: "peer"; reason?: string };

/**
 * What {@linkcode DiscoveryServer.receive} returns.
 *
 * @example Usage
 * ```ts
 * import type { DiscoveryOutput } from "./discovery.ts";
 * const o: DiscoveryOutput = { frames: [], events: [] };
 * console.log(o.frames.length + o.events.length); // 0
 * ```
 */
export interface DiscoveryOutput {
  /** Frames to send, in order. */
  frames: OutgoingFrame[];
  /** Events, in order. */
  events: DiscoveryEvent[];
}

/**
 * Why a frame was dropped as malformed: a {@linkcode PppoeDecodeReason}, or
 * `bad-mac` (an address is not 6 bytes), `bad-source-mac` (a multicast or broadcast source),
 * `nonzero-session-id` (a PADI or PADR whose SESSION_ID is not 0, §5.1, §5.3),
 * `missing-service-name` (a PADI or PADR without a Service-Name tag, §5.1, §5.3).
 *
 * @example Usage
 * ```ts
 * import type { MalformedReason } from "./discovery.ts";
 * const r: MalformedReason = "missing-service-name";
 * console.log(r); // missing-service-name
 * ```
 */
export type MalformedReason =
  | PppoeDecodeReason
  | "bad-mac"
  | "bad-source-mac"
  | "nonzero-session-id"
  | "missing-service-name";

const MALFORMED_REASONS: readonly MalformedReason[] = [
  ...PPPOE_DECODE_REASONS,
  "bad-mac",
  "bad-source-mac",
  "nonzero-session-id",
  "missing-service-name",
];

/**
 * The server's counters, all starting at 0. Every frame given to `receive` is counted once in
 * `received` and once in exactly one of: `padi`, `padr`, `padt_in`, `loopback`, `not_for_us`,
 * `unexpected`, or `malformed` (by reason). Of those taken in, `padi + padr = pado + pads +
 * pads_error + unknown_service + bad_cookie + reply_too_big`, `pads = sessions_opened +
 * padr_retransmitted`, `pads_error = refused_service + refused_full + refused_per_mac`, and
 * `padt_in = terminated_by_peer + unknown_padt`. `DiscoveryServer.counters` hands out plain
 * copies.
 *
 * @example Usage
 * ```ts
 * import { DiscoveryServer } from "./discovery.ts";
 * const ac = new DiscoveryServer({ localMac: new Uint8Array([2, 0, 0, 0, 0, 1]),
 *   services: ["a"] });
 * ac.receive({ source: new Uint8Array([2, 0, 0, 0, 0, 2]), destination: ac.localMac,
 *   payload: new Uint8Array([0x22]) });
 * console.log(ac.counters.received, ac.counters.malformed.truncated); // 1 1
 * ```
 */
export class DiscoveryCounters {
  /** Frames given to `receive`. */
  received = 0;
  /** PADIs taken in. */
  padi = 0;
  /** PADRs taken in. */
  padr = 0;
  /** PADTs taken in. */
  padt_in = 0;
  /** PADOs sent. */
  pado = 0;
  /** PADS sent with a session (a new one or, again, a retransmitted PADR's). */
  pads = 0;
  /** PADS sent with SESSION_ID 0 (refusals). */
  pads_error = 0;
  /** PADTs made by `terminate`. */
  padt_out = 0;
  /** Sessions opened. */
  sessions_opened = 0;
  /** PADRs answered again with an existing session's PADS. */
  padr_retransmitted = 0;
  /** PADRs with a missing or invalid AC-Cookie (dropped). */
  bad_cookie = 0;
  /** PADIs for a service we do not offer (not answered, §5.2). */
  unknown_service = 0;
  /** PADRs for a service we do not offer (PADS with Service-Name-Error). */
  refused_service = 0;
  /** PADRs refused because the session table was full (PADS with AC-System-Error). */
  refused_full = 0;
  /** PADRs refused because the subscriber had its most sessions (PADS with AC-System-Error). */
  refused_per_mac = 0;
  /** PADTs that ended a session. */
  terminated_by_peer = 0;
  /** PADTs for no session of the sender's (ignored). */
  unknown_padt = 0;
  /** Answers dropped because echoing the request's tags made them longer than 1500 bytes. */
  reply_too_big = 0;
  /** Frames with our own MAC as source (ignored). */
  loopback = 0;
  /** Frames to an address that is not ours (nor broadcast, for a PADI or PADT). */
  not_for_us = 0;
  /** PADOs and PADSs received: packets for a host, not for an AC (ignored). */
  unexpected = 0;
  /** Malformed frames, by reason (dropped). */
  malformed = Object.fromEntries(MALFORMED_REASONS.map((r) => [r, 0])) as Record<
    MalformedReason,
    number
  >;
}

/** A session and the key of the PADR that made it. */
interface Entry {
  session: PppoeSession;
  /** MAC, Host-Uniq, Service-Name and cookie of the PADR: finds a retransmission. */
  requestKey: string;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

function hex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

/** What the server replies to and with. */
interface Request {
  source: Uint8Array;
  packet: PppoePacket;
  service: Uint8Array;
  hostUniq?: Uint8Array;
  relaySessionId?: Uint8Array;
}

const EMPTY = new Uint8Array(0);

/** A session with copies of its byte arrays (and no key for an absent Host-Uniq or relay ID). */
function copySession(s: PppoeSession): PppoeSession {
  const { hostUniq, relaySessionId } = s;
  return {
    sessionId: s.sessionId,
    peerMac: s.peerMac.slice(),
    service: s.service,
    ...(hostUniq === undefined ? {} : { hostUniq: hostUniq.slice() }),
    ...(relaySessionId === undefined ? {} : { relaySessionId: relaySessionId.slice() }),
    createdAt: s.createdAt,
  };
}

/**
 * The discovery server (see the module documentation). Its memory is bounded by `maxSessions`:
 * nothing is kept for a PADI, nor for a PADR that is refused.
 *
 * @example Usage
 * ```ts
 * import { DiscoveryServer } from "./discovery.ts";
 * const ac = new DiscoveryServer({ localMac: new Uint8Array([2, 0, 0, 0, 0, 1]),
 *   services: ["isp", "voip"], acName: "ac-1" });
 * console.log(ac.acName, ac.services, ac.terminate(42)); // ac-1 [ "isp", "voip" ] undefined
 * ```
 */
export class DiscoveryServer {
  readonly #localMac: Uint8Array;
  readonly #services: readonly string[];
  /** Hex of each offered Service-Name's bytes -> the name. */
  readonly #serviceByHex = new Map<string, string>();
  readonly #acName: string;
  readonly #clock: TimeSource;
  readonly #random: (n: number) => Uint8Array;
  readonly #cookies: AcCookieJar;
  readonly #maxSessions: number;
  readonly #perMacLimit: number;
  readonly #sessions = new Map<number, Entry>();
  /** Peer MAC (hex) -> its session IDs. */
  readonly #byMac = new Map<string, Set<number>>();
  /** Request key -> session ID. */
  readonly #byRequest = new Map<string, number>();
  readonly #counters = new DiscoveryCounters();

  /**
   * A server with no session.
   *
   * @param options Our MAC, services, name, clock, limits.
   * @throws {RangeError} If an option is out of range (a MAC that is not 6 unicast bytes, no
   * service, an empty or repeated service, limits that are not positive integers, or names too
   * long for a PADO to fit in 1500 bytes).
   */
  constructor(options: DiscoveryServerOptions) {
    const fail = (detail: string): never => {
      throw new RangeError(`Cannot create PPPoE discovery server: ${detail}`);
    };
    const mac = options.localMac;
    if (mac.length !== 6 || (mac[0] & 1) !== 0) {
      fail(`local MAC ${formatMac(mac)} is not a 6-byte unicast address`);
    }
    if (options.services.length === 0) fail("no service to offer");
    for (const s of options.services) {
      const h = hex(encoder.encode(s));
      if (s === "") fail("a service name is empty (an empty Service-Name means any service)");
      if (this.#serviceByHex.has(h)) fail(`service "${s}" is listed twice`);
      this.#serviceByHex.set(h, s);
    }
    const maxSessions = options.maxSessions ?? 4096;
    if (!Number.isInteger(maxSessions) || maxSessions < 1 || maxSessions > 0xfffe) {
      fail(`maxSessions ${maxSessions} is not an integer from 1 to 65534`);
    }
    const perMacLimit = options.perMacLimit ?? 4;
    if (!Number.isInteger(perMacLimit) || perMacLimit < 1) {
      fail(`perMacLimit ${perMacLimit} is not a positive integer`);
    }
    this.#localMac = mac.slice();
    this.#services = [...options.services];
    this.#acName = options.acName ?? "kpppoed";
    this.#clock = options.clock ?? { now: (): number => performance.now() };
    this.#random = options.random ?? ((n): Uint8Array => new Uint8Array(randomBytes(n)));
    this.#cookies = new AcCookieJar({
      clock: this.#clock,
      bucketMs: options.cookieBucketMs ?? 30_000,
      random: this.#random,
    });
    this.#maxSessions = maxSessions;
    this.#perMacLimit = perMacLimit;
    // The longest PADO without echoed tags: AC-Name, empty Service-Name, every service, cookie.
    let n = 6 + 4 + encoder.encode(this.#acName).length + 4 + 4 + AC_COOKIE_LENGTH;
    for (const s of this.#services) n += 4 + encoder.encode(s).length;
    if (n > PPPOE_MAX_PAYLOAD) {
      fail(`a PADO offering every service would be ${n} bytes, more than ${PPPOE_MAX_PAYLOAD}`);
    }
  }

  /** Our MAC address (a copy). */
  get localMac(): Uint8Array {
    return this.#localMac.slice();
  }

  /** Our AC-Name. */
  get acName(): string {
    return this.#acName;
  }

  /** The Service-Names we offer. */
  get services(): readonly string[] {
    return this.#services;
  }

  /** How many sessions are open. */
  get size(): number {
    return this.#sessions.size;
  }

  /** A snapshot of the counters (see {@linkcode DiscoveryCounters}). */
  get counters(): DiscoveryCounters {
    return { ...this.#counters, malformed: { ...this.#counters.malformed } };
  }

  /**
   * The open sessions, oldest first.
   *
   * @returns Copies of them.
   */
  sessions(): PppoeSession[] {
    return [...this.#sessions.values()].map((e) => copySession(e.session));
  }

  /**
   * One open session.
   *
   * @param sessionId Its SESSION_ID.
   * @returns A copy of it, or undefined.
   */
  session(sessionId: number): PppoeSession | undefined {
    const e = this.#sessions.get(sessionId);
    return e === undefined ? undefined : copySession(e.session);
  }

  /**
   * Handle one received discovery frame.
   *
   * @param frame Source and destination MAC and the Ethernet payload.
   * @returns The frames to send (at most one) and the events (at most one).
   */
  receive(frame: DiscoveryFrame): DiscoveryOutput {
    const out: DiscoveryOutput = { frames: [], events: [] };
    const c = this.#counters;
    c.received++;
    const { source, destination } = frame;
    if (source.length !== 6 || destination.length !== 6) {
      c.malformed["bad-mac"]++;
      return out;
    }
    if (sameBytes(source, this.#localMac)) {
      c.loopback++;
      return out;
    }
    if ((source[0] & 1) !== 0) {
      c.malformed["bad-source-mac"]++;
      return out;
    }
    let packet: PppoePacket;
    try {
      packet = decodePppoe(frame.payload);
    } catch (e) {
      if (!(e instanceof PppoeDecodeError)) throw e;
      c.malformed[e.reason]++;
      return out;
    }
    const toUs = sameBytes(destination, this.#localMac);
    const broadcast = sameBytes(destination, BROADCAST_MAC);
    switch (packet.code) {
      case PppoeCode.PADI:
      case PppoeCode.PADR: {
        const padi = packet.code === PppoeCode.PADI;
        if (!(toUs || (padi && broadcast))) {
          c.not_for_us++;
          return out;
        }
        const request = this.#request(source, packet);
        if (request === undefined) return out;
        if (padi) {
          c.padi++;
          this.#padi(request, out);
        } else {
          c.padr++;
          this.#padr(request, out);
        }
        return out;
      }
      case PppoeCode.PADT:
        if (!(toUs || broadcast)) {
          c.not_for_us++;
          return out;
        }
        c.padt_in++;
        this.#padt(source, packet, out);
        return out;
      case PppoeCode.PADO:
      case PppoeCode.PADS:
        c.unexpected++;
        return out;
    }
  }

  /**
   * End a session from our side (when what carries it has gone: for kpppoed, a CDN from the
   * LNS), forgetting it.
   *
   * @param sessionId Its SESSION_ID.
   * @param reason Text for a Generic-Error tag (none when undefined).
   * @returns The PADT to send to the subscriber, or undefined when there is no such session.
   */
  terminate(sessionId: number, reason?: string): OutgoingFrame | undefined {
    const e = this.#sessions.get(sessionId);
    if (e === undefined) return undefined;
    this.#forget(e);
    const tags: PppoeTag[] = [];
    if (e.session.relaySessionId !== undefined) {
      tags.push(tag(PppoeTagType.RELAY_SESSION_ID, e.session.relaySessionId));
    }
    if (reason !== undefined) tags.push(tag(PppoeTagType.GENERIC_ERROR, reason));
    let packet: PppoePacket = { code: PppoeCode.PADT, sessionId, tags };
    // A reason too long to fit is cut to nothing rather than lose the PADT.
    if (encodedPppoeLength(packet) > PPPOE_MAX_PAYLOAD) {
      packet = {
        ...packet,
        tags: tags.map((t) => t.type === PppoeTagType.GENERIC_ERROR ? tag(t.type, EMPTY) : t),
      };
    }
    this.#counters.padt_out++;
    return { destination: e.session.peerMac.slice(), payload: encodePppoe(packet) };
  }

  /** The common checks of a PADI or PADR (§5.1, §5.3); counts what fails them. */
  #request(source: Uint8Array, packet: PppoePacket): Request | undefined {
    if (packet.sessionId !== 0) {
      this.#counters.malformed["nonzero-session-id"]++;
      return undefined;
    }
    const service = findTag(packet, PppoeTagType.SERVICE_NAME);
    if (service === undefined) {
      this.#counters.malformed["missing-service-name"]++;
      return undefined;
    }
    return {
      source,
      packet,
      service,
      hostUniq: findTag(packet, PppoeTagType.HOST_UNIQ),
      relaySessionId: findTag(packet, PppoeTagType.RELAY_SESSION_ID),
    };
  }

  /** The offered service a Service-Name names ("" when it is empty: any), or undefined. */
  #serviceOf(name: Uint8Array): string | undefined {
    return name.length === 0 ? "" : this.#serviceByHex.get(hex(name));
  }

  #padi(r: Request, out: DiscoveryOutput): void {
    const c = this.#counters;
    const service = this.#serviceOf(r.service);
    if (service === undefined) {
      c.unknown_service++;
      return;
    }
    const tags: PppoeTag[] = [
      tag(PppoeTagType.AC_NAME, this.#acName),
      tag(PppoeTagType.SERVICE_NAME, r.service),
    ];
    if (service === "") {
      for (const s of this.#services) tags.push(tag(PppoeTagType.SERVICE_NAME, s));
    }
    const cookie = this.#cookies.issue({
      peerMac: r.source,
      hostUniq: r.hostUniq,
      service: r.service,
    });
    tags.push(tag(PppoeTagType.AC_COOKIE, cookie));
    this.#reply(r, PppoeCode.PADO, 0, tags, out);
  }

  #padr(r: Request, out: DiscoveryOutput): void {
    const c = this.#counters;
    const service = this.#serviceOf(r.service);
    if (service === undefined) {
      this.#refuse(r, "refused_service", PppoeTagType.SERVICE_NAME_ERROR, "unknown service", out);
      return;
    }
    const cookie = findTag(r.packet, PppoeTagType.AC_COOKIE);
    if (cookie === undefined) {
      c.bad_cookie++;
      return;
    }
    const key = [
      hex(r.source),
      r.hostUniq === undefined ? "-" : hex(r.hostUniq),
      hex(r.service),
      hex(cookie),
    ].join("/");
    const existing = this.#byRequest.get(key);
    if (existing !== undefined) {
      if (this.#accept(r, existing, out)) c.padr_retransmitted++;
      return;
    }
    // A cookie from a PADI for any service (empty Service-Name) is good for every service.
    const input = { peerMac: r.source, hostUniq: r.hostUniq };
    const valid = this.#cookies.verify(cookie, { ...input, service: r.service }) ||
      (r.service.length > 0 && this.#cookies.verify(cookie, { ...input, service: EMPTY }));
    if (!valid) {
      c.bad_cookie++;
      return;
    }
    const macKey = hex(r.source);
    if ((this.#byMac.get(macKey)?.size ?? 0) >= this.#perMacLimit) {
      this.#refuse(r, "refused_per_mac", PppoeTagType.AC_SYSTEM_ERROR, "too many sessions", out);
      return;
    }
    if (this.#sessions.size >= this.#maxSessions) {
      this.#refuse(r, "refused_full", PppoeTagType.AC_SYSTEM_ERROR, "session table full", out);
      return;
    }
    const session = copySession({
      sessionId: this.#allocate(),
      peerMac: r.source,
      service: service === "" ? this.#services[0] : service,
      hostUniq: r.hostUniq,
      relaySessionId: r.relaySessionId,
      createdAt: this.#clock.now(),
    });
    if (!this.#accept(r, session.sessionId, out)) return;
    this.#sessions.set(session.sessionId, { session, requestKey: key });
    this.#byRequest.set(key, session.sessionId);
    let set = this.#byMac.get(macKey);
    if (set === undefined) this.#byMac.set(macKey, set = new Set());
    set.add(session.sessionId);
    c.sessions_opened++;
    out.events.push({ type: "session", ...copySession(session) });
  }

  /** The PADS of an accepted PADR; false when it does not fit (nothing is sent). */
  #accept(r: Request, sessionId: number, out: DiscoveryOutput): boolean {
    const sent = this.#reply(r, PppoeCode.PADS, sessionId, [
      tag(PppoeTagType.SERVICE_NAME, r.service),
    ], out);
    if (sent) this.#counters.pads++;
    return sent;
  }

  /** A PADS with SESSION_ID 0 and an error tag (§5.4), counted under `why` once sent. */
  #refuse(
    r: Request,
    why: "refused_service" | "refused_full" | "refused_per_mac",
    errorType: number,
    text: string,
    out: DiscoveryOutput,
  ): void {
    const tags = [tag(PppoeTagType.SERVICE_NAME, r.service), tag(errorType, text)];
    if (!this.#reply(r, PppoeCode.PADS, 0, tags, out)) return;
    this.#counters.pads_error++;
    this.#counters[why]++;
  }

  /**
   * Send a PADO or PADS to the requester, echoing its Host-Uniq and Relay-Session-Id; counts a
   * PADO, or a reply that is too big. Returns whether it was sent.
   */
  #reply(
    r: Request,
    code: PppoeCodeValue,
    sessionId: number,
    tags: PppoeTag[],
    out: DiscoveryOutput,
  ): boolean {
    if (r.hostUniq !== undefined) tags.push(tag(PppoeTagType.HOST_UNIQ, r.hostUniq));
    if (r.relaySessionId !== undefined) {
      tags.push(tag(PppoeTagType.RELAY_SESSION_ID, r.relaySessionId));
    }
    const packet: PppoePacket = { code, sessionId, tags };
    if (encodedPppoeLength(packet) > PPPOE_MAX_PAYLOAD) {
      this.#counters.reply_too_big++;
      return false;
    }
    out.frames.push({ destination: r.source.slice(), payload: encodePppoe(packet) });
    if (code === PppoeCode.PADO) this.#counters.pado++;
    return true;
  }

  #padt(source: Uint8Array, packet: PppoePacket, out: DiscoveryOutput): void {
    const e = this.#sessions.get(packet.sessionId);
    if (e === undefined || !sameBytes(e.session.peerMac, source)) {
      this.#counters.unknown_padt++;
      return;
    }
    this.#forget(e);
    this.#counters.terminated_by_peer++;
    const error = findTag(packet, PppoeTagType.GENERIC_ERROR);
    out.events.push({
      type: "terminated",
      sessionId: e.session.sessionId,
      peerMac: e.session.peerMac.slice(),
      by: "peer",
      ...(error === undefined || error.length === 0 ? {} : { reason: decoder.decode(error) }),
    });
  }

  #forget(e: Entry): void {
    const id = e.session.sessionId;
    this.#sessions.delete(id);
    this.#byRequest.delete(e.requestKey);
    const macKey = hex(e.session.peerMac);
    const set = this.#byMac.get(macKey);
    set?.delete(id);
    if (set?.size === 0) this.#byMac.delete(macKey);
  }

  /** A random SESSION_ID that is free and neither 0 nor 0xffff (the table is not full). */
  #allocate(): number {
    const free = (id: number): boolean => id !== 0 && id !== 0xffff && !this.#sessions.has(id);
    let id = 0;
    for (let i = 0; i < 32; i++) {
      const b = this.#random(2);
      id = ((b[0] ?? 0) << 8) | (b[1] ?? 0);
      if (free(id)) return id;
    }
    // A nearly full table, or a poor random source: walk on from the last draw.
    for (let i = 0; i < 0x10000; i++) {
      id = (id + 1) & 0xffff;
      if (free(id)) return id;
    }
    throw new RangeError("Cannot allocate PPPoE session ID: every ID is in use");
  }
}
