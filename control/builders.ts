/**
 * Control messages of a control connection, built per protocol version, and what the peer says
 * in the messages it sends, read back per version.
 *
 * L2TPv2 (RFC 2661 §6) and L2TPv3 (RFC 3931 §6) carry the same exchanges with different AVPs:
 * v2 names the sender's tunnel and session in Assigned Tunnel ID / Assigned Session ID AVPs and
 * the recipient's in the header; v3 has no session field in the header and carries both session
 * IDs in Local / Remote Session ID AVPs, and the connection's in Assigned Control Connection ID.
 * The builders below produce {@linkcode TransportMessage}s for the reliable transport, which
 * fills in the header; the readers take a decoded message and return plain values.
 *
 * With `hide` set, the AVPs that name IDs, serial numbers, cookies and the Remote End ID are
 * hidden (RFC 2661 §4.3, RFC 3931 §5.3; the transport's codec options must then carry the
 * shared secret). Hidden AVPs are always understood on receipt when a secret is configured.
 *
 * @example Usage
 * ```ts
 * import { buildSccrq, readTunnelAvps } from "./builders.ts";
 * import { encodeControl, decodeControl } from "./message.ts";
 * const m = buildSccrq({ version: 2, hostName: "lac", receiveWindow: 8 }, 42, {});
 * const bytes = encodeControl({ version: 2, tunnelId: 0, ns: 0, nr: 0, ...m });
 * console.log(readTunnelAvps(decodeControl(bytes), 2).tunnelId); // 42
 * ```
 *
 * @module
 */

import type { AvpInput, CircuitStatusValue, ResultCodeValue } from "./avp.ts";
import { AvpType, MessageType, type MessageTypeCode, PseudowireTypeCode } from "./constants.ts";
import type { L2tpVersion } from "./header.ts";
import { type ControlMessage, getAvp, hasAvp } from "./message.ts";
import type { TransportMessage } from "./transport.ts";

/**
 * Pseudowire names as the configuration spells them.
 *
 * @example Usage
 * ```ts
 * import type { PseudowireName } from "./builders.ts";
 * const pw: PseudowireName = "eth_vlan";
 * console.log(pw); // eth_vlan
 * ```
 */
export type PseudowireName = "eth" | "eth_vlan" | "ppp" | "pppac";

/**
 * The Pseudowire Type (RFC 3931 §5.4.4, IANA) of a configured pseudowire: Ethernet 5, Ethernet
 * VLAN 4, PPP 7 (a "pppac" session carries PPP too).
 *
 * @param name The configured pseudowire.
 * @returns The Pseudowire Type code.
 *
 * @example Usage
 * ```ts
 * import { pseudowireCode } from "./builders.ts";
 * console.log(pseudowireCode("eth"), pseudowireCode("eth_vlan"), pseudowireCode("ppp")); // 5 4 7
 * ```
 */
export function pseudowireCode(name: PseudowireName): number {
  switch (name) {
    case "eth":
      return PseudowireTypeCode.Ethernet;
    case "eth_vlan":
      return PseudowireTypeCode.EthernetVlan;
    default:
      return PseudowireTypeCode.Ppp;
  }
}

/**
 * What we say about ourselves when opening or accepting a control connection.
 *
 * @example Usage
 * ```ts
 * import type { TunnelIdentity } from "./builders.ts";
 * const me: TunnelIdentity = { version: 3, hostName: "pe1", receiveWindow: 16, routerId: 1,
 *   pseudowires: [5] };
 * console.log(me.hostName); // pe1
 * ```
 */
