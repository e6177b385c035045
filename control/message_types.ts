/**
 * The shapes of a decoded control message: the header fields (RFC 2661 §3.1, RFC 3931 §3.2.1)
 * and the message (its type and AVPs). They are defined here, apart from the codecs, so that
 * the header codec (control/header.ts), the message codec (control/message.ts) and the codec's
 * errors (control/errors.ts) can all name them without importing one another; header.ts and
 * message.ts re-export them.
 *
 * @example Usage
 * ```ts
 * import type { ControlHeader, ControlMessage } from "./message_types.ts";
 * const h: ControlHeader = { version: 2, tunnelId: 7, sessionId: 0, ns: 0, nr: 0, length: 12 };
 * const zlb: ControlMessage = { ...h, type: null, avps: [] };
 * console.log(zlb.tunnelId, zlb.type); // 7 null
 * ```
 *
 * @module
 */

import type { Avp } from "./avp.ts";
import type { MessageTypeCode } from "./constants.ts";
import type { L2tpVersion } from "./types.ts";

/**
 * The fields of a control message header.
 *
 * @example Usage
 * ```ts
 * import type { ControlHeader } from "./message_types.ts";
 * const h: ControlHeader = { version: 2, tunnelId: 7, sessionId: 0, ns: 0, nr: 0, length: 12 };
 * console.log(h.length); // 12
 * ```
 */
export interface ControlHeader {
  /** Ver field: 2 or 3. */
  version: L2tpVersion;
  /** L2TPv2 Tunnel ID (16-bit) or L2TPv3 Control Connection ID (32-bit) of the recipient. */
  tunnelId: number;
  /** L2TPv2 Session ID (16-bit); always 0 in L2TPv3, which has no such header field. */
  sessionId: number;
  /** Sequence number of this message. */
  ns: number;
  /** Sequence number expected next from the peer. */
  nr: number;
  /** Length field: the whole message from the first header byte. */
  length: number;
}

/**
 * A decoded control message: the header fields, the message type, and the AVPs that follow
 * the Message Type AVP, in order.
 *
 * @example Usage
 * ```ts
 * import type { ControlMessage } from "./message_types.ts";
 * import { decodeControl, encodeControl, getAvp } from "./message.ts";
 * import { AvpType, MessageType } from "./constants.ts";
 * const datagram = encodeControl({ version: 2, tunnelId: 0, ns: 0, nr: 0, type: MessageType.SCCRQ,
 *   avps: [{ type: AvpType.HostName, value: "lac" }] });
 * const msg: ControlMessage = decodeControl(datagram);
 * if (msg.type === MessageType.SCCRQ) console.log(getAvp(msg, AvpType.HostName)); // lac
 * ```
 */
export interface ControlMessage extends ControlHeader {
  /** The Message Type, or `null` for a Zero-Length Body (ZLB) acknowledgement. */
  type: MessageTypeCode | null;
  /** The AVPs after the Message Type AVP. */
  avps: Avp[];
}
