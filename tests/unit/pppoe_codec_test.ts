import { BROADCAST_MAC, formatMac } from "../../control/mac.ts";
import assert from "node:assert/strict";
import {
  decodePppoe,
  encodedPppoeLength,
  encodePppoe,
  findTag,
  findTagText,
  isPppoeCode,
  PPPOE_DECODE_REASONS,
  PPPOE_MAX_LENGTH,
  PPPOE_MAX_PAYLOAD,
  PppoeCode,
  pppoeCodeName,
  type PppoeCodeValue,
  PppoeDecodeError,
  type PppoeDecodeReason,
  type PppoePacket,
  PppoeTagType,
  sameBytes,
  tag,
} from "../../control/pppoe/codec.ts";
import { prng } from "./_prng.ts";

function decodeError(bytes: Uint8Array): PppoeDecodeError {
  try {
    decodePppoe(bytes);
  } catch (e) {
    if (e instanceof PppoeDecodeError) return e;
    throw e;
  }
  assert.fail("decoded, but an error was expected");
}

const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

/** Bytes from hexadecimal, spaces ignored. */
function fromHex(text: string): Uint8Array {
  const h = text.replace(/\s+/g, "");
  return new Uint8Array(h.length / 2).map((_, i) => parseInt(h.slice(2 * i, 2 * i + 2), 16));
}

Deno.test("constants: codes and tag types are RFC 2516's (§5, Appendix A)", () => {
  assert.deepEqual(
    [PppoeCode.PADI, PppoeCode.PADO, PppoeCode.PADR, PppoeCode.PADS, PppoeCode.PADT],
    [0x09, 0x07, 0x19, 0x65, 0xa7],
  );
  assert.deepEqual(Object.values(PppoeTagType), [
    0x0000,
    0x0101,
    0x0102,
    0x0103,
    0x0104,
    0x0105,
    0x0110,
    0x0201,
    0x0202,
    0x0203,
  ]);
  assert.equal(PPPOE_MAX_LENGTH, 1494);
  assert.equal(PPPOE_DECODE_REASONS.length, new Set(PPPOE_DECODE_REASONS).size);
});

Deno.test("golden: a PADI built by hand from the §4 layout decodes and re-encodes exactly", () => {
  // VER/TYPE 0x11, CODE 0x09, SESSION_ID 0, LENGTH 12; Service-Name "" and Host-Uniq deadbeef.
  const wire = fromHex(
    "11 09 0000 000c" + // VER/TYPE, CODE, SESSION_ID, LENGTH
      "0101 0000" + // Service-Name, empty
      "0103 0004 deadbeef", // Host-Uniq
  );
  const p = decodePppoe(wire);
  assert.equal(p.code, PppoeCode.PADI);
  assert.equal(p.sessionId, 0);
  assert.deepEqual(p.tags, [
    { type: 0x0101, value: bytes() },
    { type: 0x0103, value: bytes(0xde, 0xad, 0xbe, 0xef) },
  ]);
  const built = encodePppoe({
    code: PppoeCode.PADI,
    sessionId: 0,
    tags: [
      tag(PppoeTagType.SERVICE_NAME, ""),
      tag(PppoeTagType.HOST_UNIQ, bytes(0xde, 0xad, 0xbe, 0xef)),
    ],
  });
  assert.deepEqual(built, wire);
});

Deno.test("golden: a PADS built by hand from the §4 layout decodes and re-encodes exactly", () => {
  // CODE 0x65, SESSION_ID 0x1234, LENGTH 13; Service-Name "isp", Host-Uniq 0102.
  const wire = fromHex(
    "11 65 1234 000d" + // VER/TYPE, CODE, SESSION_ID, LENGTH
      "0101 0003 697370" + // Service-Name "isp"
      "0103 0002 0102", // Host-Uniq
  );
  const p = decodePppoe(wire);
  assert.equal(p.code, PppoeCode.PADS);
  assert.equal(p.sessionId, 0x1234);
  assert.equal(findTagText(p, PppoeTagType.SERVICE_NAME), "isp");
  assert.deepEqual(findTag(p, PppoeTagType.HOST_UNIQ), bytes(1, 2));
  assert.deepEqual(encodePppoe(p), wire);
});

Deno.test("round trip: every code, with known, vendor and unknown tags kept in order", () => {
  for (const code of Object.values(PppoeCode)) {
    const packet: PppoePacket = {
      code,
      sessionId: code === PppoeCode.PADS || code === PppoeCode.PADT ? 0xbeef : 0,
      tags: [
        tag(PppoeTagType.VENDOR_SPECIFIC, bytes(0, 0, 0x0d, 0xe9, 1, 2)),
        tag(0x7777, bytes(9, 9, 9)),
        tag(PppoeTagType.SERVICE_NAME, "svc"),
        tag(PppoeTagType.RELAY_SESSION_ID, bytes(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)),
        tag(PppoeTagType.AC_NAME, "ac"),
        tag(0x7777, bytes()),
        tag(PppoeTagType.GENERIC_ERROR, "é"),
      ],
    };
    const wire = encodePppoe(packet);
    assert.equal(wire.length, encodedPppoeLength(packet));
    assert.deepEqual(decodePppoe(wire), packet);
  }
});