export interface TunnelIdentity {
  /** Protocol version. */
  version: L2tpVersion;
  /** Host Name AVP (non-empty). */
  hostName: string;
  /** Vendor Name AVP (optional). */
  vendorName?: string;
  /** Our receive window (Receive Window Size AVP). */
  receiveWindow: number;
  /** L2TPv2 Framing Capabilities (default sync and async). */
  framingCaps?: { sync: boolean; async: boolean };
  /** L2TPv2 Bearer Capabilities (default none; the AVP is then left out). */
  bearerCaps?: { analog: boolean; digital: boolean };
  /** L2TPv3 Router ID. */
  routerId?: number;
  /** L2TPv3 Pseudowire Capabilities List (Pseudowire Type codes). */
  pseudowires?: readonly number[];
  /** Hide the AVPs that can be hidden and name IDs. */
  hide?: boolean;
}

/**
 * Authentication and tie-breaking AVPs of SCCRQ, SCCRP and SCCCN.
 *
 * @example Usage
 * ```ts
 * import type { TunnelAuthAvps } from "./builders.ts";
 * const auth: TunnelAuthAvps = { challenge: new Uint8Array(16), tieBreaker: 7n };
 * console.log(auth.tieBreaker); // 7n
 * ```
 */
export interface TunnelAuthAvps {
  /** L2TPv2 Challenge (RFC 2661 §4.2). */
  challenge?: Uint8Array;
  /** L2TPv2 Challenge Response to the peer's Challenge. */
  challengeResponse?: Uint8Array;
  /** L2TPv3 Control Message Authentication Nonce (RFC 3931 §5.4.3). */
  nonce?: Uint8Array;
  /** Tie Breaker (SCCRQ only). */
  tieBreaker?: bigint;
}

/** Attributes hidden when hiding is asked for: identifiers, serial numbers, cookies. */
const HIDE: ReadonlySet<number> = new Set([
  AvpType.AssignedTunnelId,
  AvpType.AssignedSessionId,
  AvpType.CallSerialNumber,
  AvpType.AssignedControlConnectionId,
  AvpType.LocalSessionId,
  AvpType.RemoteSessionId,
  AvpType.AssignedCookie,
  AvpType.RemoteEndId,
]);

function hideWhere(avps: AvpInput[], hide: boolean | undefined): AvpInput[] {
  if (!hide) return avps;
  return avps.map((a) =>
    (a.kind === undefined || a.kind === "ietf") && HIDE.has(a.type)
      ? { ...a, hidden: true } as AvpInput
      : a
  );
}

const PROTOCOL_VERSION = { version: 1, revision: 0 } as const;

function startAvps(me: TunnelIdentity, localTunnelId: number, auth: TunnelAuthAvps): AvpInput[] {
  const avps: AvpInput[] = [];
  if (me.version === 2) {
    avps.push({ type: AvpType.ProtocolVersion, value: PROTOCOL_VERSION });
    avps.push({ type: AvpType.HostName, value: me.hostName });
    avps.push({
      type: AvpType.FramingCapabilities,
      value: me.framingCaps ?? { sync: true, async: true },
    });
    if (me.bearerCaps && (me.bearerCaps.analog || me.bearerCaps.digital)) {
      avps.push({ type: AvpType.BearerCapabilities, value: me.bearerCaps });
    }
    avps.push({ type: AvpType.AssignedTunnelId, value: localTunnelId });
  } else {
    avps.push({ type: AvpType.HostName, value: me.hostName });
    avps.push({ type: AvpType.RouterId, value: me.routerId ?? 0 });
    avps.push({ type: AvpType.AssignedControlConnectionId, value: localTunnelId });
    avps.push({
      type: AvpType.PseudowireCapabilities,
      value: [...(me.pseudowires ?? [PseudowireTypeCode.Ethernet])],
    });
  }
  avps.push({ type: AvpType.ReceiveWindowSize, value: me.receiveWindow });
  if (auth.tieBreaker !== undefined) {
    avps.push({ type: AvpType.TieBreaker, value: auth.tieBreaker });
  }
  if (me.vendorName) avps.push({ type: AvpType.VendorName, value: me.vendorName });
  if (me.version === 2) {
    if (auth.challenge) avps.push({ type: AvpType.Challenge, value: auth.challenge });
    if (auth.challengeResponse) {
      avps.push({ type: AvpType.ChallengeResponse, value: auth.challengeResponse });
    }
  } else if (auth.nonce) {
    avps.push({ type: AvpType.ControlMessageAuthNonce, value: auth.nonce });
  }
  return hideWhere(avps, me.hide);
}

