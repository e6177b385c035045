/**
 * The checks and secrets of control connection establishment (SCCRQ, SCCRP, SCCCN), apart from
 * the state machine that sends and receives them (control/tunnel.ts):
 *
 * - L2TPv2 tunnel authentication: with a shared secret we send a 16-byte Challenge in our SCCRQ
 *   or SCCRP and require the peer's Challenge Response in its SCCRP or SCCCN; we answer the
 *   peer's Challenge (RFC 2661 §4.2, §5.1.1).
 * - L2TPv3 Control Message Authentication: nonces in SCCRQ and SCCRP and a Message Digest on
 *   every message (RFC 3931 §4.3, §5.4.1); the codec options the transport signs and verifies
 *   with come from here.
 * - The start checks: an Assigned Tunnel (Control Connection) ID is present, L2TPv2 speaks
 *   protocol version 1.0, a Challenge comes only when we have a secret. A failed check is a
 *   {@linkcode Refusal}, the StopCCN to answer with.
 * - The Tie Breaker (RFC 2661 §4.4.3, RFC 3931 §5.4.3): when both ends send an SCCRQ at once,
 *   the lower Tie Breaker value wins; a side that sent none loses to one that did.
 *
 * @example Usage
 * ```ts
 * import { Handshake } from "./handshake.ts";
 * const random = (n: number): Uint8Array => crypto.getRandomValues(new Uint8Array(n));
 * const lac = new Handshake({ version: 2, secret: "s3cret", random });
 * const lns = new Handshake({ version: 2, secret: "s3cret", random });
 * const sccrq = lac.sccrqAuth(); // Challenge and Tie Breaker
 * console.log(lns.checkSccrq({ tunnelId: 7, challenge: sccrq.challenge })); // undefined
 * const sccrp = lns.sccrpAuth(); // our Challenge, and the response to the LAC's
 * console.log(lac.checkSccrp({ tunnelId: 9, ...sccrp })); // undefined
 * console.log(lac.tieVerdict(undefined)); // tie-win
 * ```
 *
 * @module
 */

import { chapResponse, digestKey, verifyChapResponse, verifyMessageDigest } from "./auth.ts";
import type { ResultCodeValue } from "./avp.ts";
import type { PeerTunnelInfo, TunnelAuthAvps } from "./builders.ts";
import { readU64 } from "./bytes.ts";
import {
  AvpType,
  DigestType,
  type DigestTypeCode,
  ErrorCode,
  MessageType,
  StopCcnResult,
} from "./constants.ts";
import { type ControlMessage, type DecodeOptions, type EncodeOptions, getAvp } from "./message.ts";
import type { L2tpVersion } from "./types.ts";

/**
 * How L2TPv3 messages are authenticated: the key derived from the shared secret (set whenever
 * L2TPv3 has a secret, so that a digest the peer sends is checked) and the digest type we sign
 * with (unset: we neither sign nor require a digest).
 *
 * @example Usage
 * ```ts
 * import type { DigestConfig } from "./handshake.ts";
 * const none: DigestConfig = {};
 * console.log(none.type); // undefined
 * ```
 */
export interface DigestConfig {
  /** Key of the Message Digest (RFC 3931 §5.4.1), from the shared secret. */
  key?: Uint8Array;
  /** Digest type of our Message Digests. */
  type?: DigestTypeCode;
}

/**
 * The Message Digest configuration for a connection: RFC 3931 §4.3 authenticates L2TPv3 with
 * the Message Digest, so with a shared secret it is HMAC-MD5 unless set otherwise.
 *
 * @param version Protocol version.
 * @param secret The shared secret (undefined or empty: none).
 * @param messageDigest The configured digest (default "md5" for L2TPv3 with a secret).
 * @returns Key and type.
 * @throws {TypeError} If a digest is asked for without L2TPv3 and a shared secret.
 *
 * @example Usage
 * ```ts
 * import { resolveDigest } from "./handshake.ts";
 * console.log(resolveDigest(3, "s3cret", undefined).type); // 0 (HMAC-MD5)
 * console.log(resolveDigest(2, "s3cret", undefined).key); // undefined
 * ```
 */
export function resolveDigest(
  version: L2tpVersion,
  secret: string | Uint8Array | undefined,
  messageDigest: "none" | "md5" | "sha1" | undefined,
): DigestConfig {
  const s = secret !== undefined && secret.length > 0 ? secret : undefined;
  const digest = messageDigest ?? (version === 3 && s !== undefined ? "md5" : "none");
  if (digest !== "none" && (version !== 3 || s === undefined)) {
    throw new TypeError(
      "Cannot create control connection: a Message Digest needs L2TPv3 and a shared secret",
    );
  }
  const type = digest === "md5"
    ? DigestType.HmacMd5
    : digest === "sha1"
    ? DigestType.HmacSha1
    : undefined;
  return {
    ...(version === 3 && s !== undefined ? { key: digestKey(s) } : {}),
    ...(type !== undefined ? { type } : {}),
  };
}

