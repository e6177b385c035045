/**
 * Header parsing and writing: control headers (v2/v3, UDP/IP), L2TPv2 and L2TPv3 data headers,
 * the L2TPv3-over-IP zero session ID, and header validation errors.
 */

import assert from "node:assert/strict";
import { ParseError, type ParseErrorReason } from "../../control/errors.ts";
import {
  addV3IpControlPrefix,
  isV3IpControl,
  parseControlHeader,
  peekHeader,
  stripV3IpControlPrefix,
  type Transport,
  writeControlHeader,
} from "../../control/header.ts";
import { encodeControl } from "../../control/message.ts";
import { MessageType } from "../../control/constants.ts";

function assertParseError(fn: () => unknown, reason: ParseErrorReason, offset?: number): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ParseError, `expected ParseError, got ${e}`);
    assert.equal(e.reason, reason);
    if (offset !== undefined) assert.equal(e.offset, offset);
    return true;
  });
}

Deno.test("peekHeader: v2 control message gives IDs, Ns/Nr and the ZLB flag", () => {
  const hello = encodeControl({
    version: 2,
    tunnelId: 0xfffe,
    sessionId: 0x0102,
    ns: 0xffff,
    nr: 0x8000,
    type: MessageType.HELLO,
  });
  const p = peekHeader(hello);
  assert.deepEqual(p, {
    kind: "control",
    version: 2,
    tunnelId: 0xfffe,
    sessionId: 0x0102,
    ns: 0xffff,
    nr: 0x8000,
    length: 20,
    offset: 0,
    zlb: false,
  });
  const zlb = peekHeader(encodeControl({ version: 2, tunnelId: 1, ns: 2, nr: 3, type: null }));
  assert.equal(zlb.kind === "control" && zlb.zlb, true);
});

Deno.test("peekHeader: v3 control message reads the 32-bit Control Connection ID", () => {
  const msg = encodeControl({
    version: 3,
    tunnelId: 0xfedcba98,
    ns: 5,
    nr: 6,
    type: MessageType.ACK,
  });
  const p = peekHeader(msg);
  assert.equal(p.kind, "control");
  assert.equal(p.version, 3);
  if (p.kind === "control") {
    assert.equal(p.tunnelId, 0xfedcba98);
    assert.equal(p.sessionId, 0);
    assert.equal(p.ns, 5);
    assert.equal(p.nr, 6);
  }
});

Deno.test("peekHeader: v3 over IP classifies control (zero session ID) and data", () => {
  const ctl = encodeControl(
    { version: 3, tunnelId: 9, ns: 1, nr: 2, type: MessageType.HELLO },
    { transport: "ip" },
  );
  const p = peekHeader(ctl, "ip");
  assert.equal(p.kind, "control");
  if (p.kind === "control") {
    assert.equal(p.offset, 4);
    assert.equal(p.tunnelId, 9);
  }
  const data = new Uint8Array([0x00, 0x01, 0x02, 0x03, 0xca, 0xfe, 0x45]);
  assert.deepEqual(peekHeader(data, "ip"), {
    kind: "data",
    version: 3,
    sessionId: 0x00010203,
    payloadOffset: 4,
  });
});

Deno.test("peekHeader: a v2 control message over IP is rejected (IP carries only v3)", () => {
  const v2 = addV3IpControlPrefix(
    encodeControl({ version: 2, tunnelId: 1, ns: 0, nr: 0, type: null }),
  );
  assertParseError(() => peekHeader(v2, "ip"), "bad-version");
});

Deno.test("peekHeader: L2TPv2 data header with L, S, O and P bits", () => {
  // T=0 L=1 S=1 O=1 P=1 Ver=2; length 20; tunnel 7; session 9; Ns 1; Nr 2; offset 2 + 2 pad
  const pkt = new Uint8Array([
    0x4b,
    0x02,
    0x00,
    0x14,
    0x00,
    0x07,
    0x00,
    0x09,
    0x00,
    0x01,
    0x00,
    0x02,
    0x00,
    0x02,
    0xee,
    0xee,
    0xff,
    0x03,
    0xc0,
    0x21,
  ]);
  assert.deepEqual(peekHeader(pkt), {
    kind: "data",
    version: 2,
    tunnelId: 7,
    sessionId: 9,
    ns: 1,
    nr: 2,
    length: 20,
    priority: true,
    payloadOffset: 16,
  });
});

Deno.test("peekHeader: minimal L2TPv2 data header (no optional fields)", () => {
  const p = peekHeader(new Uint8Array([0x00, 0x02, 0x00, 0x07, 0x00, 0x09, 0xff, 0x03]));
  assert.deepEqual(p, {
    kind: "data",
    version: 2,
    tunnelId: 7,
    sessionId: 9,
    ns: null,
    nr: null,
    length: null,
    priority: false,
    payloadOffset: 6,
  });
});

Deno.test("peekHeader: L2TPv3 data header over UDP", () => {
  const p = peekHeader(new Uint8Array([0x00, 0x03, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78, 0xaa]));
  assert.deepEqual(p, { kind: "data", version: 3, sessionId: 0x12345678, payloadOffset: 8 });
});

