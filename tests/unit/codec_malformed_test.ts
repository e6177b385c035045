/**
 * Malformed input and unknown AVPs: every structural or value error is a typed ParseError with
 * a reason and the offset of the offending AVP; unknown AVPs without the M bit are kept; unknown
 * AVPs with the M bit produce an UnknownAvpError saying whether to send a CDN or a StopCCN
 * (RFC 2661 §4.1, RFC 3931 §5.2); unknown message types produce an UnknownMessageTypeError.
 * Then what the reliable transport makes of a malformed message it receives in sequence
 * (RFC 2661 §7.1, RFC 3931 §7.1): acknowledged, then recovered (a malformed AVP without the M
 * bit is ignored) or reported as a MalformedMessageError scoped to the session or the tunnel.
 */

import assert from "node:assert/strict";
import { type AvpCodec, avpCodec } from "../../control/avp.ts";
import { concatBytes, writeU16 } from "../../control/bytes.ts";
import { AvpType, type KnownAvpType, MessageType } from "../../control/constants.ts";
import {
  MalformedMessageError,
  ParseError,
  type ParseErrorReason,
  UnknownAvpError,
  UnknownMessageTypeError,
} from "../../control/errors.ts";
import {
  type ControlMessage,
  decodeControl,
  type DecodeOptions,
  encodeControl,
  getAvp,
} from "../../control/message.ts";
import { FakeClock } from "../../control/clock.ts";
import { ControlTransport, type TransportErrorEvent } from "../../control/transport.ts";
import { hideAvpValue, hidingKey } from "../../control/hide.ts";

const M = 0x80;
const H = 0x40;

/** One AVP: flags octet (M/H), vendor, type, value; length computed. */
function avp(
  flags: number,
  vendor: number,
  type: number,
  value: number[] | Uint8Array,
): Uint8Array {
  const v = value instanceof Uint8Array ? value : new Uint8Array(value);
  const b = new Uint8Array(6 + v.length);
  writeU16(b, 0, (flags << 8) | b.length);
  writeU16(b, 2, vendor);
  writeU16(b, 4, type);
  b.set(v, 6);
  return b;
}

function msgType(t: number, flags = M, vendor = 0): Uint8Array {
  return avp(flags, vendor, 0, [t >> 8, t & 0xff]);
}

/** A control message with a correct header around the given AVPs. */
function raw(version: 2 | 3, ...avps: Uint8Array[]): Uint8Array {
  const body = concatBytes(avps);
  const b = new Uint8Array(12 + body.length);
  b[0] = 0xc8;
  b[1] = version;
  writeU16(b, 2, b.length);
  writeU16(b, 4, 0x0007);
  b.set(body, 12);
  return b;
}

function expectError(
  bytes: Uint8Array,
  reason: ParseErrorReason,
  offset?: number,
  options?: DecodeOptions,
): ParseError {
  let caught: unknown;
  try {
    decodeControl(bytes, options);
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ParseError, `expected ParseError(${reason}), got ${caught}`);
  assert.equal(caught.reason, reason, caught.message);
  if (offset !== undefined) assert.equal(caught.offset, offset, caught.message);
  assert.ok(caught.message.startsWith("Cannot decode L2TP message: "));
  return caught;
}

Deno.test("malformed: AVP Length below 6 is avp-too-short at the AVP's offset", () => {
  const bad = avp(M, 0, 7, [0x61]);
  bad[1] = 5;
  const b = raw(2, msgType(1), bad, avp(M, 0, 9, [0, 1]));
  expectError(b, "avp-too-short", 20);
  const zero = raw(2, msgType(1), new Uint8Array(6));
  expectError(zero, "avp-too-short", 20);
});

Deno.test("malformed: AVP running past the message end is avp-overrun", () => {
  const a = avp(M, 0, 7, [0x61, 0x62]);
  a[1] = 30;
  expectError(raw(2, msgType(1), a), "avp-overrun", 20);
});

Deno.test("malformed: fewer than 6 bytes left for an AVP header is truncated", () => {
  expectError(raw(2, msgType(1), new Uint8Array([0x80, 0x08, 0, 0])), "truncated", 20);
  expectError(raw(3, new Uint8Array([0x80, 0x08, 0])), "truncated", 12);
});