Deno.test("decode: Ethernet padding after LENGTH is ignored", () => {
  const padt = encodePppoe({ code: PppoeCode.PADT, sessionId: 7, tags: [tag(0x0203, "x")] });
  const frame = new Uint8Array(46).fill(0xaa);
  frame.set(padt);
  assert.deepEqual(decodePppoe(frame), decodePppoe(padt));
  assert.equal(decodePppoe(frame).tags.length, 1);
});

Deno.test("decode: tags after End-Of-List are ignored, even ones that would not decode", () => {
  // Service-Name "a", End-Of-List, then a tag claiming 255 bytes of which there are none.
  const wire = bytes(0x11, 0x09, 0, 0, 0, 13, 1, 1, 0, 1, 0x61, 0, 0, 0, 0, 1, 3, 0, 0xff);
  const p = decodePppoe(wire);
  assert.deepEqual(p.tags, [{ type: PppoeTagType.SERVICE_NAME, value: bytes(0x61) }]);
  // End-Of-List with a (legal) nonzero length is still the end.
  const p2 = decodePppoe(bytes(0x11, 0x09, 0, 0, 0, 6, 0, 0, 0, 2, 0xff, 0xff));
  assert.deepEqual(p2.tags, []);
});

Deno.test("decode: tag values are copies, not views of the receive buffer", () => {
  const wire = encodePppoe({
    code: PppoeCode.PADI,
    sessionId: 0,
    tags: [tag(PppoeTagType.HOST_UNIQ, bytes(1, 2, 3))],
  });
  const p = decodePppoe(wire);
  wire.fill(0);
  assert.deepEqual(findTag(p, PppoeTagType.HOST_UNIQ), bytes(1, 2, 3));
});

Deno.test("decode: the largest packet (LENGTH 1494, 1500 bytes) decodes", () => {
  const p: PppoePacket = {
    code: PppoeCode.PADI,
    sessionId: 0,
    tags: [tag(PppoeTagType.SERVICE_NAME, ""), tag(0x7000, new Uint8Array(1490 - 4))],
  };
  const wire = encodePppoe(p);
  assert.equal(wire.length, PPPOE_MAX_PAYLOAD);
  assert.deepEqual(decodePppoe(wire), p);
});

Deno.test("malformed: fewer than 6 bytes is truncated", () => {
  for (let n = 0; n < 6; n++) {
    const e = decodeError(new Uint8Array([0x11, 0x09, 0, 0, 0, 0]).subarray(0, n));
    assert.equal(e.reason, "truncated");
    assert.equal(e.offset, 0);
    assert.match(e.message, /^Cannot decode PPPoE packet: /);
  }
});

Deno.test("malformed: VER other than 1 is bad-version, TYPE other than 1 is bad-type", () => {
  for (const b of [0x01, 0x21, 0xf1, 0x00]) {
    assert.equal(decodeError(bytes(b, 0x09, 0, 0, 0, 0)).reason, "bad-version");
  }
  for (const b of [0x10, 0x12, 0x1f]) {
    assert.equal(decodeError(bytes(b, 0x09, 0, 0, 0, 0)).reason, "bad-type");
  }
});

Deno.test("malformed: a CODE that is no discovery code is unknown-code", () => {
  for (const code of [0x00, 0x08, 0x66, 0xff]) {
    const e = decodeError(bytes(0x11, code, 0, 0, 0, 0));
    assert.equal(e.reason, "unknown-code");
    assert.equal(e.offset, 1);
  }
});

Deno.test("malformed: LENGTH larger than the frame is length-overrun", () => {
  const e = decodeError(bytes(0x11, 0x09, 0, 0, 0, 5, 1, 1, 0, 0));
  assert.equal(e.reason, "length-overrun");
  assert.equal(e.offset, 4);
});

Deno.test("malformed: LENGTH above 1494 is oversize, even when the bytes are there", () => {
  const wire = new Uint8Array(6 + 1495);
  wire.set([0x11, 0x09, 0, 0, 0x05, 0xd7]);
  assert.equal(decodeError(wire).reason, "oversize");
});

Deno.test("malformed: a partial tag header inside LENGTH is tag-truncated", () => {
  for (let n = 1; n < 4; n++) {
    const wire = new Uint8Array(6 + n);
    wire.set([0x11, 0x09, 0, 0, 0, n]);
    wire[6] = 0x01;
    const e = decodeError(wire);
    assert.equal(e.reason, "tag-truncated");
    assert.equal(e.offset, 6);
  }
});

Deno.test("malformed: a tag running past LENGTH is tag-overrun (padding does not count)", () => {
  // Service-Name claiming 4 bytes, LENGTH covers only 2 of them; the padding holds the rest.
  const wire = bytes(0x11, 0x09, 0, 0, 0, 6, 1, 1, 0, 4, 0x61, 0x62, 0x63, 0x64, 0, 0);
  const e = decodeError(wire);
  assert.equal(e.reason, "tag-overrun");
  assert.equal(e.offset, 6);
  // The second tag overruns after a good first one.
  const e2 = decodeError(bytes(0x11, 0x09, 0, 0, 0, 9, 1, 1, 0, 0, 1, 3, 0, 2, 0xaa));
  assert.equal(e2.reason, "tag-overrun");
  assert.equal(e2.offset, 10);
});

