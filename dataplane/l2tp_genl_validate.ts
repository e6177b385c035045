/**
 * Checks of the l2tp family's requests before anything is sent to the kernel: tunnel and session
 * specs ({@linkcode validateTunnelSpec}, {@linkcode validateSessionSpec}) and the IDs and integers
 * of the other requests, each failure a "Cannot OP: ..." error. Used by the request builders of
 * `l2tp_genl.ts`, which re-exports the two validators.
 *
 * @example Usage
 * ```ts
 * import { validateSessionSpec } from "./l2tp_genl_validate.ts";
 * try {
 *   validateSessionSpec({ tunnelId: 1, sessionId: 2, peerSessionId: 3, pseudowire: "eth" }, 2);
 * } catch (e) {
 *   console.log((e as Error).message);
 *   // Cannot create session 1/2: L2TPv2 carries only PPP pseudowires
 * }
 * ```
 *
 * @module
 */

import type { Endpoint, L2tpVersion, SessionSpec, TunnelSpec } from "./dataplane.ts";
import { ipFamily, isIP, parseIP, parseIPv4, splitZone } from "./ffi/sockaddr.ts";

const IFNAMSIZ = 16;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

/** Largest ID for a protocol version. */
function idMax(version: L2tpVersion | undefined): number {
  return version === 2 ? U16_MAX : U32_MAX;
}

function isInt(v: unknown, min: number, max: number): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= min && v <= max;
}

function checkId(what: string, op: string, v: unknown, version: L2tpVersion | undefined): void {
  const max = idMax(version);
  if (!isInt(v, 1, max)) {
    const bits = version === 2 ? "16-bit (1..65535) for L2TPv2" : "32-bit (1..4294967295)";
    throw new RangeError(`Cannot ${op}: ${what} ${String(v)} is not a non-zero ${bits} ID`);
  }
}

function checkEndpoint(op: string, what: string, e: Endpoint): Uint8Array {
  const bytes = typeof e.address === "string" ? ipBytes(e.address) : undefined;
  if (bytes === undefined) {
    throw new TypeError(
      `Cannot ${op}: ${what} address "${String(e.address)}" is not an IP address`,
    );
  }
  if (!isInt(e.port, 0, U16_MAX)) {
    throw new RangeError(`Cannot ${op}: ${what} port ${String(e.port)} is not in 0..65535`);
  }
  return bytes;
}

function tunnelOp(spec: { tunnelId: unknown }): string {
  return `create tunnel ${String(spec.tunnelId)}`;
}

function sessionOp(spec: { tunnelId: unknown; sessionId: unknown }): string {
  return `create session ${String(spec.tunnelId)}/${String(spec.sessionId)}`;
}

/**
 * Check a tunnel spec before anything is sent to the kernel.
 *
 * Rules: version 2 or 3; encap "udp" or "ip", and "ip" needs L2TPv3; IDs non-zero, 16-bit for
 * v2 and 32-bit for v3; either a socket `fd` (managed) or both `local` and `peer` of one address
 * family (unmanaged); ports 0..65535; debug a u32.
 *
 * @throws {RangeError | TypeError | Error} "Cannot create tunnel N: ...".
 * @example Usage
 * ```ts
 * import { validateTunnelSpec } from "./l2tp_genl_validate.ts";
 * validateTunnelSpec({
 *   tunnelId: 1, peerTunnelId: 2, version: 3, encap: "ip",
 *   local: { address: "10.0.0.1", port: 0 }, peer: { address: "10.0.0.2", port: 0 },
 * });
 * ```
 */
export function validateTunnelSpec(spec: TunnelSpec): void {
  checkTunnelSpec(spec);
}

/**
 * {@linkcode validateTunnelSpec}, returning the parsed addresses of an unmanaged tunnel.
 *
 * @param spec The tunnel.
 * @returns The local and peer address bytes (4 or 16 each) of an unmanaged tunnel; `undefined`
 *   for a managed one (`fd` given).
 * @throws {RangeError | TypeError | Error} "Cannot create tunnel N: ...".
 * @example Usage
 * ```ts
 * import { checkTunnelSpec } from "./l2tp_genl_validate.ts";
 * const a = checkTunnelSpec({
 *   tunnelId: 1, peerTunnelId: 2, version: 3, encap: "udp",
 *   local: { address: "2001:db8::1", port: 1701 }, peer: { address: "2001:db8::2", port: 1701 },
 * });
 * console.log(a?.local.length); // 16
 * ```
 */