Deno.test("malformed: header length field disagreeing with the datagram", () => {
  const b = raw(2, msgType(6));
  expectError(b.subarray(0, b.length - 1), "length-mismatch", 2);
  expectError(concatBytes([b, new Uint8Array([0])]), "length-mismatch", 2);
  expectError(b.subarray(0, 5), "truncated", 0);
  expectError(new Uint8Array(0), "truncated", 0);
});

Deno.test("malformed: the first AVP must be a non-hidden, 8-byte Message Type", () => {
  expectError(raw(2, avp(M, 0, 7, [0x61])), "first-avp-not-message-type", 12);
  expectError(raw(2, msgType(1, M | H)), "hidden-not-allowed", 12);
  expectError(raw(2, avp(M, 0, 0, [0, 1, 0])), "bad-avp-length", 12);
  expectError(raw(2, avp(M, 0, 0, [0])), "bad-avp-length", 12);
});

Deno.test("malformed: wrong data message or version", () => {
  const data = new Uint8Array([0x00, 0x02, 0, 7, 0, 9, 0xff, 0x03]);
  expectError(data, "not-control", 0);
  expectError(raw(2, msgType(6)), "bad-version", 1, { version: 3 });
  expectError(raw(3, msgType(6)), "bad-ip-prefix", 0, { transport: "ip" });
});

/** For each fixed-size or constrained attribute: [type, a value length it must reject]. */
const BAD_LENGTHS: [KnownAvpType, number][] = [
  [1, 0],
  [1, 1],
  [1, 3],
  [2, 1],
  [2, 3],
  [3, 3],
  [3, 5],
  [4, 2],
  [5, 7],
  [5, 9],
  [6, 1],
  [7, 0],
  [9, 1],
  [9, 3],
  [10, 4],
  [11, 0],
  [12, 2],
  [13, 15],
  [13, 17],
  [14, 0],
  [15, 2],
  [16, 8],
  [17, 3],
  [18, 0],
  [19, 6],
  [24, 2],
  [25, 5],
  [29, 1],
  [32, 1],
  [32, 3],
  [34, 24],
  [34, 28],
  [35, 8],
  [38, 3],
  [39, 1],
  [58, 5],
  [59, 16],
  [59, 18],
  [59, 0],
  [60, 2],
  [61, 8],
  [62, 0],
  [62, 3],
  [63, 2],
  [64, 5],
  [65, 1],
  [65, 6],
  [65, 12],
  [68, 4],
  [69, 1],
  [70, 3],
  [71, 4],
  [74, 4],
  [75, 16],
];

Deno.test("malformed: a value length the attribute does not allow is bad-avp-length", () => {
  for (const [type, len] of BAD_LENGTHS) {
    const b = raw(3, msgType(MessageType.ICRQ), avp(M, 0, type, new Uint8Array(len)));
    const e = expectError(b, "bad-avp-length", 20);
    assert.ok(e.message.includes((avpCodec(type) as AvpCodec<unknown>).name), e.message);
  }
});

Deno.test("malformed: Message Digest type and length must agree (bad-avp-value)", () => {
  const md5In20 = new Uint8Array(21);
  expectError(raw(3, msgType(6), avp(M, 0, 59, md5In20)), "bad-avp-value", 20);
  const sha1In16 = new Uint8Array(17);
  sha1In16[0] = 1;
  expectError(raw(3, msgType(6), avp(M, 0, 59, sha1In16)), "bad-avp-value", 20);
  const unknownType = new Uint8Array(17);
  unknownType[0] = 2;
  expectError(raw(3, msgType(6), avp(M, 0, 59, unknownType)), "bad-avp-value", 20);
});

