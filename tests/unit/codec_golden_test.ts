/**
 * Golden vectors: messages written byte by byte from the RFC layouts (tests/fixtures/codec/*.hex)
 * must decode to the expected values, and encoding those values must give the same bytes.
 */

import assert from "node:assert/strict";
import { AvpType, MessageType } from "../../control/constants.ts";
import {
  type ControlMessage,
  decodeControl,
  encodeControl,
  getAvp,
  type OutgoingControlMessage,
} from "../../control/message.ts";
import { loadHex, toHex } from "../fixtures/codec/hex.ts";

function assertEncodes(msg: OutgoingControlMessage, fixture: string, ip = false): void {
  const bytes = encodeControl(msg, ip ? { transport: "ip" } : {});
  assert.equal(toHex(bytes), toHex(loadHex(fixture)));
}

/** Compares a decoded message with an outgoing one (all AVPs explicitly given). */
function assertDecodedAs(got: ControlMessage, want: OutgoingControlMessage): void {
  assert.equal(got.version, want.version);
  assert.equal(got.tunnelId, want.tunnelId);
  assert.equal(got.sessionId, want.sessionId ?? 0);
  assert.equal(got.ns, want.ns);
  assert.equal(got.nr, want.nr);
  assert.equal(got.type, want.type);
  const wantAvps = want.avps ?? [];
  assert.equal(got.avps.length, wantAvps.length);
  got.avps.forEach((a, i) => {
    const w = wantAvps[i];
    assert.equal(a.kind, "ietf");
    assert.equal(a.type, w.type);
    assert.deepEqual(a.value, w.value);
    if (w.mandatory !== undefined) assert.equal(a.mandatory, w.mandatory);
    assert.equal(a.hidden, false);
  });
}

const V2_SCCRQ: OutgoingControlMessage = {
  version: 2,
  tunnelId: 0,
  sessionId: 0,
  ns: 0,
  nr: 0,
  type: MessageType.SCCRQ,
  avps: [
    { type: AvpType.ProtocolVersion, value: { version: 1, revision: 0 }, mandatory: true },
    { type: AvpType.FramingCapabilities, value: { async: true, sync: true }, mandatory: true },
    { type: AvpType.BearerCapabilities, value: { analog: true, digital: false }, mandatory: true },
    { type: AvpType.TieBreaker, value: 0x0102030405060708n, mandatory: false },
    { type: AvpType.FirmwareRevision, value: 0x0100, mandatory: false },
    { type: AvpType.HostName, value: "lac", mandatory: true },
    { type: AvpType.VendorName, value: "deno", mandatory: false },
    { type: AvpType.AssignedTunnelId, value: 1, mandatory: true },
    { type: AvpType.ReceiveWindowSize, value: 4, mandatory: true },
    { type: AvpType.Challenge, value: new Uint8Array([0xde, 0xad, 0xbe, 0xef]), mandatory: true },
  ],
};

Deno.test("golden: L2TPv2 SCCRQ decodes to the values written in the fixture", () => {
  assertDecodedAs(decodeControl(loadHex("v2_sccrq.hex")), V2_SCCRQ);
});

Deno.test("golden: L2TPv2 SCCRQ encodes byte for byte, with the RFC 2661 default M bits", () => {
  const withoutM: OutgoingControlMessage = {
    ...V2_SCCRQ,
    avps: V2_SCCRQ.avps?.map((a) => ({ ...a, mandatory: undefined })),
  };
  assertEncodes(withoutM, "v2_sccrq.hex");
});

Deno.test("golden: L2TPv2 ZLB decodes as type null and encodes byte for byte", () => {
  const zlb: OutgoingControlMessage = { version: 2, tunnelId: 5, ns: 3, nr: 4, type: null };
  assertDecodedAs(decodeControl(loadHex("v2_zlb.hex")), zlb);
  assertEncodes(zlb, "v2_zlb.hex");
});

Deno.test("golden: L2TPv2 CDN with result, error code, message and Q.931 cause", () => {
  const cdn: OutgoingControlMessage = {
    version: 2,
    tunnelId: 0x1234,
    sessionId: 0x0bcd,
    ns: 11,
    nr: 9,
    type: MessageType.CDN,
    avps: [
      { type: AvpType.ResultCode, value: { resultCode: 2, errorCode: 6, errorMessage: "no way" } },
      { type: AvpType.AssignedSessionId, value: 0x0303 },
      { type: AvpType.Q931CauseCode, value: { causeCode: 16, causeMessage: 0x5a, advisory: "ok" } },
    ],
  };
  assertDecodedAs(decodeControl(loadHex("v2_cdn.hex")), cdn);
  assertEncodes(cdn, "v2_cdn.hex");
});

const V3_SCCRQ: OutgoingControlMessage = {
  version: 3,
  tunnelId: 0,
  ns: 0,
  nr: 0,
  type: MessageType.SCCRQ,
  avps: [
    { type: AvpType.HostName, value: "lcce-a" },
    { type: AvpType.RouterId, value: 0xc0000201 },
    { type: AvpType.AssignedControlConnectionId, value: 0x12345678 },
    { type: AvpType.PseudowireCapabilities, value: [5, 4] },
    { type: AvpType.ReceiveWindowSize, value: 16 },
  ],
};

Deno.test("golden: L2TPv3 SCCRQ with Router ID and Assigned Control Connection ID", () => {
  const msg = decodeControl(loadHex("v3_sccrq.hex"), { version: 3 });
  assertDecodedAs(msg, V3_SCCRQ);
  assert.equal(getAvp(msg, AvpType.RouterId), 0xc0000201);
  assert.equal(getAvp(msg, AvpType.AssignedControlConnectionId), 0x12345678);
  assertEncodes(V3_SCCRQ, "v3_sccrq.hex");
});

Deno.test("golden: L2TPv3 HELLO over IP carries the 4-byte zero session ID", () => {
  const hello: OutgoingControlMessage = {
    version: 3,
    tunnelId: 0xdeadbeef,
    ns: 7,
    nr: 9,
    type: MessageType.HELLO,
  };
  assertDecodedAs(decodeControl(loadHex("v3_ip_hello.hex"), { transport: "ip" }), hello);
  assertEncodes(hello, "v3_ip_hello.hex", true);
});

Deno.test("golden: decoded byte values are views into the datagram, not copies", () => {
  const bytes = loadHex("v2_sccrq.hex");
  const challenge = getAvp(decodeControl(bytes), AvpType.Challenge);
  assert.ok(challenge);
  assert.equal(challenge.buffer, bytes.buffer);
  assert.equal(challenge.byteOffset, bytes.length - 4);
});
