/**
 * Protocol numbers of L2TP control messages: header bits, message types, AVP attribute types,
 * result and error codes (RFC 2661, RFC 3931 and the IANA "Layer Two Tunneling Protocol 'L2TP'"
 * registry).
 *
 * @module
 */

/**
 * UDP port for L2TP (RFC 2661 §8.1, RFC 3931 §4.1.2.2).
 *
 * @example Usage
 * ```ts
 * import { L2TP_UDP_PORT } from "./constants.ts";
 * console.log(L2TP_UDP_PORT); // 1701
 * ```
 */
export const L2TP_UDP_PORT = 1701;

/**
 * IP protocol number of L2TPv3 over IP (RFC 3931 §4.1.1).
 *
 * @example Usage
 * ```ts
 * import { L2TP_IP_PROTOCOL } from "./constants.ts";
 * console.log(L2TP_IP_PROTOCOL); // 115
 * ```
 */
export const L2TP_IP_PROTOCOL = 115;

/**
 * Bits of the first 16-bit word of an L2TP header (RFC 2661 §3.1, RFC 3931 §3.2.1).
 *
 * @example Usage
 * ```ts
 * import { HeaderBits } from "./constants.ts";
 * const word = 0xc802;
 * console.log((word & HeaderBits.TYPE) !== 0, word & HeaderBits.VERSION_MASK); // true 2
 * ```
 */
export const HeaderBits = {
  /** T: 1 for control messages, 0 for data messages. */
  TYPE: 0x8000,
  /** L: the Length field is present. */
  LENGTH: 0x4000,
  /** S: the Ns and Nr fields are present. */
  SEQUENCE: 0x0800,
  /** O: the Offset Size field is present (L2TPv2 data messages only). */
  OFFSET: 0x0200,
  /** P: priority (L2TPv2 data messages only). */
  PRIORITY: 0x0100,
  /** Ver: the protocol version. */
  VERSION_MASK: 0x000f,
} as const;

/**
 * Control message types (RFC 2661 §3.2, RFC 3931 §3.1, RFC 4951 for FSQ/FSR).
 *
 * @example Usage
 * ```ts
 * import { MessageType } from "./constants.ts";
 * console.log(MessageType.SCCRQ, MessageType.ACK); // 1 20
 * ```
 */
export const MessageType = {
  /** Start-Control-Connection-Request. */
  SCCRQ: 1,
  /** Start-Control-Connection-Reply. */
  SCCRP: 2,
  /** Start-Control-Connection-Connected. */
  SCCCN: 3,
  /** Stop-Control-Connection-Notification. */
  StopCCN: 4,
  /** Hello (keepalive). */
  HELLO: 6,
  /** Outgoing-Call-Request. */
  OCRQ: 7,
  /** Outgoing-Call-Reply. */
  OCRP: 8,
  /** Outgoing-Call-Connected. */
  OCCN: 9,
  /** Incoming-Call-Request. */
  ICRQ: 10,
  /** Incoming-Call-Reply. */
  ICRP: 11,
  /** Incoming-Call-Connected. */
  ICCN: 12,
  /** Call-Disconnect-Notify. */
  CDN: 14,
  /** WAN-Error-Notify. */
  WEN: 15,
  /** Set-Link-Info. */
  SLI: 16,
  /** Explicit Acknowledgement (RFC 3931 §6.15). */
  ACK: 20,
  /** Failover Session Query (RFC 4951). */
  FSQ: 21,
  /** Failover Session Response (RFC 4951). */
  FSR: 22,
} as const;

/**
 * A control message type this codec knows.
 *
 * @example Usage
 * ```ts
 * import { MessageType, type MessageTypeCode } from "./constants.ts";
 * const t: MessageTypeCode = MessageType.ICRQ;
 * console.log(t); // 10
 * ```
 */
export type MessageTypeCode = typeof MessageType[keyof typeof MessageType];

const MESSAGE_TYPE_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(MessageType).map(([name, code]) => [code, name]),
);

/**
 * Whether `code` is a message type this codec knows.
 *
 * @param code A Message Type AVP value.
 * @returns `true` for the codes of {@linkcode MessageType}.
 *
 * @example Usage
 * ```ts
 * import { isMessageType } from "./constants.ts";
 * console.log(isMessageType(1), isMessageType(5)); // true false
 * ```
 */
export function isMessageType(code: number): code is MessageTypeCode {
  return MESSAGE_TYPE_NAMES.has(code);
}