Deno.test("malformed: ignoreMalformed keeps a bad AVP without M bit (RFC 3931 §7.1)", () => {
  // Rx Connect Speed sent as 4 bytes instead of 8, M bit clear: the RFC's own example.
  const bad = avp(0, 0, 75, [0, 0, 0, 1]);
  const b = raw(3, msgType(MessageType.ICCN), bad, avp(M, 0, 63, [0, 0, 0, 5]));
  expectError(b, "bad-avp-length", 20);
  const msg = decodeControl(b, { ignoreMalformed: true });
  assert.equal(msg.avps.length, 2);
  assert.deepEqual(msg.avps[0], {
    kind: "malformed",
    vendorId: 0,
    type: 75,
    value: new Uint8Array([0, 0, 0, 1]),
    mandatory: false,
    hidden: false,
  });
  assert.equal(msg.avps[1].kind === "ietf" && msg.avps[1].value, 5);
  // With the M bit, the malformation stays fatal.
  const badM = raw(3, msgType(MessageType.ICCN), avp(M, 0, 75, [0, 0, 0, 1]));
  expectError(badM, "bad-avp-length", 20, { ignoreMalformed: true });
});

Deno.test("unknown AVP without M bit: skipped by the typed API but kept with its payload", () => {
  const b = raw(
    2,
    msgType(MessageType.SCCRQ),
    avp(M, 0, 7, [0x61]),
    avp(0, 0, 200, [1, 2, 3]),
    avp(0, 311, 5, [9]),
    avp(M, 0, 9, [0, 2]),
  );
  const msg = decodeControl(b);
  assert.equal(msg.type, MessageType.SCCRQ);
  assert.deepEqual(msg.avps.map((a) => [a.kind, a.vendorId, a.type]), [
    ["ietf", 0, 7],
    ["unknown", 0, 200],
    ["vendor", 311, 5],
    ["ietf", 0, 9],
  ]);
  assert.deepEqual(msg.avps[1].value, new Uint8Array([1, 2, 3]));
  assert.deepEqual(msg.avps[2].value, new Uint8Array([9]));
  // Re-encoding keeps them verbatim.
  assert.deepEqual(encodeControl(msg), b);
});

Deno.test("unknown AVP with M bit in a session message: UnknownAvpError asks for a CDN", () => {
  for (const t of [7, 8, 9, 10, 11, 12, 14, 15, 16]) {
    const b = raw(2, msgType(t), avp(M, 0, 14, [0, 5]), avp(M, 0, 99, [1]));
    const e = expectError(b, "unknown-mandatory-avp", 28);
    assert.ok(e instanceof UnknownAvpError);
    assert.equal(e.scope, "session", `type ${t}`);
    assert.equal(e.resultCode, 2);
    assert.equal(e.errorCode, 8);
    assert.equal(e.vendorId, 0);
    assert.equal(e.attributeType, 99);
    assert.ok(e.errorMessage.includes("99"));
    assert.equal(e.decoded.type, t);
    assert.equal(e.decoded.tunnelId, 7);
    assert.deepEqual(e.decoded.avps.map((a) => a.type), [14, 99]);
  }
});

Deno.test("unknown AVP with M bit in a tunnel message: UnknownAvpError asks for a StopCCN", () => {
  for (const t of [1, 2, 3, 4, 6, 20]) {
    const b = raw(3, msgType(t), avp(M, 0, 61, [0, 0, 0, 1]), avp(M, 9, 1, []));
    const e = expectError(b, "unknown-mandatory-avp", 30);
    assert.ok(e instanceof UnknownAvpError);
    assert.equal(e.scope, "tunnel", `type ${t}`);
    assert.equal(e.vendorId, 9);
    assert.equal(e.attributeType, 1);
  }
});

Deno.test("unknown mandatory AVP: the first one is reported; hidden ones need no secret", () => {
  const b = raw(
    3,
    msgType(MessageType.HELLO),
    avp(0, 0, 300, [1]),
    avp(M | H, 0, 301, [1, 2, 3]),
    avp(M, 0, 302, [1]),
  );
  const e = expectError(b, "unknown-mandatory-avp", 27);
  assert.ok(e instanceof UnknownAvpError);
  assert.equal(e.attributeType, 301);
  assert.equal(e.decoded.avps[1].hidden, true);
});

Deno.test("unknown mandatory AVP: an Extended Vendor ID AVP with the M bit is unrecognised", () => {
  const ext = avp(M, 0, 58, [0x00, 0x01, 0x00, 0x00, 0x00, 0x05, 0xaa]);
  const e = expectError(raw(3, msgType(MessageType.ICRQ), ext), "unknown-mandatory-avp", 20);
  assert.ok(e instanceof UnknownAvpError);
  assert.equal(e.scope, "session");
  assert.equal(e.vendorId, 0x10000);
  assert.equal(e.attributeType, 5);
});

