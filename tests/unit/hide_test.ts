/**
 * Hidden AVPs (RFC 2661 §4.3, RFC 3931 §5.3). Expected hidden bytes are computed here, directly
 * from the RFC description with node:crypto, independently of control/hide.ts.
 */

import assert from "node:assert/strict";
import { createHash, createHmac } from "node:crypto";
import { AvpType, MessageType } from "../../control/constants.ts";
import { ParseError } from "../../control/errors.ts";
import { hideAvpValue, hidingKey, unhideAvpValue } from "../../control/hide.ts";
import { decodeControl, encodeControl, getAvp, getAvps } from "../../control/message.ts";
import { toHex } from "../fixtures/codec/hex.ts";

const te = new TextEncoder();
const RV = new Uint8Array([
  0x4a,
  0x1f,
  0x00,
  0x93,
  0x12,
  0xe4,
  0x77,
  0x08,
  0xc1,
  0x5b,
  0x3d,
  0x6e,
  0x20,
  0x99,
  0xab,
  0xcd,
]);

const md5 = (...parts: Uint8Array[]): Uint8Array => {
  const h = createHash("md5");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/** RFC 2661 §4.3: b1 = MD5(A + S + RV), c1 = p1 ^ b1, b_i = MD5(S + c_(i-1)), c_i = p_i ^ b_i. */
function referenceHide(
  attr: number,
  s: Uint8Array,
  rv: Uint8Array,
  value: Uint8Array,
  pad: Uint8Array = new Uint8Array(0),
): Uint8Array {
  const p = new Uint8Array([value.length >> 8, value.length & 0xff, ...value, ...pad]);
  const c = new Uint8Array(p.length);
  let b = md5(new Uint8Array([attr >> 8, attr & 0xff]), s, rv);
  for (let i = 0; i < p.length; i += 16) {
    for (let j = i; j < Math.min(i + 16, p.length); j++) c[j] = p[j] ^ b[j - i];
    b = md5(s, c.subarray(i, i + 16));
  }
  return c;
}

/** Random source that returns the given blocks in turn. */
function scripted(...blocks: Uint8Array[]): (n: number) => Uint8Array {
  return (n) => {
    const b = blocks.shift();
    assert.ok(b, "unexpected randomBytes call");
    assert.equal(b.length, n);
    return b;
  };
}

Deno.test("hide: L2TPv2 hidden Assigned Tunnel ID matches an independent computation", () => {
  const secret = te.encode("tunnel-secret");
  const bytes = encodeControl(
    {
      version: 2,
      tunnelId: 0,
      ns: 0,
      nr: 0,
      type: MessageType.SCCRQ,
      avps: [{ type: AvpType.AssignedTunnelId, value: 0x1234, hidden: true }],
    },
    { secret, randomBytes: scripted(RV) },
  );
  const hidden = referenceHide(9, secret, RV, new Uint8Array([0x12, 0x34]));
  const expected = new Uint8Array([
    ...[0xc8, 0x02, 0x00, 12 + 8 + 22 + 10, 0, 0, 0, 0, 0, 0, 0, 0],
    ...[0x80, 0x08, 0, 0, 0, 0, 0, 1], // Message Type SCCRQ
    ...[0x80, 22, 0, 0, 0, 36, ...RV], // Random Vector inserted before the hidden AVP
    ...[0xc0, 10, 0, 0, 0, 9, ...hidden], // M|H, length 6 + 2 + 2
  ]);
  assert.equal(toHex(bytes), toHex(expected));
  const msg = decodeControl(bytes, { secret });
  assert.equal(getAvp(msg, AvpType.AssignedTunnelId), 0x1234);
  const avp = msg.avps.find((a) => a.type === AvpType.AssignedTunnelId);
  assert.equal(avp?.hidden, true);
  assert.equal(avp?.mandatory, true);
});

Deno.test("hide: multi-block values chain MD5(S + previous cipher block)", () => {
  const secret = te.encode("s");
  const name = te.encode("a-rather-long-proxy-authentication-user@example.net");
  assert.ok(name.length + 2 > 48, "value spans 4 blocks");
  const got = hideAvpValue(30, name, secret, RV);
  assert.equal(toHex(got), toHex(referenceHide(30, secret, RV, name)));
  assert.deepEqual(unhideAvpValue(30, got, secret, RV), name);
});

Deno.test("hide: padding after the original value is accepted and dropped on decode", () => {
  const secret = te.encode("pad");
  const pad = new Uint8Array(21).fill(0xee);
  const hidden = referenceHide(14, secret, RV, new Uint8Array([0xab, 0xcd]), pad);
  const bytes = new Uint8Array([
    ...[0xc8, 0x02, 0x00, 12 + 8 + 22 + 6 + hidden.length, 0, 1, 0, 0, 0, 0, 0, 0],
    ...[0x80, 0x08, 0, 0, 0, 0, 0, 10],
    ...[0x80, 22, 0, 0, 0, 36, ...RV],
    ...[0xc0, 6 + hidden.length, 0, 0, 0, 14, ...hidden],
  ]);
  const msg = decodeControl(bytes, { secret });
  assert.equal(getAvp(msg, AvpType.AssignedSessionId), 0xabcd);
});

Deno.test("hide: random padding on encode changes the length but not the value", () => {
  const secret = "pad-secret";
  const encode = (padChoice: number): Uint8Array =>
    encodeControl(
      {
        version: 2,
        tunnelId: 1,
        ns: 0,
        nr: 0,
        type: MessageType.ICCN,
        avps: [{ type: AvpType.ProxyAuthenName, value: "bob", hidden: true }],
      },
      {
        secret,
        hiddenPadding: 16,
        randomBytes: scripted(
          RV,
          new Uint8Array([padChoice]),
          ...(padChoice % 17 ? [new Uint8Array(padChoice % 17)] : []),
        ),
      },
    );
  const short = encode(0);
  const long = encode(16);
  assert.equal(long.length - short.length, 16);
  for (const b of [short, long]) {
    assert.equal(getAvp(decodeControl(b, { secret }), AvpType.ProxyAuthenName), "bob");
  }
  // Without a scripted source the real random source is used; the value still round-trips.
  const real = encodeControl(
    {
      version: 2,
      tunnelId: 1,
      ns: 0,
      nr: 0,
      type: MessageType.ICCN,
      avps: [{ type: AvpType.ProxyAuthenName, value: "carol", hidden: true }],
    },
    { secret, hiddenPadding: 64 },
  );
  assert.equal(getAvp(decodeControl(real, { secret }), AvpType.ProxyAuthenName), "carol");
});

Deno.test("hide: L2TPv3 hides with the derived key HMAC_MD5(secret, 1)", () => {
  const secret = te.encode("v3-secret");
  const derived = new Uint8Array(createHmac("md5", secret).update(new Uint8Array([1])).digest());
  assert.deepEqual(hidingKey(3, secret), derived);
  assert.deepEqual(hidingKey(2, secret), secret);
  const endId = te.encode("ge-0/0/1.100");
  const bytes = encodeControl(
    {
      version: 3,
      tunnelId: 9,
      ns: 1,
      nr: 1,
      type: MessageType.ICRQ,
      avps: [
        { type: AvpType.RandomVector, value: RV },
        { type: AvpType.LocalSessionId, value: 5, hidden: true },
        { type: AvpType.RemoteEndId, value: endId, hidden: true },
      ],
    },
    { secret },
  );
  // RV given explicitly: no extra Random Vector AVP is inserted.
  const msg = decodeControl(bytes, { secret });
  assert.equal(getAvps(msg, AvpType.RandomVector).length, 1);
  assert.equal(getAvp(msg, AvpType.LocalSessionId), 5);
  assert.deepEqual(getAvp(msg, AvpType.RemoteEndId), endId);
  // The Remote End ID AVP is the last one: check its bytes independently.
  const hidden = referenceHide(66, derived, RV, endId);
  assert.equal(toHex(bytes.subarray(bytes.length - hidden.length)), toHex(hidden));
  // The L2TPv2 scheme (the raw secret as key) does not reveal it.
  assert.throws(() => unhideAvpValue(66, hidden, secret, RV), ParseError);
});

Deno.test("hide: each hidden AVP uses the closest preceding Random Vector", () => {
  const secret = te.encode("two-vectors");
  const rv2 = new Uint8Array([7, 7, 7]);
  const bytes = encodeControl(
    {
      version: 2,
      tunnelId: 1,
      ns: 0,
      nr: 0,
      type: MessageType.ICRQ,
      avps: [
        { type: AvpType.AssignedSessionId, value: 1, hidden: true },
        { type: AvpType.RandomVector, value: rv2 },
        { type: AvpType.CallSerialNumber, value: 2, hidden: true },
      ],
    },
    { secret, randomBytes: scripted(RV) },
  );
  const msg = decodeControl(bytes, { secret });
  assert.deepEqual(getAvps(msg, AvpType.RandomVector), [RV, rv2]);
  assert.equal(getAvp(msg, AvpType.AssignedSessionId), 1);
  assert.equal(getAvp(msg, AvpType.CallSerialNumber), 2);
  const serial = referenceHide(15, secret, rv2, new Uint8Array([0, 0, 0, 2]));
  assert.equal(toHex(bytes.subarray(bytes.length - 6)), toHex(serial));
});

Deno.test("hide: a wrong secret is detected as bad-hidden-length", () => {
  const bytes = encodeControl(
    {
      version: 2,
      tunnelId: 1,
      ns: 0,
      nr: 0,
      type: MessageType.ICRQ,
      avps: [{ type: AvpType.AssignedSessionId, value: 0x4242, hidden: true }],
    },
    { secret: "right", randomBytes: scripted(RV) },
  );
  assert.throws(() => decodeControl(bytes, { secret: "wrong" }), (e: unknown) => {
    return e instanceof ParseError && e.reason === "bad-hidden-length" && e.offset === 42;
  });
});

Deno.test("hide: hiddenPadding outside 0..255 is a RangeError", () => {
  const msg = { version: 2 as const, tunnelId: 1, ns: 0, nr: 0, type: MessageType.HELLO };
  assert.throws(() => encodeControl(msg, { hiddenPadding: 256 }), RangeError);
  assert.throws(() => encodeControl(msg, { hiddenPadding: -1 }), RangeError);
  assert.throws(() => encodeControl(msg, { hiddenPadding: 1.5 }), RangeError);
});

Deno.test("hide: unhideAvpValue rejects subformats shorter than the length prefix", () => {
  assert.throws(() => unhideAvpValue(9, new Uint8Array([1]), te.encode("k"), RV), ParseError);
  assert.throws(() => hideAvpValue(9, new Uint8Array(70000), te.encode("k"), RV), RangeError);
});