/**
 * Start-Control-Connection-Request (RFC 2661 §6.1, RFC 3931 §6.1).
 *
 * @param me What we say about ourselves.
 * @param localTunnelId Our tunnel / control connection ID.
 * @param auth Challenge (v2), nonce (v3), tie breaker.
 * @returns The message for the transport.
 *
 * @example Usage
 * ```ts
 * import { buildSccrq } from "./builders.ts";
 * const m = buildSccrq({ version: 3, hostName: "pe1", receiveWindow: 16, routerId: 1 }, 9, {});
 * console.log(m.type); // 1
 * ```
 */
export function buildSccrq(
  me: TunnelIdentity,
  localTunnelId: number,
  auth: TunnelAuthAvps,
): TransportMessage {
  return { type: MessageType.SCCRQ, avps: startAvps(me, localTunnelId, auth) };
}

/**
 * Start-Control-Connection-Reply (RFC 2661 §6.2, RFC 3931 §6.2).
 *
 * @param me What we say about ourselves.
 * @param localTunnelId Our tunnel / control connection ID.
 * @param auth Challenge and Challenge Response (v2), nonce (v3).
 * @returns The message for the transport.
 *
 * @example Usage
 * ```ts
 * import { buildSccrp } from "./builders.ts";
 * const m = buildSccrp({ version: 2, hostName: "lns", receiveWindow: 16 }, 7, {});
 * console.log(m.type); // 2
 * ```
 */
export function buildSccrp(
  me: TunnelIdentity,
  localTunnelId: number,
  auth: TunnelAuthAvps,
): TransportMessage {
  const { tieBreaker: _unused, ...rest } = auth;
  return { type: MessageType.SCCRP, avps: startAvps(me, localTunnelId, rest) };
}

/**
 * Start-Control-Connection-Connected (RFC 2661 §6.3, RFC 3931 §6.3).
 *
 * @param version Protocol version.
 * @param challengeResponse L2TPv2: the response to the peer's Challenge, if it sent one.
 * @returns The message for the transport.
 *
 * @example Usage
 * ```ts
 * import { buildScccn } from "./builders.ts";
 * console.log(buildScccn(2).type); // 3
 * ```
 */
export function buildScccn(version: L2tpVersion, challengeResponse?: Uint8Array): TransportMessage {
  const avps: AvpInput[] = [];
  if (version === 2 && challengeResponse) {
    avps.push({ type: AvpType.ChallengeResponse, value: challengeResponse });
  }
  return { type: MessageType.SCCCN, avps };
}

/**
 * Stop-Control-Connection-Notification (RFC 2661 §6.4, RFC 3931 §6.4).
 *
 * @param version Protocol version.
 * @param localTunnelId Our tunnel / control connection ID (0 if none was assigned).
 * @param result Result Code (and Error Code, Error Message).
 * @param hide Hide the ID AVP.
 * @returns The message for the transport.
 *
 * @example Usage
 * ```ts
 * import { buildStopccn } from "./builders.ts";
 * import { StopCcnResult } from "./constants.ts";
 * const m = buildStopccn(2, 7, { resultCode: StopCcnResult.GeneralRequest });
 * console.log(m.type); // 4
 * ```
 */
export function buildStopccn(
  version: L2tpVersion,
  localTunnelId: number,
  result: ResultCodeValue,
  hide = false,
): TransportMessage {
  const avps: AvpInput[] = version === 2
    ? [
      { type: AvpType.AssignedTunnelId, value: localTunnelId },
      { type: AvpType.ResultCode, value: result },
    ]
    : [{ type: AvpType.ResultCode, value: result }];
  if (version === 3 && localTunnelId !== 0) {
    avps.push({ type: AvpType.AssignedControlConnectionId, value: localTunnelId });
  }
  return { type: MessageType.StopCCN, avps: hideWhere(avps, hide) };
}

