/**
 * Control connection authentication: the L2TPv2 CHAP-MD5 challenge response (RFC 2661 §4.2)
 * and the L2TPv3 Message Digest (RFC 3931 §4.3, §5.4.1). Known answers were computed outside
 * this code base (Python hashlib/hmac and md5sum).
 */

import assert from "node:assert/strict";
import {
  chapResponse,
  digestKey,
  digestLength,
  isDigestType,
  signMessageDigest,
  verifyChapResponse,
  verifyMessageDigest,
} from "../../control/auth.ts";
import { AvpType, DigestType, MessageType } from "../../control/constants.ts";
import { ParseError } from "../../control/errors.ts";
import {
  decodeControl,
  encodeControl,
  type OutgoingControlMessage,
} from "../../control/message.ts";
import { parseHex, toHex } from "../fixtures/codec/hex.ts";
import { v3Samples } from "../fixtures/codec/samples.ts";

const CHALLENGE = new Uint8Array([0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4]);
const A = new Uint8Array(16).fill(0x11);
const B = new Uint8Array(16).fill(0x22);

Deno.test("CHAP: response = MD5(message type + secret + challenge), known answers", () => {
  // printf '\x02tunnel-secret\xde\xad\xbe\xef\x01\x02\x03\x04' | md5sum
  assert.equal(
    toHex(chapResponse(MessageType.SCCRP, "tunnel-secret", CHALLENGE)),
    "43dfee4245bca8fa83a96d94c8dda59a",
  );
  assert.equal(
    toHex(chapResponse(MessageType.SCCCN, new TextEncoder().encode("tunnel-secret"), CHALLENGE)),
    "2ffc48f19d64b1a46a74324747d42314",
  );
});

Deno.test("CHAP: verification accepts the right response only", () => {
  const r = chapResponse(2, "s", CHALLENGE);
  assert.equal(verifyChapResponse(2, "s", CHALLENGE, r), true);
  assert.equal(verifyChapResponse(3, "s", CHALLENGE, r), false, "other message type");
  assert.equal(verifyChapResponse(2, "t", CHALLENGE, r), false, "other secret");
  assert.equal(verifyChapResponse(2, "s", CHALLENGE.subarray(1), r), false, "other challenge");
  assert.equal(verifyChapResponse(2, "s", CHALLENGE, r.subarray(0, 15)), false, "short");
  const flipped = r.slice();
  flipped[15] ^= 1;
  assert.equal(verifyChapResponse(2, "s", CHALLENGE, flipped), false, "one bit off");
});

Deno.test("digest key: HMAC_MD5(secret, 2), known answers (also for the empty secret)", () => {
  assert.equal(toHex(digestKey("secret")), "21dc457145ad58f4b1497ae27d2a87b4");
  assert.equal(toHex(digestKey("")), "7b6085fbf45933670abcb07a27fcea5e");
  assert.equal(digestLength(DigestType.HmacMd5), 16);
  assert.equal(digestLength(DigestType.HmacSha1), 20);
  assert.equal(digestLength(7), 0);
  assert.equal(isDigestType(1), true);
  assert.equal(isDigestType(2), false);
});

const HELLO: OutgoingControlMessage = {
  version: 3,
  tunnelId: 0x01020304,
  ns: 1,
  nr: 2,
  type: MessageType.HELLO,
};

Deno.test("digest: HMAC-MD5 over local nonce + remote nonce + message, known answer", () => {
  // python3: hmac.new(hmac.new(b"secret", b"\\x02", md5).digest(), A + B + msg_zeroed, md5)
  const bytes = encodeControl(HELLO, {
    digest: { key: digestKey("secret"), localNonce: A, remoteNonce: B },
  });
  assert.equal(
    toHex(bytes),
    toHex(parseHex(`
      c8 03 00 2b 01 02 03 04 00 01 00 02
      80 08 00 00 00 00 00 06
      80 17 00 00 00 3b 00 e5 99 a9 c5 cd ff 17 71 47 8f 02 13 16 92 7b 30`)),
  );
});

Deno.test("digest: HMAC-SHA-1, known answer", () => {
  const bytes = encodeControl(HELLO, {
    digest: { type: DigestType.HmacSha1, key: digestKey("secret"), localNonce: A, remoteNonce: B },
  });
  assert.equal(toHex(bytes.subarray(27)), "d914807dd0d80c854ef6dccae4dccc6c584855b5");
  assert.equal(bytes[3], 47);
});

Deno.test("digest: the receiver verifies with its own view (nonces reversed)", () => {
  const key = digestKey("secret");
  const bytes = encodeControl(HELLO, { digest: { key, localNonce: A, remoteNonce: B } });
  assert.equal(verifyMessageDigest(bytes, { key, localNonce: B, remoteNonce: A }), "valid");
  assert.equal(verifyMessageDigest(bytes, { key, localNonce: A, remoteNonce: B }), "invalid");
  assert.equal(
    verifyMessageDigest(bytes, { key: digestKey("other"), localNonce: B, remoteNonce: A }),
    "invalid",
  );
  assert.equal(verifyMessageDigest(bytes, { key }), "invalid", "nonces are required after SCCRQ");
});