Deno.test("peekHeader: malformed data headers are typed errors", () => {
  assertParseError(() => peekHeader(new Uint8Array([0x00])), "truncated", 0);
  assertParseError(() => peekHeader(new Uint8Array([0x00, 0x05, 0, 0, 0, 0])), "bad-version", 1);
  // v2 data, L bit, but only the length field present
  assertParseError(() => peekHeader(new Uint8Array([0x40, 0x02, 0x00, 0x08])), "truncated");
  // offset padding larger than the packet
  assertParseError(
    () => peekHeader(new Uint8Array([0x02, 0x02, 0, 1, 0, 2, 0x00, 0x09, 0])),
    "truncated",
  );
  // L bit with a length field beyond the packet
  assertParseError(
    () => peekHeader(new Uint8Array([0x40, 0x02, 0x00, 0x40, 0, 1, 0, 2])),
    "length-mismatch",
  );
  assertParseError(() => peekHeader(new Uint8Array([0x00, 0x03, 0, 0, 0, 1])), "truncated");
  assertParseError(() => peekHeader(new Uint8Array([0, 0, 0]), "ip"), "truncated");
});

Deno.test("parseControlHeader: validation of flags, version and length", () => {
  const ok = encodeControl({ version: 2, tunnelId: 1, ns: 0, nr: 0, type: null });
  const bad = (mutate: (b: Uint8Array) => void, t: Transport = "udp"): Uint8Array => {
    const b = ok.slice();
    mutate(b);
    return t === "ip" ? addV3IpControlPrefix(b) : b;
  };
  assertParseError(() => parseControlHeader(bad((b) => (b[0] &= ~0x40))), "bad-header-flags", 0);
  assertParseError(() => parseControlHeader(bad((b) => (b[0] &= ~0x08))), "bad-header-flags", 0);
  assertParseError(() => parseControlHeader(bad((b) => (b[0] |= 0x02))), "bad-header-flags", 0);
  assertParseError(() => parseControlHeader(bad((b) => (b[1] = 0x04))), "bad-version", 1);
  assertParseError(() => parseControlHeader(bad((b) => (b[0] &= ~0x80))), "not-control", 0);
  assertParseError(() => parseControlHeader(bad((b) => (b[3] = 13))), "length-mismatch", 2);
  assertParseError(() => parseControlHeader(bad((b) => (b[3] = 11))), "length-mismatch", 2);
  assertParseError(() => parseControlHeader(ok.subarray(0, 8)), "truncated", 0);
  assertParseError(() => parseControlHeader(new Uint8Array([0xc8])), "truncated", 0);
  // The reserved O bit position is ignored in v3 (RFC 3931 §3.2.1: x bits ignored on receipt).
  const v3 = encodeControl({ version: 3, tunnelId: 1, ns: 0, nr: 0, type: null });
  v3[0] |= 0x02;
  assert.equal(parseControlHeader(v3).version, 3);
});

Deno.test("writeControlHeader: rejects values that do not fit their fields", () => {
  const out = new Uint8Array(12);
  const base = { version: 2 as const, tunnelId: 1, sessionId: 0, ns: 0, nr: 0 };
  assert.throws(() => writeControlHeader(out, { ...base, tunnelId: 0x10000 }), RangeError);
  assert.throws(() => writeControlHeader(out, { ...base, sessionId: -1 }), RangeError);
  assert.throws(() => writeControlHeader(out, { ...base, ns: 1.5 }), RangeError);
  assert.throws(() => writeControlHeader(out, { ...base, nr: 65536 }), RangeError);
  assert.throws(
    () => writeControlHeader(out, { ...base, version: 3, tunnelId: 0x100000000 }),
    RangeError,
  );
  assert.throws(() => writeControlHeader(out, { ...base, version: 3, sessionId: 1 }), RangeError);
  writeControlHeader(out, { ...base, version: 3, tunnelId: 0xffffffff });
  assert.deepEqual([...out.subarray(0, 8)], [0xc8, 0x03, 0, 12, 0xff, 0xff, 0xff, 0xff]);
});

Deno.test("v3 over IP prefix: strip, add and classify", () => {
  const msg = encodeControl({ version: 3, tunnelId: 3, ns: 0, nr: 0, type: null });
  const pkt = addV3IpControlPrefix(msg);
  assert.deepEqual([...pkt.subarray(0, 4)], [0, 0, 0, 0]);
  assert.ok(isV3IpControl(pkt));
  const stripped = stripV3IpControlPrefix(pkt);
  assert.deepEqual(stripped, msg);
  assert.equal(stripped.buffer, pkt.buffer, "stripping must not copy");
  assert.equal(isV3IpControl(new Uint8Array([0, 0, 1, 0])), false);
  assertParseError(
    () => stripV3IpControlPrefix(new Uint8Array([0, 0, 0, 1, 0xc8])),
    "bad-ip-prefix",
  );
  assertParseError(() => stripV3IpControlPrefix(new Uint8Array([0, 0])), "truncated");
});