/**
 * What the peer said in an SCCRQ, SCCRP, SCCCN or StopCCN.
 *
 * @example Usage
 * ```ts
 * import type { PeerTunnelInfo } from "./builders.ts";
 * const info: PeerTunnelInfo = { tunnelId: 5, hostName: "lns" };
 * console.log(info.hostName); // lns
 * ```
 */
export interface PeerTunnelInfo {
  /** Assigned Tunnel ID (v2) / Assigned Control Connection ID (v3). */
  tunnelId?: number;
  /** Host Name. */
  hostName?: string;
  /** Vendor Name. */
  vendorName?: string;
  /** L2TPv3 Router ID. */
  routerId?: number;
  /** Receive Window Size. */
  receiveWindow?: number;
  /** L2TPv2 Protocol Version. */
  protocolVersion?: { version: number; revision: number };
  /** L2TPv2 Framing Capabilities. */
  framingCaps?: { sync: boolean; async: boolean };
  /** L2TPv2 Challenge. */
  challenge?: Uint8Array;
  /** L2TPv2 Challenge Response. */
  challengeResponse?: Uint8Array;
  /** Tie Breaker. */
  tieBreaker?: bigint;
  /** L2TPv3 Control Message Authentication Nonce. */
  nonce?: Uint8Array;
  /** L2TPv3 Pseudowire Capabilities List. */
  pseudowires?: number[];
  /** Result Code (StopCCN). */
  result?: ResultCodeValue;
}

/**
 * Read the tunnel-level AVPs of a message from the peer.
 *
 * @param msg The decoded message.
 * @param version The connection's version.
 * @returns The values present.
 *
 * @example Usage
 * ```ts
 * import { buildSccrq, readTunnelAvps } from "./builders.ts";
 * import { decodeControl, encodeControl } from "./message.ts";
 * const sccrq = buildSccrq({ version: 3, hostName: "pe1", receiveWindow: 16, routerId: 7 }, 9, {});
 * const datagram = encodeControl({ version: 3, tunnelId: 0, ns: 0, nr: 0, ...sccrq });
 * const peer = readTunnelAvps(decodeControl(datagram), 3);
 * console.log(peer.tunnelId, peer.routerId); // 9 7
 * ```
 */
export function readTunnelAvps(msg: ControlMessage, version: L2tpVersion): PeerTunnelInfo {
  const info: PeerTunnelInfo = {};
  const set = <K extends keyof PeerTunnelInfo>(k: K, v: PeerTunnelInfo[K] | undefined): void => {
    if (v !== undefined) info[k] = v;
  };
  set(
    "tunnelId",
    version === 2
      ? getAvp(msg, AvpType.AssignedTunnelId)
      : getAvp(msg, AvpType.AssignedControlConnectionId),
  );
  set("hostName", getAvp(msg, AvpType.HostName));
  set("vendorName", getAvp(msg, AvpType.VendorName));
  set("receiveWindow", getAvp(msg, AvpType.ReceiveWindowSize));
  set("tieBreaker", getAvp(msg, AvpType.TieBreaker));
  set("result", getAvp(msg, AvpType.ResultCode));
  if (version === 2) {
    set("protocolVersion", getAvp(msg, AvpType.ProtocolVersion));
    set("framingCaps", getAvp(msg, AvpType.FramingCapabilities));
    set("challenge", getAvp(msg, AvpType.Challenge));
    set("challengeResponse", getAvp(msg, AvpType.ChallengeResponse));
  } else {
    set("routerId", getAvp(msg, AvpType.RouterId));
    set("nonce", getAvp(msg, AvpType.ControlMessageAuthNonce));
    set("pseudowires", getAvp(msg, AvpType.PseudowireCapabilities));
  }
  return info;
}