/**
 * The short name of a message type ("SCCRQ", "StopCCN", ...), or `"type N"` if unknown.
 *
 * @param code A Message Type value.
 * @returns The name, for logs.
 *
 * @example Usage
 * ```ts
 * import { messageTypeName } from "./constants.ts";
 * console.log(messageTypeName(14)); // "CDN"
 * ```
 */
export function messageTypeName(code: number): string {
  return MESSAGE_TYPE_NAMES.get(code) ?? `type ${code}`;
}

const SESSION_MESSAGES: ReadonlySet<number> = new Set([7, 8, 9, 10, 11, 12, 14, 15, 16]);

/**
 * Whether a message type belongs to a session (ICRQ, ICRP, ICCN, OCRQ, OCRP, OCCN, CDN, WEN,
 * SLI) rather than to the control connection.
 *
 * @param code A Message Type value.
 * @returns `true` for session messages.
 *
 * @example Usage
 * ```ts
 * import { isSessionMessage, MessageType } from "./constants.ts";
 * console.log(isSessionMessage(MessageType.ICRQ), isSessionMessage(MessageType.HELLO)); // true false
 * ```
 */
export function isSessionMessage(code: number): boolean {
  return SESSION_MESSAGES.has(code);
}

/**
 * AVP attribute types with IETF Vendor ID 0 (RFC 2661 §4.4, RFC 3931 §5.4, IANA registry).
 *
 * @example Usage
 * ```ts
 * import { AvpType } from "./constants.ts";
 * console.log(AvpType.HostName, AvpType.RouterId); // 7 60
 * ```
 */
export const AvpType = {
  /** Message Type (all messages; always first). */
  MessageType: 0,
  /** Result Code (StopCCN, CDN). */
  ResultCode: 1,
  /** Protocol Version (L2TPv2 SCCRQ, SCCRP). */
  ProtocolVersion: 2,
  /** Framing Capabilities (L2TPv2 SCCRQ, SCCRP). */
  FramingCapabilities: 3,
  /** Bearer Capabilities (L2TPv2 SCCRQ, SCCRP). */
  BearerCapabilities: 4,
  /** Tie Breaker; in L2TPv3 the Control Connection or Session Tie Breaker. */
  TieBreaker: 5,
  /** Firmware Revision. */
  FirmwareRevision: 6,
  /** Host Name. */
  HostName: 7,
  /** Vendor Name. */
  VendorName: 8,
  /** Assigned Tunnel ID (L2TPv2). */
  AssignedTunnelId: 9,
  /** Receive Window Size. */
  ReceiveWindowSize: 10,
  /** Challenge (L2TPv2 tunnel authentication). */
  Challenge: 11,
  /** Q.931 Cause Code (L2TPv2 CDN). */
  Q931CauseCode: 12,
  /** Challenge Response (L2TPv2 tunnel authentication). */
  ChallengeResponse: 13,
  /** Assigned Session ID (L2TPv2). */
  AssignedSessionId: 14,
  /** Call Serial Number (L2TPv3: Serial Number). */
  CallSerialNumber: 15,
  /** Minimum BPS. */
  MinimumBps: 16,
  /** Maximum BPS. */
  MaximumBps: 17,
  /** Bearer Type. */
  BearerType: 18,
  /** Framing Type. */
  FramingType: 19,
  /** Called Number. */
  CalledNumber: 21,
  /** Calling Number. */
  CallingNumber: 22,
  /** Sub-Address. */
  SubAddress: 23,
  /** (Tx) Connect Speed, 32-bit (L2TPv2). */
  TxConnectSpeed: 24,
  /** Physical Channel ID. */
  PhysicalChannelId: 25,
  /** Initial Received LCP CONFREQ. */
  InitialReceivedLcpConfreq: 26,
  /** Last Sent LCP CONFREQ. */
  LastSentLcpConfreq: 27,
  /** Last Received LCP CONFREQ. */
  LastReceivedLcpConfreq: 28,
  /** Proxy Authen Type. */
  ProxyAuthenType: 29,
  /** Proxy Authen Name. */
  ProxyAuthenName: 30,
  /** Proxy Authen Challenge. */
  ProxyAuthenChallenge: 31,
  /** Proxy Authen ID. */
  ProxyAuthenId: 32,
  /** Proxy Authen Response. */
  ProxyAuthenResponse: 33,
  /** Call Errors (L2TPv3: Circuit Errors). */
  CallErrors: 34,
  /** ACCM. */
  Accm: 35,
  /** Random Vector (used to hide AVPs). */
  RandomVector: 36,
  /** Private Group ID. */
  PrivateGroupId: 37,
  /** Rx Connect Speed, 32-bit (L2TPv2). */
  RxConnectSpeed: 38,
  /** Sequencing Required (empty value). */
  SequencingRequired: 39,
  /** Extended Vendor ID (RFC 3931 §5.1): a vendor AVP with a 32-bit vendor ID. */
  ExtendedVendorId: 58,
  /** Message Digest (RFC 3931 §5.4.1). */
  MessageDigest: 59,
  /** Router ID. */
  RouterId: 60,
  /** Assigned Control Connection ID. */
  AssignedControlConnectionId: 61,
  /** Pseudowire Capabilities List. */
  PseudowireCapabilities: 62,
  /** Local Session ID. */
  LocalSessionId: 63,
  /** Remote Session ID. */
  RemoteSessionId: 64,
  /** Assigned Cookie. */
  AssignedCookie: 65,
  /** Remote End ID. */
  RemoteEndId: 66,
  /** Pseudowire Type. */
  PseudowireType: 68,
  /** L2-Specific Sublayer. */
  L2SpecificSublayer: 69,
  /** Data Sequencing. */
  DataSequencing: 70,
  /** Circuit Status. */
  CircuitStatus: 71,
  /** Preferred Language. */
  PreferredLanguage: 72,
  /** Control Message Authentication Nonce. */
  ControlMessageAuthNonce: 73,
  /** Tx Connect Speed, 64-bit (L2TPv3). */
  TxConnectSpeedV3: 74,
  /** Rx Connect Speed, 64-bit (L2TPv3). */
  RxConnectSpeedV3: 75,
} as const;