Deno.test("unknown message type: M bit tells whether to clear the control connection", () => {
  for (
    const [t, flags, vendor, mandatory] of [
      [5, M, 0, true],
      [13, 0, 0, false],
      [99, M, 0, true],
      [1, M, 4491, true],
      [1, 0, 4491, false],
    ] as const
  ) {
    const b = raw(2, msgType(t, flags, vendor), avp(M, 0, 7, [0x61]));
    const e = expectError(b, "unknown-message-type", 12);
    assert.ok(e instanceof UnknownMessageTypeError);
    assert.equal(e.messageType, t);
    assert.equal(e.vendorId, vendor);
    assert.equal(e.mandatory, mandatory);
    assert.equal(e.header.tunnelId, 7);
  }
});

Deno.test("hidden AVPs: random vector, secret and forbidden H bits are checked", () => {
  const hiddenSession = avp(M | H, 0, 14, [1, 2, 3, 4]);
  expectError(raw(2, msgType(10), hiddenSession), "hidden-without-random-vector", 20);
  const rv = avp(M, 0, 36, [1, 2, 3, 4]);
  expectError(raw(2, msgType(10), rv, hiddenSession), "hidden-without-secret", 30);
  expectError(raw(2, msgType(10), avp(M | H, 0, 36, [1])), "hidden-not-allowed", 20);
  expectError(
    raw(3, msgType(10), rv, avp(M | H, 0, 59, new Uint8Array(17))),
    "hidden-not-allowed",
    30,
  );
  expectError(raw(3, msgType(10), rv, avp(M | H, 0, 73, [1])), "hidden-not-allowed", 30);
  expectError(
    raw(2, msgType(10), rv, avp(M | H, 0, 14, [1])),
    "bad-hidden-length",
    30,
    { secret: "s" },
  );
});

Deno.test("malformed: every decodeControl failure on a mutated sample is a ParseError", () => {
  const base = encodeControl({
    version: 2,
    tunnelId: 1,
    ns: 0,
    nr: 0,
    type: MessageType.ICRQ,
    avps: [
      { type: AvpType.AssignedSessionId, value: 1 },
      { type: AvpType.CallSerialNumber, value: 2 },
      { type: AvpType.CalledNumber, value: "123" },
    ],
  });
  let failures = 0;
  for (let i = 0; i < base.length; i++) {
    for (const v of [0x00, 0xff, 0x80, 0x40, 0x03]) {
      const b = base.slice();
      b[i] = v;
      try {
        decodeControl(b);
      } catch (e) {
        assert.ok(e instanceof ParseError, `byte ${i} = ${v}: ${e}`);
        failures++;
      }
    }
  }
  assert.ok(failures > 0);
});

// ---- in sequence: what the transport does (RFC 2661 §7.1, RFC 3931 §7.1) -------------------

/** A transport fed `packets` in order; what it delivered, reported and sent back. */
function receiveAll(version: 2 | 3, ...packets: Uint8Array[]): {
  t: ControlTransport;
  delivered: ControlMessage[];
  errors: TransportErrorEvent[];
  sent: ControlMessage[];
} {
  const clock = new FakeClock();
  const sent: ControlMessage[] = [];
  const delivered: ControlMessage[] = [];
  const t = new ControlTransport({
    version,
    clock,
    peerTunnelId: 9,
    send: (p) => sent.push(decodeControl(p)),
    onMessage: (m) => delivered.push(m),
  });
  const errors: TransportErrorEvent[] = [];
  t.on("error", (e) => errors.push(e));
  for (const p of packets) t.receive(p);
  clock.advance(1000); // the delayed acknowledgement goes out
  t.close();
  return { t, delivered, errors, sent };
}

/** `raw` with Ns set. */
function withNs(b: Uint8Array, ns: number): Uint8Array {
  writeU16(b, 8, ns);
  return b;
}