/**
 * What we say about a session in ICRQ, ICRP, ICCN, OCRQ, OCRP, OCCN.
 *
 * @example Usage
 * ```ts
 * import type { SessionAvps } from "./builders.ts";
 * const p: SessionAvps = { localSessionId: 10, peerSessionId: 0, serial: 1, pseudowireType: 5 };
 * console.log(p.localSessionId); // 10
 * ```
 */
export interface SessionAvps {
  /** Our session ID. */
  localSessionId: number;
  /** The peer's session ID (0 while unknown). */
  peerSessionId: number;
  /** Call Serial Number (v2) / Serial Number (v3): ICRQ and OCRQ. */
  serial?: number;
  /** L2TPv3 Pseudowire Type: ICRQ and OCRQ. */
  pseudowireType?: number;
  /** L2TPv3 Remote End ID: ICRQ and OCRQ. */
  remoteEndId?: Uint8Array;
  /** L2TPv3 Assigned Cookie: the cookie we require on receipt (0, 4 or 8 bytes). */
  cookie?: Uint8Array;
  /** L2TPv3 L2-Specific Sublayer type we require on receipt. */
  l2spec?: number;
  /** L2TPv3 Data Sequencing level we require on receipt (sent when non-zero). */
  dataSequencing?: number;
  /** L2TPv2 Sequencing Required (ICCN, OCCN). */
  sequencingRequired?: boolean;
  /** L2TPv3 Circuit Status. */
  circuit?: CircuitStatusValue;
  /** L2TPv3 Session Tie Breaker: ICRQ and OCRQ. */
  tieBreaker?: bigint;
  /** Connect speed in bits per second (v2 ICCN, OCCN; default 100 Mbit/s). */
  connectSpeed?: number;
}

const CALL_TYPES: ReadonlySet<number> = new Set([
  MessageType.ICRQ,
  MessageType.ICRP,
  MessageType.ICCN,
  MessageType.OCRQ,
  MessageType.OCRP,
  MessageType.OCCN,
]);

const DEFAULT_SPEED = 100_000_000;

/**
 * A call establishment message: ICRQ, ICRP, ICCN (RFC 2661 §6.6-6.8, RFC 3931 §6.6-6.8) or
 * OCRQ, OCRP, OCCN (RFC 2661 §6.9-6.11, RFC 3931 §6.9-6.11).
 *
 * @param type The message type.
 * @param version Protocol version.
 * @param p The session's values.
 * @param hide Hide the ID, serial, cookie and Remote End ID AVPs.
 * @returns The message for the transport (send it with the peer's session ID for v2).
 * @throws {TypeError} If `type` is not a call establishment message.
 *
 * @example Usage
 * ```ts
 * import { buildCallMessage } from "./builders.ts";
 * import { MessageType } from "./constants.ts";
 * const m = buildCallMessage(MessageType.ICRQ, 2, { localSessionId: 5, peerSessionId: 0, serial: 1 });
 * console.log(m.avps?.length); // 2
 * ```
 */