Deno.test("digest: tampering with any byte of header or body is detected", () => {
  const key = digestKey("secret");
  const msg = v3Samples()[4]; // ICRQ with many AVPs
  const bytes = encodeControl(msg, { digest: { key, localNonce: A, remoteNonce: B } });
  const ctx = { key, localNonce: B, remoteNonce: A };
  assert.equal(verifyMessageDigest(bytes, ctx), "valid");
  for (let i = 0; i < bytes.length; i++) {
    if (i === 2 || i === 3) continue; // Length: changing it makes the message malformed instead
    const t = bytes.slice();
    t[i] ^= 0x01;
    let verdict: string;
    try {
      verdict = verifyMessageDigest(t, ctx);
    } catch (e) {
      assert.ok(e instanceof ParseError, `byte ${i}: ${e}`);
      continue;
    }
    // "missing" when the flip hits the digest AVP's vendor or type: rejected all the same.
    assert.notEqual(verdict, "valid", `byte ${i} flipped`);
  }
});

Deno.test("digest: the SCCRQ is digested without nonces (RFC 3931 §5.4.1)", () => {
  const key = digestKey("secret");
  const sccrq = v3Samples(A)[0];
  const bytes = encodeControl(sccrq, { digest: { key, localNonce: A, remoteNonce: B } });
  assert.equal(verifyMessageDigest(bytes, { key }), "valid");
  assert.equal(verifyMessageDigest(bytes, { key, localNonce: B, remoteNonce: A }), "valid");
  const other = encodeControl(sccrq, { digest: { key } });
  assert.deepEqual(bytes, other);
});

Deno.test("digest: two Message Digest AVPs, accepted if either verifies", () => {
  const key = digestKey("new-secret");
  const msg: OutgoingControlMessage = {
    ...HELLO,
    avps: [
      { type: AvpType.MessageDigest, value: { digestType: 0, digest: new Uint8Array(16) } },
      { type: AvpType.MessageDigest, value: { digestType: 1, digest: new Uint8Array(20) } },
    ],
  };
  const bytes = encodeControl(msg, { digest: { key, localNonce: A, remoteNonce: B } });
  const decoded = decodeControl(bytes);
  assert.deepEqual(decoded.avps.map((a) => a.type), [59, 59]);
  assert.equal(verifyMessageDigest(bytes, { key, localNonce: B, remoteNonce: A }), "valid");
  // Corrupt the first digest: the second still verifies.
  const t = bytes.slice();
  t[28] ^= 0xff;
  assert.equal(verifyMessageDigest(t, { key, localNonce: B, remoteNonce: A }), "valid");
  // Corrupt both.
  t[52] ^= 0xff;
  assert.equal(verifyMessageDigest(t, { key, localNonce: B, remoteNonce: A }), "invalid");
});

Deno.test("digest: signMessageDigest fills an encoded message in place", () => {
  const key = digestKey("k");
  const bytes = encodeControl({
    ...HELLO,
    avps: [{ type: AvpType.MessageDigest, value: { digestType: 0, digest: new Uint8Array(16) } }],
  });
  assert.equal(verifyMessageDigest(bytes, { key }), "invalid");
  assert.equal(signMessageDigest(bytes, { key }), 1);
  assert.equal(verifyMessageDigest(bytes, { key }), "valid");
  const none = encodeControl(HELLO);
  assert.equal(signMessageDigest(none, { key }), 0);
  assert.equal(verifyMessageDigest(none, { key }), "missing");
});

Deno.test("digest: decodeControl checks it before decoding (bad-digest, missing-digest)", () => {
  const key = digestKey("secret");
  const bytes = encodeControl(HELLO, { digest: { key, localNonce: A, remoteNonce: B } });
  const ctx = { key, localNonce: B, remoteNonce: A, required: true };
  assert.equal(decodeControl(bytes, { digest: ctx }).type, MessageType.HELLO);
  const t = bytes.slice();
  t[9] ^= 1; // Ns
  assert.throws(() => decodeControl(t, { digest: ctx }), (e: unknown) => {
    return e instanceof ParseError && e.reason === "bad-digest";
  });
  const plain = encodeControl(HELLO);
  assert.throws(() => decodeControl(plain, { digest: ctx }), (e: unknown) => {
    return e instanceof ParseError && e.reason === "missing-digest";
  });
  assert.equal(decodeControl(plain, { digest: { ...ctx, required: false } }).type, 6);
  // Over IP, the zero session ID is not part of the digest.
  const ip = encodeControl(HELLO, {
    transport: "ip",
    digest: { key, localNonce: A, remoteNonce: B },
  });
  assert.deepEqual(ip.subarray(4), bytes);
  assert.equal(decodeControl(ip, { transport: "ip", digest: ctx }).ns, 1);
});

Deno.test("digest: a malformed or hidden Message Digest AVP is a ParseError", () => {
  const bytes = encodeControl(HELLO, { digest: { key: digestKey("") } });
  const hidden = bytes.slice();
  hidden[20] |= 0x40;
  assert.throws(() => verifyMessageDigest(hidden, { key: digestKey("") }), ParseError);
  const badType = bytes.slice();
  badType[26] = 5;
  assert.throws(() => verifyMessageDigest(badType, { key: digestKey("") }), ParseError);
  assert.throws(
    () => verifyMessageDigest(bytes.subarray(0, 30), { key: digestKey("") }),
    ParseError,
  );
});