function malformedOf(e: TransportErrorEvent | undefined): MalformedMessageError {
  assert.ok(e?.error instanceof MalformedMessageError, `got ${e?.error}`);
  assert.equal(e.accepted, true, "taken in sequence");
  return e.error;
}

Deno.test("in sequence: a malformed M-bit AVP in a session message asks for a CDN", () => {
  // An ICRQ whose Call Serial Number (M bit) has 3 bytes instead of 4.
  const icrq = raw(
    2,
    msgType(MessageType.ICRQ),
    avp(M, 0, AvpType.AssignedSessionId, [0, 55]),
    avp(M, 0, AvpType.CallSerialNumber, [0, 0, 1]),
    avp(M, 0, AvpType.BearerType, [0, 0, 0, 1]),
  );
  const r = receiveAll(2, icrq);
  assert.equal(r.delivered.length, 0, "not delivered");
  assert.equal(r.errors.length, 1);
  const e = malformedOf(r.errors[0]);
  assert.equal(e.reason, "bad-avp-length");
  assert.deepEqual([e.scope, e.resultCode, e.errorCode], ["session", 2, 2]);
  assert.deepEqual([e.messageType, e.attributeType], [MessageType.ICRQ, AvpType.CallSerialNumber]);
  assert.match(e.errorMessage, /^Call Serial Number AVP with a 3-byte value is malformed/);
  // The rest of the message, for the IDs a CDN is addressed with.
  assert.ok(e.decoded);
  assert.equal(getAvp(e.decoded, AvpType.AssignedSessionId), 55);
  assert.ok(getAvp(e.decoded, AvpType.BearerType) !== undefined);
  // Acknowledged: it took its sequence number (RFC 2661 §5.8).
  assert.equal(r.t.nr, 1);
  assert.deepEqual(r.sent.map((m) => [m.type, m.nr]), [[null, 1]]);
});

Deno.test("in sequence: a malformed AVP without the M bit is ignored, the message delivered", () => {
  // RFC 3931 §7.1's own example: Rx Connect Speed in 4 bytes instead of 8, M bit clear.
  const iccn = raw(
    3,
    msgType(MessageType.ICCN),
    avp(0, 0, 75, [0, 0, 0, 1]),
    avp(M, 0, AvpType.LocalSessionId, [0, 0, 0, 5]),
  );
  const r = receiveAll(3, iccn);
  assert.deepEqual(r.errors, []);
  assert.equal(r.delivered.length, 1);
  assert.equal(getAvp(r.delivered[0], AvpType.LocalSessionId), 5);
  assert.deepEqual(r.delivered[0].avps.map((a) => a.kind), ["malformed", "ietf"]);
});

Deno.test("in sequence: a hidden AVP that cannot be revealed goes by its M bit too", () => {
  // No Random Vector before a hidden AVP: optional (Firmware Revision) is ignored...
  const optional = raw(
    2,
    msgType(MessageType.HELLO),
    avp(H, 0, AvpType.FirmwareRevision, [1, 2, 3, 4]),
  );
  const r1 = receiveAll(2, optional);
  assert.deepEqual(r1.errors, []);
  assert.equal(r1.delivered[0].type, MessageType.HELLO);
  assert.equal(r1.delivered[0].avps[0].kind, "malformed");
  // ...mandatory (Assigned Tunnel ID of an SCCRQ) tears the tunnel down, error 3.
  const mandatory = raw(
    2,
    msgType(MessageType.SCCRQ),
    avp(M | H, 0, AvpType.AssignedTunnelId, [1, 2, 3, 4]),
    avp(M, 0, AvpType.HostName, [0x61]),
  );
  const e = malformedOf(receiveAll(2, mandatory).errors[0]);
  assert.equal(e.reason, "hidden-without-random-vector");
  assert.deepEqual([e.scope, e.errorCode, e.attributeType], ["tunnel", 3, 9]);
  assert.equal(e.decoded && getAvp(e.decoded, AvpType.HostName), "a");
  // With a wrong secret the unhidden length is off: error 2 (length).
  const key = hidingKey(2, "right");
  const rv = new Uint8Array(16).fill(7);
  const hidden = hideAvpValue(AvpType.AssignedTunnelId, new Uint8Array([0, 9]), key, rv);
  const sccrq = raw(
    2,
    msgType(MessageType.SCCRQ),
    avp(M, 0, AvpType.RandomVector, rv),
    avp(M | H, 0, AvpType.AssignedTunnelId, hidden),
  );
  const wrong = new ControlTransport({ version: 2, send: () => {}, clock: new FakeClock() });
  wrong.decodeOptions = { secret: "wrong" };
  const errors: TransportErrorEvent[] = [];
  wrong.on("error", (ev) => errors.push(ev));
  wrong.receive(sccrq);
  wrong.close();
  const e2 = malformedOf(errors[0]);
  assert.deepEqual([e2.reason, e2.scope, e2.errorCode], ["bad-hidden-length", "tunnel", 2]);
});