export function checkTunnelSpec(
  spec: TunnelSpec,
): { local: Uint8Array; peer: Uint8Array } | undefined {
  const op = tunnelOp(spec);
  if (spec.version !== 2 && spec.version !== 3) {
    throw new RangeError(`Cannot ${op}: version ${String(spec.version)} is not 2 or 3`);
  }
  if (spec.encap !== "udp" && spec.encap !== "ip") {
    throw new RangeError(`Cannot ${op}: encapsulation "${String(spec.encap)}" is not udp or ip`);
  }
  if (spec.encap === "ip" && spec.version !== 3) {
    throw new Error(`Cannot ${op}: IP encapsulation needs L2TPv3 (L2TPv2 runs only over UDP)`);
  }
  checkId("tunnel ID", op, spec.tunnelId, spec.version);
  checkId("peer tunnel ID", op, spec.peerTunnelId, spec.version);
  checkOptionalInt(op, "debug mask", spec.debug, 0, U32_MAX);
  if (spec.fd !== undefined) {
    checkOptionalInt(op, "socket fd", spec.fd, 0, 0x7fffffff);
    return undefined;
  }
  if (spec.local === undefined || spec.peer === undefined) {
    throw new Error(
      `Cannot ${op}: give either a tunnel socket fd (managed) or both local and peer endpoints (unmanaged)`,
    );
  }
  const local = checkEndpoint(op, "local", spec.local);
  const peer = checkEndpoint(op, "peer", spec.peer);
  if (local.length !== peer.length) {
    throw new Error(
      `Cannot ${op}: local ${spec.local.address} and peer ${spec.peer.address} are of different address families`,
    );
  }
  return { local, peer };
}

function checkCookie(op: string, what: string, c: Uint8Array | undefined): void {
  if (c === undefined) return;
  if (!(c instanceof Uint8Array) || ![0, 4, 8].includes(c.length)) {
    throw new RangeError(
      `Cannot ${op}: ${what} must be 0, 4 or 8 bytes, not ${
        c instanceof Uint8Array ? c.length : typeof c
      }`,
    );
  }
}

/**
 * Check a session spec before anything is sent to the kernel.
 *
 * Rules: IDs non-zero, 16-bit for v2 and 32-bit for v3 (32-bit when `version` is unknown);
 * pseudowire "eth" or "ppp", and L2TPv2 carries only PPP; cookies 0, 4 or 8 bytes and L2TPv3
 * only; L2-Specific Sublayer length 0 or 4 and consistent with its type; interface name 1..15
 * bytes; MTU 68..65535; reorder timeout and debug mask non-negative integers.
 *
 * @param spec The session.
 * @param version The tunnel's protocol version, when known.
 * @throws {RangeError | TypeError | Error} "Cannot create session T/S: ...".
 * @example Usage
 * ```ts
 * import { validateSessionSpec } from "./l2tp_genl_validate.ts";
 * validateSessionSpec({ tunnelId: 1, sessionId: 2, peerSessionId: 3, pseudowire: "eth" }, 3);
 * ```
 */
export function validateSessionSpec(spec: SessionSpec, version?: L2tpVersion): void {
  const op = sessionOp(spec);
  checkId("tunnel ID", op, spec.tunnelId, version);
  checkId("session ID", op, spec.sessionId, version);
  checkId("peer session ID", op, spec.peerSessionId, version);
  if (spec.pseudowire !== "eth" && spec.pseudowire !== "ppp") {
    throw new RangeError(`Cannot ${op}: pseudowire "${String(spec.pseudowire)}" is not eth or ppp`);
  }
  if (version === 2 && spec.pseudowire !== "ppp") {
    throw new Error(`Cannot ${op}: L2TPv2 carries only PPP pseudowires`);
  }
  checkCookie(op, "cookie", spec.cookie);
  checkCookie(op, "peer cookie", spec.peerCookie);
  if (version === 2 && ((spec.cookie?.length ?? 0) > 0 || (spec.peerCookie?.length ?? 0) > 0)) {
    throw new Error(`Cannot ${op}: cookies are an L2TPv3 feature`);
  }
  if (
    spec.l2specType !== undefined && spec.l2specType !== "none" && spec.l2specType !== "default"
  ) {
    throw new RangeError(
      `Cannot ${op}: L2-Specific Sublayer type "${String(spec.l2specType)}" is not none or default`,
    );
  }
  if (spec.l2specLen !== undefined && spec.l2specLen !== 0 && spec.l2specLen !== 4) {
    throw new RangeError(
      `Cannot ${op}: L2-Specific Sublayer length ${String(spec.l2specLen)} is not 0 or 4`,
    );
  }
  if (spec.l2specType !== undefined && spec.l2specLen !== undefined) {
    const want = spec.l2specType === "none" ? 0 : 4;
    if (spec.l2specLen !== want) {
      throw new RangeError(
        `Cannot ${op}: L2-Specific Sublayer type ${spec.l2specType} has length ${want}, not ${spec.l2specLen}`,
      );
    }
  }
  if (spec.ifname !== undefined) {
    const n = typeof spec.ifname === "string" ? new TextEncoder().encode(spec.ifname).length : 0;
    if (n < 1 || n >= IFNAMSIZ || /[\s/:\0]/.test(spec.ifname)) {
      throw new RangeError(
        `Cannot ${op}: interface name "${
          String(spec.ifname)
        }" must be 1 to 15 bytes without whitespace, '/' or ':'`,
      );
    }
  }
  checkOptionalInt(op, "MTU", spec.mtu, 68, U16_MAX);
  checkOptionalInt(op, "reorder timeout (ms)", spec.reorderTimeoutMs, 0, Number.MAX_SAFE_INTEGER);
  checkOptionalInt(op, "debug mask", spec.debug, 0, U32_MAX);
}