export function buildCallMessage(
  type: MessageTypeCode,
  version: L2tpVersion,
  p: SessionAvps,
  hide = false,
): TransportMessage {
  if (!CALL_TYPES.has(type)) {
    throw new TypeError(`Cannot build call message: type ${type} is not ICRQ..OCCN`);
  }
  const request = type === MessageType.ICRQ || type === MessageType.OCRQ;
  const reply = type === MessageType.ICRP || type === MessageType.OCRP;
  const connected = type === MessageType.ICCN || type === MessageType.OCCN;
  const avps: AvpInput[] = [];
  if (version === 2) {
    if (!connected) avps.push({ type: AvpType.AssignedSessionId, value: p.localSessionId });
    if (request) avps.push({ type: AvpType.CallSerialNumber, value: p.serial ?? 0 });
    if (type === MessageType.OCRQ) {
      avps.push(
        { type: AvpType.MinimumBps, value: 0 },
        { type: AvpType.MaximumBps, value: p.connectSpeed ?? DEFAULT_SPEED },
        { type: AvpType.BearerType, value: { analog: false, digital: true } },
        { type: AvpType.FramingType, value: { sync: true, async: false } },
        { type: AvpType.CalledNumber, value: "" },
      );
    }
    if (connected) {
      avps.push(
        { type: AvpType.TxConnectSpeed, value: p.connectSpeed ?? DEFAULT_SPEED },
        { type: AvpType.FramingType, value: { sync: true, async: false } },
      );
      if (p.sequencingRequired) avps.push({ type: AvpType.SequencingRequired, value: null });
    }
    return { type, avps: hideWhere(avps, hide) };
  }
  avps.push(
    { type: AvpType.LocalSessionId, value: p.localSessionId },
    { type: AvpType.RemoteSessionId, value: request ? 0 : p.peerSessionId },
  );
  if (request) {
    avps.push({ type: AvpType.CallSerialNumber, value: p.serial ?? 0 });
    avps.push({
      type: AvpType.PseudowireType,
      value: p.pseudowireType ?? PseudowireTypeCode.Ethernet,
    });
    if (p.remoteEndId !== undefined) avps.push({ type: AvpType.RemoteEndId, value: p.remoteEndId });
    if (p.tieBreaker !== undefined) avps.push({ type: AvpType.TieBreaker, value: p.tieBreaker });
  }
  if ((request || reply) && p.circuit) avps.push({ type: AvpType.CircuitStatus, value: p.circuit });
  if ((request || reply) && p.cookie !== undefined && p.cookie.length > 0) {
    avps.push({ type: AvpType.AssignedCookie, value: p.cookie });
  }
  if (p.l2spec !== undefined) avps.push({ type: AvpType.L2SpecificSublayer, value: p.l2spec });
  if (p.dataSequencing) avps.push({ type: AvpType.DataSequencing, value: p.dataSequencing });
  return { type, avps: hideWhere(avps, hide) };
}

/**
 * Call-Disconnect-Notify (RFC 2661 §6.12, RFC 3931 §6.12).
 *
 * @param version Protocol version.
 * @param localSessionId Our session ID (0 if none was assigned).
 * @param peerSessionId The peer's session ID (0 if unknown).
 * @param result Result Code (and Error Code, Error Message).
 * @param hide Hide the ID AVPs.
 * @returns The message (send it with the peer's session ID for v2).
 *
 * @example Usage
 * ```ts
 * import { buildCdn } from "./builders.ts";
 * import { CdnResult } from "./constants.ts";
 * console.log(buildCdn(3, 10, 20, { resultCode: CdnResult.Administrative }).type); // 14
 * ```
 */
export function buildCdn(
  version: L2tpVersion,
  localSessionId: number,
  peerSessionId: number,
  result: ResultCodeValue,
  hide = false,
): TransportMessage {
  const avps: AvpInput[] = [{ type: AvpType.ResultCode, value: result }];
  if (version === 2) {
    avps.push({ type: AvpType.AssignedSessionId, value: localSessionId });
  } else {
    avps.push(
      { type: AvpType.LocalSessionId, value: localSessionId },
      { type: AvpType.RemoteSessionId, value: peerSessionId },
    );
  }
  return { type: MessageType.CDN, avps: hideWhere(avps, hide) };
}

/**
 * L2TPv3 Set-Link-Info carrying a Circuit Status change (RFC 3931 §6.14, §5.4.5).
 *
 * @param localSessionId Our session ID.
 * @param peerSessionId The peer's session ID.
 * @param circuit The new circuit status.
 * @param hide Hide the ID AVPs.
 * @returns The message.
 *
 * @example Usage
 * ```ts
 * import { buildSli } from "./builders.ts";
 * console.log(buildSli(10, 20, { active: false, new: false }).type); // 16
 * ```
 */
export function buildSli(
  localSessionId: number,
  peerSessionId: number,
  circuit: CircuitStatusValue,
  hide = false,
): TransportMessage {
  const avps: AvpInput[] = [
    { type: AvpType.LocalSessionId, value: localSessionId },
    { type: AvpType.RemoteSessionId, value: peerSessionId },
    { type: AvpType.CircuitStatus, value: circuit },
  ];
  return { type: MessageType.SLI, avps: hideWhere(avps, hide) };
}