Deno.test("in sequence: a body whose AVPs cannot be delimited clears the tunnel", () => {
  // An AVP running past the end of an ICRQ: nothing after it can be found, even in a session
  // message (RFC 3931 §7.1: unrecoverable, the control connection is cleared).
  const over = avp(M, 0, AvpType.AssignedSessionId, [0, 55]);
  over[1] = 40;
  const e = malformedOf(receiveAll(2, raw(2, msgType(MessageType.ICRQ), over)).errors[0]);
  assert.deepEqual([e.reason, e.scope, e.errorCode, e.messageType], [
    "avp-overrun",
    "tunnel",
    2,
    MessageType.ICRQ,
  ]);
  // A bad Message Type AVP: the message is not even known.
  const e2 = malformedOf(receiveAll(2, raw(2, avp(M, 0, 0, [0, 1, 0]))).errors[0]);
  assert.deepEqual([e2.reason, e2.scope, e2.messageType], ["bad-avp-length", "tunnel", undefined]);
  // An out-of-range value (a Message Digest of unknown type) in a HELLO: error 3.
  const md = new Uint8Array(17);
  md[0] = 2;
  const hello = raw(3, msgType(MessageType.HELLO), avp(M, 0, AvpType.MessageDigest, md));
  const e3 = malformedOf(receiveAll(3, hello).errors[0]);
  assert.deepEqual([e3.reason, e3.scope, e3.errorCode], ["bad-avp-value", "tunnel", 3]);
});

Deno.test("in sequence: several malformed AVPs are all cut; an unknown M-bit AVP still counts", () => {
  const two = raw(
    2,
    msgType(MessageType.ICRQ),
    avp(0, 0, AvpType.RxConnectSpeed, [1]),
    avp(M, 0, AvpType.AssignedSessionId, [0, 56]),
    avp(0, 0, AvpType.FramingType, [1]),
  );
  const r = receiveAll(2, two);
  assert.deepEqual(r.errors, []);
  assert.equal(getAvp(r.delivered[0], AvpType.AssignedSessionId), 56);
  // A malformed optional AVP hidden without a vector, then an unknown mandatory AVP.
  const unknown = raw(
    2,
    msgType(MessageType.ICRQ),
    avp(H, 0, AvpType.FirmwareRevision, [1, 2]),
    avp(M, 0, AvpType.AssignedSessionId, [0, 57]),
    avp(M, 0, 200, [1]),
  );
  const err = receiveAll(2, unknown).errors[0];
  assert.ok(err.error instanceof UnknownAvpError, String(err.error));
  assert.equal(err.accepted, true);
  assert.equal(getAvp(err.error.decoded, AvpType.AssignedSessionId), 57);
});

Deno.test("a malformed header is discarded: never acknowledged, no sequence number", () => {
  const good = raw(2, msgType(MessageType.HELLO));
  const short = withNs(good.slice(), 0).subarray(0, good.length - 1); // Length field says more
  const r = receiveAll(2, short, withNs(raw(2, msgType(MessageType.HELLO)), 0));
  assert.equal(r.errors.length, 1);
  assert.equal(r.errors[0].accepted, false);
  assert.ok(!(r.errors[0].error instanceof MalformedMessageError));
  assert.equal((r.errors[0].error as ParseError).reason, "length-mismatch");
  assert.equal(r.delivered.length, 1, "the next message with that Ns is taken");
  assert.equal(r.t.nr, 1);
});