/**
 * Check an optional integer of a request: `undefined`, or an integer in `min..max`.
 *
 * @param op What is being done, for the message ("modify tunnel 42").
 * @param what The value's name ("debug mask").
 * @param v The value.
 * @param min Smallest allowed.
 * @param max Largest allowed.
 * @throws {RangeError} "Cannot OP: WHAT V is not an integer in MIN..MAX".
 * @example Usage
 * ```ts
 * import { checkOptionalInt } from "./l2tp_genl_validate.ts";
 * checkOptionalInt("modify tunnel 42", "debug mask", undefined, 0, 0xffffffff); // fine
 * try {
 *   checkOptionalInt("modify tunnel 42", "debug mask", -1, 0, 0xffffffff);
 * } catch (e) {
 *   console.log((e as Error).message);
 *   // Cannot modify tunnel 42: debug mask -1 is not an integer in 0..4294967295
 * }
 * ```
 */
export function checkOptionalInt(
  op: string,
  what: string,
  v: unknown,
  min: number,
  max: number,
): void {
  if (v !== undefined && !isInt(v, min, max)) {
    throw new RangeError(`Cannot ${op}: ${what} ${String(v)} is not an integer in ${min}..${max}`);
  }
}

/**
 * Check the tunnel ID of a request other than create: an integer in 1..4294967295.
 *
 * @param op What is being done, for the message ("delete tunnel 0").
 * @param tunnelId The ID.
 * @throws {RangeError} "Cannot OP: tunnel ID N is not in 1..4294967295".
 * @example Usage
 * ```ts
 * import { checkTunnelId } from "./l2tp_genl_validate.ts";
 * try {
 *   checkTunnelId("delete tunnel 0", 0);
 * } catch (e) {
 *   console.log((e as Error).message);
 *   // Cannot delete tunnel 0: tunnel ID 0 is not in 1..4294967295
 * }
 * ```
 */
export function checkTunnelId(op: string, tunnelId: number): void {
  if (!isInt(tunnelId, 1, U32_MAX)) {
    throw new RangeError(`Cannot ${op}: tunnel ID ${String(tunnelId)} is not in 1..4294967295`);
  }
}

/**
 * Check the tunnel and session IDs of a session request other than create: integers in
 * 1..4294967295.
 *
 * @param op What is being done, for the message ("delete session 1/0").
 * @param tunnelId The tunnel ID.
 * @param sessionId The session ID.
 * @throws {RangeError} "Cannot OP: tunnel ID N ..." or "Cannot OP: session ID N ...".
 * @example Usage
 * ```ts
 * import { checkSessionIds } from "./l2tp_genl_validate.ts";
 * try {
 *   checkSessionIds("delete session 1/0", 1, 0);
 * } catch (e) {
 *   console.log((e as Error).message);
 *   // Cannot delete session 1/0: session ID 0 is not in 1..4294967295
 * }
 * ```
 */
export function checkSessionIds(op: string, tunnelId: number, sessionId: number): void {
  checkTunnelId(op, tunnelId);
  if (!isInt(sessionId, 1, U32_MAX)) {
    throw new RangeError(`Cannot ${op}: session ID ${String(sessionId)} is not in 1..4294967295`);
  }
}

/** Recently parsed addresses: a host's tunnels mostly share their local (and peer) address. */
const ipCache = new Map<string, Uint8Array>();
const IP_CACHE_SIZE = 64;

/**
 * Address bytes of IP text (a "%zone" suffix ignored), or undefined when it is not an IP. The
 * result may be shared: callers only read it.
 */
function ipBytes(text: string): Uint8Array | undefined {
  const cached = ipCache.get(text);
  if (cached !== undefined) return cached;
  const bytes = parseIpBytes(text);
  if (bytes !== undefined) {
    if (ipCache.size >= IP_CACHE_SIZE) ipCache.clear();
    ipCache.set(text, bytes);
  }
  return bytes;
}

function parseIpBytes(text: string): Uint8Array | undefined {
  const { address } = splitZone(text);
  if (ipFamily(address) === 4) {
    // The common case, parsed once (isIP then parseIP would parse it twice).
    try {
      return parseIPv4(address);
    } catch {
      return undefined;
    }
  }
  return isIP(address) ? parseIP(address) : undefined;
}
