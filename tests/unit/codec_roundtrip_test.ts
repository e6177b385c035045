/**
 * Round trips: every message type, in L2TPv2 and L2TPv3 form (over UDP and over IP), encodes
 * and decodes back to the same header, type and AVP values; re-encoding a decoded message gives
 * the same bytes. Also: AVP order, Message Type first, Message Digest second, M-bit defaults and
 * overrides, typed accessors, and encoder input validation.
 */

import assert from "node:assert/strict";
import { avpCodec, type AvpInput, defaultMandatory } from "../../control/avp.ts";
import { AvpType, type KnownAvpType, MessageType } from "../../control/constants.ts";
import { ParseError } from "../../control/errors.ts";
import {
  decodeControl,
  encodeControl,
  getAvp,
  getAvps,
  hasAvp,
  type OutgoingControlMessage,
  requireAvp,
} from "../../control/message.ts";
import { digestKey } from "../../control/auth.ts";
import { v2Samples, v3Samples } from "../fixtures/codec/samples.ts";

function roundTrip(msg: OutgoingControlMessage, transport: "udp" | "ip" = "udp"): void {
  const bytes = encodeControl(msg, { transport });
  const got = decodeControl(bytes, { transport, version: msg.version });
  const label = `v${msg.version} ${transport} type ${msg.type}`;
  assert.equal(got.version, msg.version, label);
  assert.equal(got.tunnelId, msg.tunnelId, label);
  assert.equal(got.sessionId, msg.sessionId ?? 0, label);
  assert.equal(got.ns, msg.ns, label);
  assert.equal(got.nr, msg.nr, label);
  assert.equal(got.type, msg.type, label);
  assert.equal(got.length, bytes.length - (transport === "ip" ? 4 : 0), label);
  const want = msg.avps ?? [];
  assert.equal(got.avps.length, want.length, label);
  got.avps.forEach((a, i) => {
    const w = want[i];
    assert.equal(a.kind, "ietf", label);
    assert.equal(a.type, w.type, label);
    assert.deepEqual(a.value, w.value, `${label} AVP ${w.type}`);
    assert.equal(a.mandatory, defaultMandatory(w.type, msg.version), `${label} M bit of ${w.type}`);
  });
  // A decoded message is itself encodable and gives the same bytes.
  assert.deepEqual(encodeControl(got, { transport }), bytes, label);
}

Deno.test("round trip: every L2TPv2 message type (RFC 2661 §6)", () => {
  const samples = v2Samples();
  const types = new Set(samples.map((m) => m.type));
  for (const t of [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, null]) {
    assert.ok(types.has(t as never), `sample of type ${t}`);
  }
  for (const m of samples) roundTrip(m);
});

Deno.test("round trip: every L2TPv3 message type (RFC 3931 §6), over UDP and over IP", () => {
  const samples = v3Samples();
  const types = new Set(samples.map((m) => m.type));
  for (const t of [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 20, 21, 22, null]) {
    assert.ok(types.has(t as never), `sample of type ${t}`);
  }
  for (const m of samples) {
    roundTrip(m, "udp");
    roundTrip(m, "ip");
  }
});

Deno.test("round trip: the samples cover every known AVP type", () => {
  const seen = new Set<number>();
  for (const m of [...v2Samples(), ...v3Samples()]) for (const a of m.avps ?? []) seen.add(a.type);
  // Added by the encoder (hiding, digest) and covered in hide_test / auth_test / malformed tests:
  for (const t of [AvpType.RandomVector, AvpType.MessageDigest, AvpType.ExtendedVendorId]) {
    seen.add(t);
  }
  for (const t of Object.values(AvpType)) {
    if (t === AvpType.MessageType) continue;
    assert.ok(seen.has(t), `no sample carries AVP type ${t}`);
  }
});

Deno.test("round trip: Extended Vendor ID AVP keeps the 32-bit vendor ID and value opaque", () => {
  const msg: OutgoingControlMessage = {
    version: 3,
    tunnelId: 1,
    ns: 0,
    nr: 0,
    type: MessageType.HELLO,
    avps: [{
      type: AvpType.ExtendedVendorId,
      value: { vendorId: 0x00012345, attributeType: 7, value: new Uint8Array([1, 2, 3]) },
    }],
  };
  const bytes = encodeControl(msg);
  // M bit MUST be 0 (RFC 3931 §5.1); length 12 + 3.
  assert.equal(bytes[20], 0x00);
  assert.equal(bytes[21], 15);
  roundTrip(msg);
});

Deno.test("encode: Message Type first, Message Digest right after it, then AVPs in order", () => {
  const bytes = encodeControl({
    version: 3,
    tunnelId: 1,
    ns: 0,
    nr: 0,
    type: MessageType.ICRQ,
    avps: [
      { type: AvpType.LocalSessionId, value: 1 },
      { type: AvpType.RemoteSessionId, value: 0 },
      { type: AvpType.MessageDigest, value: { digestType: 1, digest: new Uint8Array(20) } },
      { type: AvpType.CircuitStatus, value: { active: true, new: true } },
    ],
  });
  const msg = decodeControl(bytes);
  assert.deepEqual(msg.avps.map((a) => a.type), [59, 63, 64, 71]);
  assert.deepEqual([...bytes.subarray(12, 20)], [0x80, 0x08, 0, 0, 0, 0, 0, 10]);
});