Deno.test("encode: out-of-range fields throw RangeError with a 'Cannot encode' message", () => {
  const cases: PppoePacket[] = [
    { code: PppoeCode.PADT, sessionId: 0x10000, tags: [] },
    { code: PppoeCode.PADT, sessionId: -1, tags: [] },
    { code: PppoeCode.PADT, sessionId: 1.5, tags: [] },
    { code: 0x42 as PppoeCodeValue, sessionId: 0, tags: [] },
    { code: PppoeCode.PADI, sessionId: 0, tags: [tag(0x10000, bytes())] },
    { code: PppoeCode.PADI, sessionId: 0, tags: [tag(0x0101, new Uint8Array(0x10000))] },
    { code: PppoeCode.PADI, sessionId: 0, tags: [tag(0x0101, new Uint8Array(1491))] },
  ];
  for (const p of cases) {
    assert.throws(() => encodePppoe(p), (e: unknown) => {
      return e instanceof RangeError && e.message.startsWith("Cannot encode PPPoE packet: ");
    });
  }
  // One byte less fits exactly.
  assert.equal(
    encodePppoe({ code: PppoeCode.PADI, sessionId: 0, tags: [tag(0x0101, new Uint8Array(1490))] })
      .length,
    1500,
  );
});

Deno.test("helpers: names, tag lookup, MAC formatting and byte comparison", () => {
  assert.equal(pppoeCodeName(PppoeCode.PADR), "PADR");
  assert.equal(pppoeCodeName(0x01), "CODE-0x01");
  assert.ok(isPppoeCode(0xa7));
  assert.ok(!isPppoeCode(0xa8));
  const p: PppoePacket = {
    code: PppoeCode.PADO,
    sessionId: 0,
    tags: [tag(0x0101, "first"), tag(0x0101, "second"), tag(0x0102, bytes(0xff))],
  };
  assert.equal(findTagText(p, 0x0101), "first");
  assert.equal(findTagText(p, 0x0102), "\ufffd");
  assert.equal(findTagText(p, 0x0103), undefined);
  assert.equal(formatMac(BROADCAST_MAC), "ff:ff:ff:ff:ff:ff");
  assert.ok(sameBytes(bytes(1, 2), bytes(1, 2)));
  assert.ok(!sameBytes(bytes(1, 2), bytes(1, 3)));
  assert.ok(!sameBytes(bytes(1), bytes(1, 2)));
});

Deno.test("fuzz: 20,000 random and mutated payloads decode or throw PppoeDecodeError", () => {
  const rand = prng(0x2516);
  const int = (n: number): number => Math.floor(rand() * n);
  const seeds = [
    encodePppoe({
      code: PppoeCode.PADI,
      sessionId: 0,
      tags: [tag(0x0101, ""), tag(0x0103, bytes(1, 2, 3, 4))],
    }),
    encodePppoe({
      code: PppoeCode.PADR,
      sessionId: 0,
      tags: [tag(0x0101, "isp"), tag(0x0104, new Uint8Array(24)), tag(0x0110, bytes(7, 7))],
    }),
    encodePppoe({ code: PppoeCode.PADT, sessionId: 0x1234, tags: [tag(0x0203, "bye")] }),
  ];
  const reasons = new Map<PppoeDecodeReason, number>();
  let decoded = 0;
  for (let i = 0; i < 20_000; i++) {
    let input: Uint8Array;
    if (i % 4 === 0) {
      input = new Uint8Array(int(80));
      for (let j = 0; j < input.length; j++) input[j] = int(256);
      if (input.length > 0 && rand() < 0.5) input[0] = 0x11;
    } else {
      const seed = seeds[int(seeds.length)];
      const extra = int(3) === 0 ? int(20) : 0;
      input = new Uint8Array(Math.max(0, seed.length + extra - (int(4) === 0 ? int(10) : 0)));
      input.set(seed.subarray(0, input.length));
      for (let k = int(4); k > 0; k--) {
        if (input.length > 0) input[int(input.length)] = int(256);
      }
    }
    try {
      const p = decodePppoe(input);
      decoded++;
      assert.deepEqual(decodePppoe(encodePppoe(p)), p);
    } catch (e) {
      if (!(e instanceof PppoeDecodeError)) throw e;
      reasons.set(e.reason, (reasons.get(e.reason) ?? 0) + 1);
    }
  }
  assert.ok(decoded > 2_000, `decoded only ${decoded}`);
  for (
    const r of [
      "truncated",
      "bad-version",
      "bad-type",
      "unknown-code",
      "length-overrun",
      "tag-truncated",
      "tag-overrun",
    ] as const
  ) {
    assert.ok((reasons.get(r) ?? 0) > 0, `never rejected as ${r}: ${[...reasons]}`);
  }
});