/**
 * Options of {@linkcode Handshake}.
 *
 * @example Usage
 * ```ts
 * import type { HandshakeOptions } from "./handshake.ts";
 * const o: HandshakeOptions = {
 *   version: 3, secret: "s3cret", tieBreaker: false,
 *   random: (n) => crypto.getRandomValues(new Uint8Array(n)),
 * };
 * console.log(o.version); // 3
 * ```
 */
export interface HandshakeOptions {
  /** Protocol version. */
  version: L2tpVersion;
  /** Shared secret (undefined or empty: none). */
  secret?: string | Uint8Array;
  /** L2TPv3 Message Digest (see {@linkcode resolveDigest}; default none). */
  digest?: DigestConfig;
  /** Tie Breaker value in our SCCRQ (default random; `false`: none). */
  tieBreaker?: bigint | false;
  /** Random bytes for challenges, nonces and tie breakers. */
  random: (n: number) => Uint8Array;
}

/**
 * A failed establishment check: why (for logs) and the StopCCN Result Code to send.
 *
 * @example Usage
 * ```ts
 * import type { Refusal } from "./handshake.ts";
 * const r: Refusal = { reason: "no Assigned Tunnel ID", result: { resultCode: 2, errorCode: 2 } };
 * console.log(r.result.resultCode); // 2
 * ```
 */
export interface Refusal {
  /** Why, for logs. */
  reason: string;
  /** The StopCCN's Result Code. */
  result: ResultCodeValue;
}

/**
 * The outcome of crossing SCCRQs: we win (ignore theirs), we lose (answer theirs), or both
 * values are equal (both ends start again with new ones).
 *
 * @example Usage
 * ```ts
 * import type { TieVerdict } from "./handshake.ts";
 * const v: TieVerdict = "tie-win";
 * console.log(v); // tie-win
 * ```
 */
export type TieVerdict = "tie-win" | "tie-lose" | "tie-again";

/**
 * One connection's authentication and tie-breaking state (see the module documentation).
 *
 * @example Usage
 * ```ts
 * import { Handshake } from "./handshake.ts";
 * const h = new Handshake({ version: 2, tieBreaker: 5n, random: (n) => new Uint8Array(n) });
 * console.log(h.sccrqAuth().tieBreaker, h.tieVerdict(9n), h.tieVerdict(2n)); // 5n tie-win tie-lose
 * console.log(h.checkSccrq({})?.reason); // no Assigned Tunnel ID
 * ```
 */
export class Handshake {
  readonly #version: L2tpVersion;
  readonly #secret: string | Uint8Array | undefined;
  readonly #digestKey: Uint8Array | undefined;
  readonly #digestType: DigestTypeCode | undefined;
  readonly #tieBreakerOption: bigint | false | undefined;
  readonly #random: (n: number) => Uint8Array;
  #challenge: Uint8Array | undefined;
  #peerChallenge: Uint8Array | undefined;
  #localNonce: Uint8Array | undefined;
  #remoteNonce: Uint8Array | undefined;
  #tieBreaker: bigint | undefined;

  /**
   * Nothing sent or received yet.
   *
   * @param options Version, secret, digest, tie breaker, random source.
   */
  constructor(options: HandshakeOptions) {
    this.#version = options.version;
    this.#secret = options.secret && options.secret.length > 0 ? options.secret : undefined;
    this.#digestKey = options.digest?.key;
    this.#digestType = options.digest?.type;
    this.#tieBreakerOption = options.tieBreaker;
    this.#random = options.random;
  }

  /** Whether we sign our messages with a Message Digest (and require the peer's). */
  get digestOn(): boolean {
    return this.#digestType !== undefined;
  }

  /** Whether the peer's nonce is still unknown (our digests cannot be checked by it yet). */
  get awaitingNonce(): boolean {
    return this.#remoteNonce === undefined;
  }

  /** Our Tie Breaker value, once our SCCRQ has one. */
  get tieBreaker(): bigint | undefined {
    return this.#tieBreaker;
  }

