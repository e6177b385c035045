import assert from "node:assert/strict";
import {
  AttributeDecoder,
  AttributeEncoder,
  decodeAttributes,
  nlaAlign,
} from "../../dataplane/netlink/attr.ts";
import { NetlinkDecodeError } from "../../dataplane/netlink/errors.ts";

function hex(s: string): Uint8Array {
  return new Uint8Array(s.trim().split(/\s+/).map((b) => parseInt(b, 16)));
}

Deno.test("nlaAlign rounds up to 4 bytes", () => {
  assert.deepEqual([0, 1, 4, 5, 7, 8].map(nlaAlign), [0, 4, 4, 8, 8, 8]);
});

Deno.test("AttributeEncoder writes the kernel's wire format with padding", () => {
  const bytes = new AttributeEncoder()
    .u8(7, 3)
    .u16(2, 0x0102)
    .u32(9, 0x01020304)
    .u64(1, 0x0102030405060708n)
    .s32(23, -2)
    .string(8, "eth0")
    .flag(33)
    .bytes(15, new Uint8Array([0xaa, 0xbb, 0xcc]))
    .encode();
  const want = hex(`
    05 00 07 00 03 00 00 00
    06 00 02 00 02 01 00 00
    08 00 09 00 04 03 02 01
    0c 00 01 00 08 07 06 05 04 03 02 01
    08 00 17 00 fe ff ff ff
    09 00 08 00 65 74 68 30 00 00 00 00
    04 00 21 00
    07 00 0f 00 aa bb cc 00`);
  assert.deepEqual(bytes, want);
});

Deno.test("AttributeEncoder sets NLA_F_NESTED and NLA_F_NET_BYTEORDER", () => {
  // 0x801e = NLA_F_NESTED | 30; 0x401a = NLA_F_NET_BYTEORDER | 26 with 1701 big-endian.
  const bytes = new AttributeEncoder()
    .nested(30, (n) => n.u16(26, 1701, true))
    .nested(30, (n) => n.flag(1), false)
    .encode();
  assert.deepEqual(
    bytes,
    hex(`0c 00 1e 80  06 00 1a 40 06 a5 00 00
         08 00 1e 00  04 00 01 00`),
  );
});

Deno.test("AttributeEncoder grows past its first buffer; view() is stable and uncopied", () => {
  const ae = new AttributeEncoder().u32(1, 0xdeadbeef);
  const first = ae.view();
  assert.deepEqual(first, hex("08 00 01 00 ef be ad de"));
  for (let i = 2; i <= 40; i++) ae.u32(i, i).string(100 + i, "x".repeat(i));
  assert.deepEqual(first, hex("08 00 01 00 ef be ad de"), "later appends leave it alone");
  const all = decodeAttributes(ae.view());
  assert.equal(all.length, 1 + 39 * 2);
  assert.equal(ae.view().length, ae.length);
  assert.deepEqual(ae.encode(), ae.view());
  assert.notEqual(ae.encode().buffer, ae.view().buffer, "encode() copies");
  const ad = new AttributeDecoder(ae.view());
  const seen: number[] = [];
  while (ad.next()) if (ad.type < 100) seen.push(ad.u32());
  assert.deepEqual(seen, [0xdeadbeef, ...Array.from({ length: 39 }, (_, i) => i + 2)]);
});

Deno.test("AttributeEncoder rejects out-of-range values with RangeError", () => {
  const ae = new AttributeEncoder();
  assert.throws(() => ae.u8(1, 256), RangeError);
  assert.throws(() => ae.u16(1, -1), RangeError);
  assert.throws(() => ae.u32(1, 2 ** 32), RangeError);
  assert.throws(() => ae.u32(1, 1.5), RangeError);
  assert.throws(() => ae.u64(1, -1n), RangeError);
  assert.throws(() => ae.u64(1, 2n ** 64n), RangeError);
  assert.throws(() => ae.s32(1, 2 ** 31), RangeError);
  assert.throws(() => ae.u8(0x4000, 1), /type 16384 is not in 0..16383/);
  assert.throws(() => ae.string(1, "a\0b"), TypeError);
  assert.throws(() => ae.bytes(1, new Uint8Array(0xffff)), RangeError);
  assert.equal(ae.length, 0);
});

