import assert from "node:assert/strict";
import { AttributeEncoder } from "../../dataplane/netlink/attr.ts";
import { NetlinkDecodeError, NetlinkError } from "../../dataplane/netlink/errors.ts";
import {
  decodeDone,
  decodeErrorPayload,
  decodeGenl,
  decodeMessages,
  encodeDone,
  encodeError,
  encodeGenlMessage,
  encodeMessage,
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_DUMP,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
} from "../../dataplane/netlink/message.ts";

function hex(s: string): Uint8Array {
  return new Uint8Array(s.trim().split(/\s+/).map((b) => parseInt(b, 16)));
}

Deno.test("encodeMessage writes nlmsghdr and pads the payload", () => {
  const bytes = encodeMessage({
    type: 0x1c,
    flags: NLM_F_REQUEST | NLM_F_ACK,
    sequence: 0x01020304,
    pid: 4242,
    data: new Uint8Array([1, 2, 3, 4, 5]),
  });
  assert.deepEqual(
    bytes,
    hex(`15 00 00 00 1c 00 05 00 04 03 02 01 92 10 00 00
         01 02 03 04 05 00 00 00`),
  );
});

Deno.test("encodeMessage rejects out-of-range header fields", () => {
  const base = { type: 1, flags: 0, sequence: 0, pid: 0, data: new Uint8Array(0) };
  assert.throws(() => encodeMessage({ ...base, type: 0x10000 }), RangeError);
  assert.throws(() => encodeMessage({ ...base, sequence: -1 }), RangeError);
});

Deno.test("NLM_F_DUMP is ROOT|MATCH", () => {
  assert.equal(NLM_F_DUMP, 0x300);
});

Deno.test("encodeGenlMessage puts genlmsghdr after nlmsghdr", () => {
  const bytes = encodeGenlMessage(
    { type: 0x10, flags: NLM_F_REQUEST, sequence: 1, pid: 0 },
    { header: { command: 3, version: 1 }, attributes: new AttributeEncoder().u16(1, 16).encode() },
  );
  assert.deepEqual(
    bytes,
    hex(`1c 00 00 00 10 00 01 00 01 00 00 00 00 00 00 00
         03 01 00 00
         06 00 01 00 10 00 00 00`),
  );
  const [m] = decodeMessages(bytes);
  const g = decodeGenl(m.data);
  assert.deepEqual(g.header, { command: 3, version: 1 });
  assert.equal(g.attributes.length, 8);
});

Deno.test("decodeMessages splits a datagram holding several messages", () => {
  const a = encodeMessage({ type: 0x1c, flags: 2, sequence: 5, pid: 9, data: new Uint8Array(3) });
  const b = encodeMessage({ type: 3, flags: 2, sequence: 5, pid: 9, data: new Uint8Array(4) });
  const both = new Uint8Array(a.length + b.length);
  both.set(a);
  both.set(b, a.length);
  const ms = decodeMessages(both);
  assert.deepEqual(ms.map((m) => [m.header.type, m.header.length, m.data.length]), [
    [0x1c, 19, 3],
    [3, 20, 4],
  ]);
});

Deno.test("decodeMessages: truncated header is a NetlinkDecodeError", () => {
  assert.throws(
    () => decodeMessages(hex("14 00 00 00 03 00 02 00")),
    (e: unknown) => e instanceof NetlinkDecodeError && /8 trailing bytes/.test(e.message),
  );
});

Deno.test("decodeMessages: bad nlmsg_len is a NetlinkDecodeError", () => {
  assert.throws(
    () => decodeMessages(hex("08 00 00 00 03 00 02 00 01 00 00 00 00 00 00 00")),
    /length 8 is shorter than its 16-byte header/,
  );
  assert.throws(
    () => decodeMessages(hex("40 00 00 00 03 00 02 00 01 00 00 00 00 00 00 00")),
    /length 64 runs past the end of the datagram \(16 bytes left\)/,
  );
});

Deno.test("decodeGenl: payload shorter than genlmsghdr is a NetlinkDecodeError", () => {
  assert.throws(() => decodeGenl(new Uint8Array(2)), NetlinkDecodeError);
});

const REQUEST = { length: 28, type: 0x1c, flags: 5, sequence: 7, pid: 4242 };