  /**
   * Codec options from the secret, digest and nonces known so far: what the transport encodes
   * (hides, signs) and decodes (reveals, verifies) with.
   *
   * @returns Encode and decode options.
   */
  codecOptions(): {
    encode: Omit<EncodeOptions, "transport">;
    decode: Omit<DecodeOptions, "transport" | "version">;
  } {
    const key = this.#digestKey;
    const nonces = {
      ...(this.#localNonce ? { localNonce: this.#localNonce } : {}),
      ...(this.#remoteNonce ? { remoteNonce: this.#remoteNonce } : {}),
    };
    const secret = this.#secret !== undefined ? { secret: this.#secret } : {};
    return {
      encode: {
        ...secret,
        ...(key && this.#digestType !== undefined
          ? { digest: { key, type: this.#digestType, ...nonces } }
          : {}),
      },
      decode: {
        ignoreMalformed: true,
        ...secret,
        ...(key ? { digest: { key, required: this.#digestType !== undefined, ...nonces } } : {}),
      },
    };
  }

  /**
   * Decode options for a message read outside the transport (a crossing SCCRQ, or the SCCRP
   * whose nonce is needed first).
   *
   * @param verify Check the Message Digest (without nonces: an SCCRQ's digest has none).
   * @returns The options, without transport and version.
   */
  peekOptions(verify: boolean): Omit<DecodeOptions, "transport" | "version"> {
    return {
      ignoreMalformed: true,
      ...(this.#secret !== undefined ? { secret: this.#secret } : {}),
      ...(verify && this.#digestKey
        ? { digest: { key: this.#digestKey, required: this.#digestType !== undefined } }
        : {}),
    };
  }

  /**
   * The peer's nonce from an SCCRP signed with it, taken once the SCCRP's digest verifies with
   * it (RFC 3931 §4.3: the SCCRP is the first message signed with both nonces).
   *
   * @param msg The SCCRP, decoded without digest check.
   * @param bytes Its bytes (without the L2TP/IP zero Session ID).
   * @returns Whether the nonce was taken (the codec options then change).
   */
  learnNonce(msg: ControlMessage, bytes: Uint8Array): boolean {
    if (msg.type !== MessageType.SCCRP) return false;
    const nonce = getAvp(msg, AvpType.ControlMessageAuthNonce);
    const key = this.#digestKey;
    if (nonce === undefined || key === undefined) return false;
    let verdict;
    try {
      verdict = verifyMessageDigest(bytes, {
        key,
        remoteNonce: nonce,
        ...(this.#localNonce ? { localNonce: this.#localNonce } : {}),
      });
    } catch {
      return false;
    }
    if (verdict !== "valid") return false;
    this.#remoteNonce = nonce;
    return true;
  }

  /**
   * What our SCCRQ carries: a new Challenge (L2TPv2 with a secret), our nonce (L2TPv3 with a
   * digest; kept across a restart), our Tie Breaker (unless turned off; kept until forgotten).
   *
   * @returns The SCCRQ's authentication AVPs.
   */
  sccrqAuth(): TunnelAuthAvps {
    const auth: TunnelAuthAvps = {};
    if (this.#version === 2 && this.#secret !== undefined) {
      this.#challenge = this.#random(16);
      auth.challenge = this.#challenge;
    }
    if (this.#version === 3 && this.#digestType !== undefined) {
      this.#localNonce ??= this.#random(16);
      auth.nonce = this.#localNonce;
    }
    if (this.#tieBreakerOption !== false) {
      this.#tieBreaker ??= this.#tieBreakerOption ?? readU64(this.#random(8), 0);
      auth.tieBreaker = this.#tieBreaker;
    }
    return auth;
  }

  /**
   * What our SCCRP carries: a new Challenge and the response to the peer's (L2TPv2 with a
   * secret), our nonce (L2TPv3 with a digest).
   *
   * @returns The SCCRP's authentication AVPs.
   */
  sccrpAuth(): TunnelAuthAvps {
    const auth: TunnelAuthAvps = {};
    if (this.#version === 2 && this.#secret !== undefined) {
      this.#challenge = this.#random(16);
      auth.challenge = this.#challenge;
      if (this.#peerChallenge !== undefined) {
        auth.challengeResponse = chapResponse(
          MessageType.SCCRP,
          this.#secret,
          this.#peerChallenge,
        );
      }
    }
    if (this.#version === 3 && this.#digestType !== undefined) {
      this.#localNonce ??= this.#random(16);
      auth.nonce = this.#localNonce;
    }
    return auth;
  }

  /**
   * L2TPv2: the Challenge Response our SCCCN carries, if the peer sent a Challenge.
   *
   * @returns The response, or undefined.
   */
  scccnResponse(): Uint8Array | undefined {
    return this.#version === 2 && this.#peerChallenge !== undefined && this.#secret
      ? chapResponse(MessageType.SCCCN, this.#secret, this.#peerChallenge)
      : undefined;
  }

  /**
   * Check the peer's SCCRQ (see {@linkcode Handshake.checkSccrp} for what is checked); on
   * success its Challenge and nonce are kept.
   *
   * @param info What the SCCRQ says.
   * @returns Undefined, or the refusal to answer with.
   */
  checkSccrq(info: PeerTunnelInfo): Refusal | undefined {
    return this.#checkStart(info);
  }

  /**
   * Check the peer's SCCRP: it assigns a tunnel ID, speaks L2TPv2 protocol version 1.0, sends
   * a Challenge only if we have a secret, and (L2TPv2, when we sent a Challenge) answers ours
   * with the right Challenge Response (RFC 2661 §5.1.1).
   *
   * @param info What the SCCRP says.
   * @returns Undefined, or the refusal to answer with.
   */
  checkSccrp(info: PeerTunnelInfo): Refusal | undefined {
    const bad = this.#checkStart(info);
    if (bad !== undefined) return bad;
    if (this.#version === 2 && this.#challenge !== undefined) {
      const response = info.challengeResponse;
      if (response === undefined) return notAuthorized("no Challenge Response in the SCCRP");
      if (!verifyChapResponse(MessageType.SCCRP, this.#secret ?? "", this.#challenge, response)) {
        return notAuthorized("wrong Challenge Response in the SCCRP (shared secret mismatch)");
      }
    }
    return undefined;
  }

  /**
   * Check the peer's SCCCN: L2TPv2, when we sent a Challenge, it must carry the right Challenge
   * Response (RFC 2661 §5.1.1).
   *
   * @param msg The SCCCN.
   * @returns Undefined, or the refusal to answer with.
   */
  checkScccn(msg: ControlMessage): Refusal | undefined {
    if (this.#version === 2 && this.#challenge !== undefined) {
      const response = getAvp(msg, AvpType.ChallengeResponse);
      if (response === undefined) return notAuthorized("no Challenge Response in the SCCCN");
      if (!verifyChapResponse(MessageType.SCCCN, this.#secret ?? "", this.#challenge, response)) {
        return notAuthorized("wrong Challenge Response in the SCCCN (shared secret mismatch)");
      }
    }
    return undefined;
  }

  /**
   * Settle crossing SCCRQs by Tie Breaker (RFC 2661 §4.4.3, RFC 3931 §5.4.3): the lower value
   * wins; a side without one loses to a side with one.
   *
   * @param theirs The Tie Breaker of the peer's SCCRQ, if any.
   * @returns The verdict, or undefined when neither side sent one (no contest).
   */
  tieVerdict(theirs: bigint | undefined): TieVerdict | undefined {
    const ours = this.#tieBreaker;
    if (ours === undefined && theirs === undefined) return undefined;
    if (theirs === undefined) return "tie-win";
    if (ours === undefined) return "tie-lose";
    return ours < theirs ? "tie-win" : ours > theirs ? "tie-lose" : "tie-again";
  }

  /** We lost the tie breaker: our Challenge and Tie Breaker no longer apply. */
  restartAsResponder(): void {
    this.#challenge = undefined;
    this.#tieBreaker = undefined;
  }

  /** Equal tie breakers: the next SCCRQ gets a new value. */
  forgetTieBreaker(): void {
    this.#tieBreaker = undefined;
  }

  /** Checks common to SCCRQ and SCCRP. */
  #checkStart(info: PeerTunnelInfo): Refusal | undefined {
    const idName = this.#version === 2 ? "Assigned Tunnel ID" : "Assigned Control Connection ID";
    if (!info.tunnelId) {
      return {
        reason: `no ${idName}`,
        result: {
          resultCode: StopCcnResult.GeneralError,
          errorCode: ErrorCode.OutOfRange,
          errorMessage: `missing ${idName}`,
        },
      };
    }
    const pv = info.protocolVersion;
    if (this.#version === 2 && pv !== undefined && (pv.version !== 1 || pv.revision !== 0)) {
      return {
        reason: `protocol version ${pv.version}.${pv.revision}`,
        result: {
          resultCode: StopCcnResult.UnsupportedVersion,
          errorCode: 0x0100,
          errorMessage: "only protocol version 1.0 is supported",
        },
      };
    }
    if (this.#version === 2 && info.challenge !== undefined && this.#secret === undefined) {
      return notAuthorized("the peer sent a Challenge but no secret is configured");
    }
    this.#peerChallenge = info.challenge;
    if (this.#version === 3 && info.nonce !== undefined) this.#remoteNonce = info.nonce;
    return undefined;
  }
}

/** A StopCCN "not authorized" (result 4) for a failed authentication. */
function notAuthorized(detail: string): Refusal {
  return {
    reason: `authentication failed: ${detail}`,
    result: { resultCode: StopCcnResult.NotAuthorized, errorMessage: detail },
  };
}