/**
 * An attribute type (Vendor ID 0) with a typed value in this codec.
 *
 * @example Usage
 * ```ts
 * import { AvpType, type KnownAvpType } from "./constants.ts";
 * const t: KnownAvpType = AvpType.RouterId;
 * console.log(t); // 60
 * ```
 */
export type KnownAvpType = typeof AvpType[keyof typeof AvpType];

/**
 * Result codes of the StopCCN message (RFC 2661 §4.4.2, RFC 3931 §5.4.2).
 *
 * @example Usage
 * ```ts
 * import { StopCcnResult } from "./constants.ts";
 * console.log(StopCcnResult.GeneralError); // 2
 * ```
 */
export const StopCcnResult = {
  /** General request to clear the control connection. */
  GeneralRequest: 1,
  /** General error; the Error Code says which. */
  GeneralError: 2,
  /** The control connection already exists. */
  AlreadyExists: 3,
  /** The requester is not authorized to establish a control connection. */
  NotAuthorized: 4,
  /** The requester's protocol version is not supported; Error Code holds the highest one. */
  UnsupportedVersion: 5,
  /** The requester is being shut down. */
  ShuttingDown: 6,
  /** Finite state machine error or timeout. */
  FsmError: 7,
} as const;

/**
 * Result codes of the CDN message (RFC 2661 §4.4.2, RFC 3931 §5.4.2).
 *
 * @example Usage
 * ```ts
 * import { CdnResult } from "./constants.ts";
 * console.log(CdnResult.Administrative); // 3
 * ```
 */
export const CdnResult = {
  /** Loss of carrier or circuit disconnect. */
  LostCarrier: 1,
  /** Disconnected for the reason in the Error Code. */
  GeneralError: 2,
  /** Administrative reasons. */
  Administrative: 3,
  /** Facilities unavailable (temporary). */
  TemporaryUnavailable: 4,
  /** Facilities unavailable (permanent). */
  PermanentUnavailable: 5,
  /** Invalid destination (L2TPv2). */
  InvalidDestination: 6,
  /** No carrier detected (L2TPv2). */
  NoCarrier: 7,
  /** Busy signal (L2TPv2). */
  Busy: 8,
  /** No dial tone (L2TPv2). */
  NoDialTone: 9,
  /** Not established in the time allotted (L2TPv2). */
  Timeout: 10,
  /** No appropriate framing detected (L2TPv2). */
  NoFraming: 11,
  /** Losing session tie breaker (L2TPv3). */
  LostTieBreaker: 13,
  /** Unsupported pseudowire type (L2TPv3). */
  UnsupportedPseudowire: 14,
  /** Sequencing required without a valid L2-Specific Sublayer (L2TPv3). */
  SequencingWithoutSublayer: 15,
  /** Finite state machine error or timeout (L2TPv3). */
  FsmError: 16,
} as const;