Deno.test("acknowledgement: capped NLMSG_ERROR with error 0", () => {
  const bytes = encodeError(REQUEST, 0);
  assert.deepEqual(
    bytes,
    hex(`24 00 00 00 02 00 00 01 07 00 00 00 92 10 00 00
         00 00 00 00
         1c 00 00 00 1c 00 05 00 07 00 00 00 92 10 00 00`),
  );
  const [m] = decodeMessages(bytes);
  assert.equal(m.header.type, NLMSG_ERROR);
  const p = decodeErrorPayload(m);
  assert.equal(p.errno, 0);
  assert.deepEqual(p.request, REQUEST);
  assert.deepEqual(p.extAck, {});
});

Deno.test("error with extended ack (capped): errno, message and offset", () => {
  const [m] = decodeMessages(encodeError(REQUEST, 17, { message: "Session exists", offset: 20 }));
  assert.equal(m.header.flags, NLM_F_CAPPED | NLM_F_ACK_TLVS);
  const p = decodeErrorPayload(m);
  assert.equal(p.errno, 17);
  assert.deepEqual(p.extAck, { message: "Session exists", offset: 20 });
});

Deno.test("error with the request echoed (not capped): TLVs found after the echo", () => {
  // Hand-built: error -22, echoed header (len 28) + 12 payload bytes, then MSG and OFFS.
  const bytes = hex(`
    44 00 00 00 02 00 00 02 07 00 00 00 92 10 00 00
    ea ff ff ff
    1c 00 00 00 1c 00 05 00 07 00 00 00 92 10 00 00
    05 01 00 00 08 00 09 00 2a 00 00 00
    0c 00 01 00 62 61 64 20 69 64 00 00
    08 00 02 00 18 00 00 00`);
  const [m] = decodeMessages(bytes);
  const p = decodeErrorPayload(m);
  assert.equal(p.errno, 22);
  assert.deepEqual(p.extAck, { message: "bad id", offset: 24 });
  const e = new NetlinkError("create tunnel 42", p.errno, p.extAck);
  assert.equal(e.message, "Cannot create tunnel 42: Invalid argument (errno 22): bad id");
});

Deno.test("error echo longer than the payload is a NetlinkDecodeError", () => {
  const bytes = hex(`
    24 00 00 00 02 00 00 02 07 00 00 00 92 10 00 00
    ea ff ff ff
    40 00 00 00 1c 00 05 00 07 00 00 00 92 10 00 00`);
  assert.throws(() => decodeErrorPayload(decodeMessages(bytes)[0]), NetlinkDecodeError);
});

Deno.test("truncated NLMSG_ERROR payload is a NetlinkDecodeError", () => {
  const bytes = encodeMessage({
    type: NLMSG_ERROR,
    flags: 0,
    sequence: 1,
    pid: 0,
    data: new Uint8Array(8),
  });
  assert.throws(() => decodeErrorPayload(decodeMessages(bytes)[0]), /shorter than struct nlmsgerr/);
});

Deno.test("NLMSG_DONE: status and extended ack", () => {
  const ok = decodeMessages(encodeDone(REQUEST))[0];
  assert.equal(ok.header.type, NLMSG_DONE);
  assert.deepEqual(decodeDone(ok), { errno: 0, extAck: {} });
  const bad = decodeMessages(encodeDone(REQUEST, 4, { message: "dump interrupted" }))[0];
  assert.deepEqual(decodeDone(bad), { errno: 4, extAck: { message: "dump interrupted" } });
  const empty = decodeMessages(
    encodeMessage({ type: NLMSG_DONE, flags: 2, sequence: 1, pid: 0, data: new Uint8Array(0) }),
  )[0];
  assert.equal(decodeDone(empty).errno, 0);
});

Deno.test("NetlinkError message format with and without extended ack", () => {
  assert.equal(
    new NetlinkError("create session 1/2", -17, { message: "Session already exists" }).message,
    "Cannot create session 1/2: File exists (errno 17): Session already exists",
  );
  const plain = new NetlinkError("delete tunnel 9", 19);
  assert.equal(plain.message, "Cannot delete tunnel 9: No such device (errno 19)");
  assert.equal(plain.errno, 19);
  assert.equal(
    new NetlinkError("create tunnel 1", 22, { missingType: 9 }).message,
    "Cannot create tunnel 1: Invalid argument (errno 22): missing attribute 9",
  );
});