Deno.test("encode: M bit defaults per RFC and version, and can be overridden", () => {
  const tb = (version: 2 | 3, mandatory?: boolean): boolean => {
    const msg = decodeControl(encodeControl({
      version,
      tunnelId: 0,
      ns: 0,
      nr: 0,
      type: MessageType.SCCRQ,
      avps: [{ type: AvpType.TieBreaker, value: 1n, mandatory }],
    }));
    return msg.avps[0].mandatory;
  };
  assert.equal(tb(2), false, "RFC 2661: Tie Breaker M bit 0");
  assert.equal(tb(3), true, "RFC 3931: Tie Breaker M bit SHOULD be 1");
  assert.equal(tb(2, true), true);
  assert.equal(tb(3, false), false);
  assert.equal(defaultMandatory(AvpType.HostName, 2), true);
  assert.equal(defaultMandatory(AvpType.VendorName, 3), false);
  assert.equal(defaultMandatory(AvpType.ExtendedVendorId, 3), false);
  assert.equal(defaultMandatory(9999, 3), false);
});

Deno.test("accessors: getAvp, getAvps, requireAvp, hasAvp are typed by attribute", () => {
  const msg = decodeControl(encodeControl({
    version: 3,
    tunnelId: 1,
    ns: 0,
    nr: 0,
    type: MessageType.SCCRQ,
    avps: [
      { type: AvpType.HostName, value: "a" },
      { type: AvpType.ControlMessageAuthNonce, value: new Uint8Array([1]) },
      { type: AvpType.ControlMessageAuthNonce, value: new Uint8Array([2]) },
    ],
  }));
  const host: string | undefined = getAvp(msg, AvpType.HostName);
  assert.equal(host, "a");
  assert.equal(getAvp(msg, AvpType.RouterId), undefined);
  assert.deepEqual(getAvps(msg, AvpType.ControlMessageAuthNonce), [
    new Uint8Array([1]),
    new Uint8Array([2]),
  ]);
  assert.equal(requireAvp(msg, AvpType.HostName), "a");
  assert.throws(() => requireAvp(msg, AvpType.RouterId), (e: unknown) => {
    return e instanceof ParseError && e.reason === "missing-avp";
  });
  assert.equal(hasAvp(msg, AvpType.HostName), true);
  assert.equal(hasAvp(msg, AvpType.SequencingRequired), false);
});

Deno.test("encode: values that do not fit are RangeErrors, inconsistent messages TypeErrors", () => {
  const base = { version: 2 as const, tunnelId: 1, ns: 0, nr: 0, type: MessageType.ICRQ };
  const enc = (avps: AvpInput[], extra: Partial<OutgoingControlMessage> = {}): Uint8Array =>
    encodeControl({ ...base, ...extra, avps });
  assert.throws(() => enc([{ type: AvpType.AssignedSessionId, value: 70000 }]), RangeError);
  assert.throws(() => enc([{ type: AvpType.CallSerialNumber, value: -1 }]), RangeError);
  assert.throws(() => enc([{ type: AvpType.TieBreaker, value: 1n << 64n }]), RangeError);
  assert.throws(
    () => enc([{ type: AvpType.ChallengeResponse, value: new Uint8Array(15) }]),
    RangeError,
  );
  assert.throws(() => enc([{ type: AvpType.HostName, value: "" }]), RangeError);
  assert.throws(
    () => enc([{ type: AvpType.AssignedCookie, value: new Uint8Array(5) }]),
    RangeError,
  );
  assert.throws(() => enc([{ type: AvpType.PseudowireCapabilities, value: [] }]), RangeError);
  assert.throws(() => enc([{ type: AvpType.ProxyAuthenId, value: 256 }]), RangeError);
  assert.throws(
    () =>
      enc([{ type: AvpType.MessageDigest, value: { digestType: 0, digest: new Uint8Array(20) } }]),
    RangeError,
  );
  assert.throws(() => enc([{ type: AvpType.HostName, value: "x".repeat(1018) }]), RangeError);
  enc([{ type: AvpType.HostName, value: "x".repeat(1017) }]); // 6 + 1017 = 1023: the maximum
  assert.throws(() => enc([{ type: AvpType.HostName, value: "x" }], { type: null }), TypeError);
  assert.throws(() => enc([{ type: AvpType.HostName, value: "x", hidden: true }]), TypeError);
  assert.throws(
    () => enc([{ type: AvpType.AssignedSessionId, value: 1, hidden: true }]),
    TypeError,
    "hiding without a secret",
  );
  assert.throws(() => enc([{ type: 20 as KnownAvpType, value: 1 } as AvpInput]), TypeError);
  assert.throws(() => encodeControl({ ...base, version: 4 as 3 }), RangeError);
  assert.throws(() => encodeControl({ ...base }, { transport: "ip" }), TypeError);
  assert.throws(() => encodeControl({ ...base }, { digest: { key: digestKey("") } }), TypeError);
});

Deno.test("encode: UTF-8 strings are sized and written correctly", () => {
  const name = "lns-é-€-😀";
  const msg = decodeControl(encodeControl({
    version: 2,
    tunnelId: 1,
    ns: 0,
    nr: 0,
    type: MessageType.StopCCN,
    avps: [{
      type: AvpType.ResultCode,
      value: { resultCode: 2, errorCode: 0, errorMessage: name },
    }],
  }));
  assert.deepEqual(getAvp(msg, AvpType.ResultCode), {
    resultCode: 2,
    errorCode: 0,
    errorMessage: name,
  });
  assert.equal(avpCodec(AvpType.HostName).size(name), new TextEncoder().encode(name).length);
});

Deno.test("encode: Result Code with only an error message writes error code 0", () => {
  const msg = decodeControl(encodeControl({
    version: 3,
    tunnelId: 1,
    ns: 0,
    nr: 0,
    type: MessageType.CDN,
    avps: [{ type: AvpType.ResultCode, value: { resultCode: 2, errorMessage: "x" } }],
  }));
  assert.deepEqual(getAvp(msg, AvpType.ResultCode), {
    resultCode: 2,
    errorCode: 0,
    errorMessage: "x",
  });
});