/**
 * General error codes carried with Result Code 2 (RFC 2661 §4.4.2, RFC 3931 §5.4.2).
 *
 * @example Usage
 * ```ts
 * import { ErrorCode } from "./constants.ts";
 * console.log(ErrorCode.UnknownMandatoryAvp); // 8
 * ```
 */
export const ErrorCode = {
  /** No general error. */
  NoError: 0,
  /** No control connection exists yet for this pair of peers. */
  NoControlConnection: 1,
  /** Length is wrong. */
  BadLength: 2,
  /** A field value was out of range. */
  OutOfRange: 3,
  /** Insufficient resources. */
  NoResources: 4,
  /** Invalid session ID. */
  InvalidSessionId: 5,
  /** Generic vendor-specific error. */
  VendorError: 6,
  /** Try another peer. */
  TryAnother: 7,
  /** Shut down because of an unknown AVP with the M bit set. */
  UnknownMandatoryAvp: 8,
  /** Try another, directed (the Error Message lists addresses). */
  TryAnotherDirected: 9,
} as const;

/**
 * Proxy Authen Type values (RFC 2661 §4.4.5).
 *
 * @example Usage
 * ```ts
 * import { ProxyAuthenType } from "./constants.ts";
 * console.log(ProxyAuthenType.PppChap); // 2
 * ```
 */
export const ProxyAuthenType = {
  /** Textual username/password exchange. */
  Textual: 1,
  /** PPP CHAP. */
  PppChap: 2,
  /** PPP PAP. */
  PppPap: 3,
  /** No authentication. */
  None: 4,
  /** Microsoft CHAP version 1. */
  MsChapV1: 5,
} as const;

/**
 * Message Digest AVP digest types (RFC 3931 §5.4.1).
 *
 * @example Usage
 * ```ts
 * import { DigestType } from "./constants.ts";
 * console.log(DigestType.HmacSha1); // 1
 * ```
 */
export const DigestType = {
  /** HMAC-MD5, 16-byte digest. */
  HmacMd5: 0,
  /** HMAC-SHA-1, 20-byte digest. */
  HmacSha1: 1,
} as const;

/**
 * A Message Digest type code.
 *
 * @example Usage
 * ```ts
 * import { DigestType, type DigestTypeCode } from "./constants.ts";
 * const d: DigestTypeCode = DigestType.HmacSha1;
 * console.log(d); // 1
 * ```
 */
export type DigestTypeCode = typeof DigestType[keyof typeof DigestType];

/**
 * Pseudowire types (IANA "L2TPv3 Pseudowire Types").
 *
 * @example Usage
 * ```ts
 * import { PseudowireTypeCode } from "./constants.ts";
 * console.log(PseudowireTypeCode.Ethernet); // 5
 * ```
 */
export const PseudowireTypeCode = {
  /** Frame Relay DLCI. */
  FrameRelayDlci: 0x0001,
  /** ATM AAL5 SDU VCC transport. */
  AtmAal5: 0x0002,
  /** ATM cell transparent port mode. */
  AtmPort: 0x0003,
  /** Ethernet VLAN. */
  EthernetVlan: 0x0004,
  /** Ethernet. */
  Ethernet: 0x0005,
  /** HDLC. */
  Hdlc: 0x0006,
  /** PPP. */
  Ppp: 0x0007,
  /** ATM cell transport VCC mode. */
  AtmVcc: 0x0009,
  /** ATM cell transport VPC mode. */
  AtmVpc: 0x000a,
  /** IP transport. */
  Ip: 0x000b,
} as const;

/**
 * L2-Specific Sublayer types (RFC 3931 §5.4.4, IANA).
 *
 * @example Usage
 * ```ts
 * import { L2SpecificSublayerType } from "./constants.ts";
 * console.log(L2SpecificSublayerType.Default); // 1
 * ```
 */
export const L2SpecificSublayerType = {
  /** No sublayer. */
  None: 0,
  /** The Default L2-Specific Sublayer of RFC 3931 §4.6. */
  Default: 1,
  /** ATM-specific sublayer (RFC 4454). */
  Atm: 2,
} as const;

/**
 * Data Sequencing levels (RFC 3931 §5.4.4).
 *
 * @example Usage
 * ```ts
 * import { DataSequencingLevel } from "./constants.ts";
 * console.log(DataSequencingLevel.All); // 2
 * ```
 */
export const DataSequencingLevel = {
  /** No incoming data packets require sequencing. */
  None: 0,
  /** Only non-IP data packets require sequencing. */
  NonIp: 1,
  /** All incoming data packets require sequencing. */
  All: 2,
} as const;