/**
 * What the peer said about a session.
 *
 * @example Usage
 * ```ts
 * import type { PeerSessionInfo } from "./builders.ts";
 * const info: PeerSessionInfo = { ourSessionId: 0, peerSessionId: 9, sequencingRequired: false };
 * console.log(info.peerSessionId); // 9
 * ```
 */
export interface PeerSessionInfo {
  /** The session ID the message is addressed to (ours): header (v2) or Remote Session ID (v3). */
  ourSessionId: number;
  /** The peer's session ID: Assigned Session ID (v2) or Local Session ID (v3). */
  peerSessionId?: number;
  /** Call Serial Number / Serial Number. */
  serial?: number;
  /** L2TPv3 Pseudowire Type. */
  pseudowireType?: number;
  /** L2TPv3 Remote End ID. */
  remoteEndId?: Uint8Array;
  /** L2TPv3 Assigned Cookie: what we must send. */
  cookie?: Uint8Array;
  /** L2TPv3 L2-Specific Sublayer the peer requires. */
  l2spec?: number;
  /** L2TPv3 Data Sequencing level the peer requires. */
  dataSequencing?: number;
  /** L2TPv2 Sequencing Required present. */
  sequencingRequired: boolean;
  /** L2TPv3 Circuit Status. */
  circuit?: CircuitStatusValue;
  /** L2TPv3 Session Tie Breaker. */
  tieBreaker?: bigint;
  /** Result Code (CDN). */
  result?: ResultCodeValue;
}

/**
 * Read the session-level AVPs of a message from the peer.
 *
 * @param msg The decoded message.
 * @param version The connection's version.
 * @returns The values present.
 *
 * @example Usage
 * ```ts
 * import { buildCallMessage, readSessionAvps } from "./builders.ts";
 * import { MessageType } from "./constants.ts";
 * import { decodeControl, encodeControl } from "./message.ts";
 * const icrq = buildCallMessage(MessageType.ICRQ, 2, {
 *   localSessionId: 9, peerSessionId: 0, serial: 1,
 * });
 * const datagram = encodeControl({ version: 2, tunnelId: 5, ns: 1, nr: 1, ...icrq });
 * const s = readSessionAvps(decodeControl(datagram), 2);
 * console.log(s.ourSessionId, s.peerSessionId); // 0 9
 * ```
 */
export function readSessionAvps(msg: ControlMessage, version: L2tpVersion): PeerSessionInfo {
  const info: PeerSessionInfo = {
    ourSessionId: version === 2 ? msg.sessionId : getAvp(msg, AvpType.RemoteSessionId) ?? 0,
    sequencingRequired: version === 2 && hasAvp(msg, AvpType.SequencingRequired),
  };
  const set = <K extends keyof PeerSessionInfo>(k: K, v: PeerSessionInfo[K] | undefined): void => {
    if (v !== undefined) info[k] = v;
  };
  set(
    "peerSessionId",
    version === 2 ? getAvp(msg, AvpType.AssignedSessionId) : getAvp(msg, AvpType.LocalSessionId),
  );
  set("serial", getAvp(msg, AvpType.CallSerialNumber));
  set("result", getAvp(msg, AvpType.ResultCode));
  if (version === 3) {
    set("pseudowireType", getAvp(msg, AvpType.PseudowireType));
    set("remoteEndId", getAvp(msg, AvpType.RemoteEndId));
    set("cookie", getAvp(msg, AvpType.AssignedCookie));
    set("l2spec", getAvp(msg, AvpType.L2SpecificSublayer));
    set("dataSequencing", getAvp(msg, AvpType.DataSequencing));
    set("circuit", getAvp(msg, AvpType.CircuitStatus));
    set("tieBreaker", getAvp(msg, AvpType.TieBreaker));
  }
  return info;
}
