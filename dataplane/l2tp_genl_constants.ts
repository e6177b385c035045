/**
 * Numbers of the Linux "l2tp" generic netlink family (include/uapi/linux/l2tp.h): its name and
 * version, commands, attributes (top level and nested statistics), pseudowire, encapsulation and
 * L2-Specific Sublayer types. Re-exported by `l2tp_genl.ts`.
 *
 * @example Usage
 * ```ts
 * import { L2TP_ATTR, L2TP_CMD, L2TP_GENL_NAME } from "./l2tp_genl_constants.ts";
 * console.log(L2TP_GENL_NAME, L2TP_CMD.TUNNEL_CREATE, L2TP_ATTR.CONN_ID); // l2tp 1 9
 * ```
 *
 * @module
 */

/**
 * The family name to resolve.
 *
 * @example Usage
 * ```ts
 * import { L2TP_GENL_NAME } from "./l2tp_genl_constants.ts";
 * console.log(L2TP_GENL_NAME); // "l2tp"
 * ```
 */
export const L2TP_GENL_NAME = "l2tp";

/**
 * The family interface version we speak (the genl header's `version`).
 *
 * @example Usage
 * ```ts
 * import { L2TP_GENL_VERSION } from "./l2tp_genl_constants.ts";
 * console.log(L2TP_GENL_VERSION); // 1
 * ```
 */
export const L2TP_GENL_VERSION = 1;

/**
 * Commands (enum in l2tp.h).
 *
 * @example Usage
 * ```ts
 * import { L2TP_CMD } from "./l2tp_genl_constants.ts";
 * console.log(L2TP_CMD.SESSION_GET); // 8
 * ```
 */
export const L2TP_CMD = {
  NOOP: 0,
  TUNNEL_CREATE: 1,
  TUNNEL_DELETE: 2,
  TUNNEL_MODIFY: 3,
  TUNNEL_GET: 4,
  SESSION_CREATE: 5,
  SESSION_DELETE: 6,
  SESSION_MODIFY: 7,
  SESSION_GET: 8,
} as const;

/**
 * Top-level attributes (enum in l2tp.h), with their wire types.
 *
 * @example Usage
 * ```ts
 * import { L2TP_ATTR } from "./l2tp_genl_constants.ts";
 * console.log(L2TP_ATTR.PEER_CONN_ID, L2TP_ATTR.STATS); // 10 30
 * ```
 */
export const L2TP_ATTR = {
  NONE: 0,
  /** u16, L2TP_PWTYPE_* */
  PW_TYPE: 1,
  /** u16, L2TP_ENCAPTYPE_* */
  ENCAP_TYPE: 2,
  /** u16, obsolete: never sent. */
  OFFSET: 3,
  /** u16, unused. */
  DATA_SEQ: 4,
  /** u8, L2TP_L2SPECTYPE_* */
  L2SPEC_TYPE: 5,
  /** u8, ignored by current kernels. */
  L2SPEC_LEN: 6,
  /** u8 */
  PROTO_VERSION: 7,
  /** string */
  IFNAME: 8,
  /** u32 */
  CONN_ID: 9,
  /** u32 */
  PEER_CONN_ID: 10,
  /** u32 */
  SESSION_ID: 11,
  /** u32 */
  PEER_SESSION_ID: 12,
  /** u8 in replies; on create its presence turns IPv4 UDP checksums on. */
  UDP_CSUM: 13,
  /** u16, unused. */
  VLAN_ID: 14,
  /** 0, 4 or 8 bytes */
  COOKIE: 15,
  /** 0, 4 or 8 bytes */
  PEER_COOKIE: 16,
  /** u32 */
  DEBUG: 17,
  /** u8 */
  RECV_SEQ: 18,
  /** u8 */
  SEND_SEQ: 19,
  /** u8 */
  LNS_MODE: 20,
  /** u8 */
  USING_IPSEC: 21,
  /** u64, milliseconds */
  RECV_TIMEOUT: 22,
  /** u32 (int) */
  FD: 23,
  /** struct in_addr (network order) */
  IP_SADDR: 24,
  /** struct in_addr (network order) */
  IP_DADDR: 25,
  /** u16 (host order) */
  UDP_SPORT: 26,
  /** u16 (host order) */
  UDP_DPORT: 27,
  /** u16 */
  MTU: 28,
  /** u16, unused. */
  MRU: 29,
  /** nested, L2TP_ATTR_STATS_* */
  STATS: 30,
  /** struct in6_addr */
  IP6_SADDR: 31,
  /** struct in6_addr */
  IP6_DADDR: 32,
  /** flag */
  UDP_ZERO_CSUM6_TX: 33,
  /** flag */
  UDP_ZERO_CSUM6_RX: 34,
  /** padding for u64 alignment */
  PAD: 35,
} as const;

/**
 * Attributes nested in L2TP_ATTR_STATS (all u64).
 *
 * @example Usage
 * ```ts
 * import { L2TP_ATTR_STATS } from "./l2tp_genl_constants.ts";
 * console.log(L2TP_ATTR_STATS.RX_PACKETS); // 4
 * ```
 */
export const L2TP_ATTR_STATS = {
  NONE: 0,
  TX_PACKETS: 1,
  TX_BYTES: 2,
  TX_ERRORS: 3,
  RX_PACKETS: 4,
  RX_BYTES: 5,
  RX_SEQ_DISCARDS: 6,
  RX_OOS_PACKETS: 7,
  RX_ERRORS: 8,
  /** padding for u64 alignment */
  PAD: 9,
  RX_COOKIE_DISCARDS: 10,
  RX_INVALID: 11,
} as const;

/**
 * Pseudowire types (enum l2tp_pwtype).
 *
 * @example Usage
 * ```ts
 * import { L2TP_PWTYPE } from "./l2tp_genl_constants.ts";
 * console.log(L2TP_PWTYPE.ETH, L2TP_PWTYPE.PPP); // 5 7
 * ```
 */
export const L2TP_PWTYPE = {
  NONE: 0x0000,
  ETH_VLAN: 0x0004,
  ETH: 0x0005,
  PPP: 0x0007,
  PPP_AC: 0x0008,
  IP: 0x000b,
} as const;

/**
 * Encapsulations (enum l2tp_encap_type).
 *
 * @example Usage
 * ```ts
 * import { L2TP_ENCAPTYPE } from "./l2tp_genl_constants.ts";
 * console.log(L2TP_ENCAPTYPE.IP); // 1
 * ```
 */
export const L2TP_ENCAPTYPE = { UDP: 0, IP: 1 } as const;

/**
 * L2-Specific Sublayer types (enum l2tp_l2spec_type).
 *
 * @example Usage
 * ```ts
 * import { L2TP_L2SPECTYPE } from "./l2tp_genl_constants.ts";
 * console.log(L2TP_L2SPECTYPE.DEFAULT); // 1
 * ```
 */
export const L2TP_L2SPECTYPE = { NONE: 0, DEFAULT: 1 } as const;