Deno.test("AttributeDecoder reads typed values and flags", () => {
  const bytes = new AttributeEncoder()
    .u8(7, 3)
    .u16(2, 1)
    .u32(9, 42)
    .u64(22, 2n ** 63n)
    .s32(23, -7)
    .string(8, "l2tpeth0")
    .flag(33)
    .u32(24, 0xc0000201, true)
    .encode();
  const ad = new AttributeDecoder(bytes);
  const seen: unknown[] = [];
  while (ad.next()) {
    switch (ad.type) {
      case 7:
        seen.push(ad.u8());
        break;
      case 2:
        seen.push(ad.u16());
        break;
      case 9:
        seen.push(ad.u32());
        break;
      case 22:
        seen.push(ad.u64());
        break;
      case 23:
        seen.push(ad.s32());
        break;
      case 8:
        seen.push(ad.string());
        break;
      case 33:
        seen.push(ad.flag());
        break;
      case 24:
        assert.equal(ad.current.netByteOrder, true);
        seen.push(ad.u32());
        break;
    }
  }
  assert.deepEqual(seen, [3, 1, 42, 2n ** 63n, -7, "l2tpeth0", true, 0xc0000201]);
  assert.equal(ad.next(), false);
});

Deno.test("AttributeDecoder descends into nests with absolute offsets", () => {
  const bytes = new AttributeEncoder().u32(9, 1).nested(30, (n) => n.u64(1, 5n).u64(2, 6n))
    .encode();
  const attrs = decodeAttributes(bytes);
  assert.deepEqual(attrs.map((a) => [a.type, a.nested, a.offset]), [[9, false, 0], [
    30,
    true,
    8,
  ]]);
  const ad = new AttributeDecoder(bytes);
  ad.next();
  ad.next();
  const inner = [...ad.nested()];
  assert.deepEqual(inner.map((a) => [a.type, a.offset]), [[1, 12], [2, 24]]);
});

Deno.test("AttributeDecoder accepts a final attribute without its padding", () => {
  const attrs = decodeAttributes(hex("08 00 09 00 01 00 00 00 05 00 07 00 03"));
  assert.deepEqual(attrs.map((a) => a.type), [9, 7]);
  assert.deepEqual(attrs[1].data, new Uint8Array([3]));
});

Deno.test("AttributeDecoder: truncated header is a NetlinkDecodeError", () => {
  assert.throws(
    () => decodeAttributes(hex("08 00 09 00 01 00 00 00 05 00")),
    NetlinkDecodeError,
  );
  assert.throws(
    () => decodeAttributes(hex("08 00 09 00 01 00 00 00 05 00")),
    /offset 8: 2 trailing bytes are too short/,
  );
});

Deno.test("AttributeDecoder: nla_len shorter than the header is a NetlinkDecodeError", () => {
  assert.throws(
    () => decodeAttributes(hex("02 00 09 00 01 00 00 00")),
    (e: unknown) =>
      e instanceof NetlinkDecodeError && e.offset === 0 &&
      /length 2 is shorter than its 4-byte header/.test(e.message),
  );
});

Deno.test("AttributeDecoder: nla_len past the end is a NetlinkDecodeError", () => {
  assert.throws(
    () => decodeAttributes(hex("08 00 09 00 01 00 00 00 10 00 0a 00 01 00 00 00")),
    (e: unknown) =>
      e instanceof NetlinkDecodeError && e.offset === 8 &&
      /length 16 runs past the end of the buffer \(8 bytes left\)/.test(e.message),
  );
});

Deno.test("AttributeDecoder: bad length inside a nest reports the absolute offset", () => {
  // STATS nest (len 16) holding an attribute claiming 32 bytes.
  const bytes = hex("10 00 1e 00 20 00 01 00 00 00 00 00 00 00 00 00");
  const ad = new AttributeDecoder(bytes, 20);
  assert.equal(ad.next(), true);
  const inner = ad.nested();
  assert.throws(
    () => inner.next(),
    (e: unknown) => e instanceof NetlinkDecodeError && e.offset === 24,
  );
});

Deno.test("AttributeDecoder: typed getters check the payload size", () => {
  const ad = new AttributeDecoder(hex("06 00 09 00 01 00 00 00 05 00 21 00 01 00 00 00"));
  ad.next();
  assert.throws(() => ad.u32(), /attribute 9 has 2 payload bytes, u32 needs 4/);
  assert.throws(() => ad.u8(), NetlinkDecodeError);
  assert.equal(ad.u16(), 1);
  ad.next();
  assert.throws(() => ad.flag(), /attribute 33 has 1 payload bytes, flag needs 0/);
});

Deno.test("AttributeDecoder: getters before next() throw RangeError", () => {
  const ad = new AttributeDecoder(new Uint8Array(0));
  assert.throws(() => ad.u32(), RangeError);
  assert.equal(ad.next(), false);
});

Deno.test("AttributeDecoder: invalid UTF-8 string is a NetlinkDecodeError", () => {
  const ad = new AttributeDecoder(hex("06 00 08 00 ff fe 00 00"));
  ad.next();
  assert.throws(() => ad.string(), NetlinkDecodeError);
});
