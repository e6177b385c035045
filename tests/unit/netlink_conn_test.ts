import assert from "node:assert/strict";
import { AttributeEncoder } from "../../dataplane/netlink/attr.ts";
import {
  type Connection,
  dump,
  genlDump,
  genlGet,
  genlRequest,
  request,
  resolveFamily,
} from "../../dataplane/netlink/conn.ts";
import { NetlinkError } from "../../dataplane/netlink/errors.ts";
import {
  ack,
  concat,
  done,
  FakeConnection,
  genlReply,
  nack,
} from "../../dataplane/netlink/fake.ts";
import { LibnlError } from "../../dataplane/netlink/libnl.ts";
import {
  decodeMessages,
  encodeError,
  encodeGenl,
  encodeMessage,
  type Message,
  NLM_F_ACK,
  NLM_F_DUMP,
  NLM_F_DUMP_INTR,
  NLM_F_REQUEST,
  NLMSG_OVERRUN,
} from "../../dataplane/netlink/message.ts";

const FAMILY = 0x1c;
const PAYLOAD = encodeGenl({ header: { command: 4, version: 1 }, attributes: new Uint8Array(0) });

function reply(req: Message, flags = 0, marker = 0): Uint8Array {
  return genlReply(
    req,
    {
      header: { command: 4, version: 1 },
      attributes: new AttributeEncoder().u32(9, marker).encode(),
    },
    (flags & 2) !== 0,
    flags & ~2,
  );
}

function markers(ms: Message[]): number[] {
  return ms.map((m) => new DataView(m.data.buffer, m.data.byteOffset + 8, 4).getUint32(0, true));
}

Deno.test("request sets REQUEST|ACK, our sequence and port id, and returns replies before the ack", async () => {
  using conn = new FakeConnection({
    firstSequence: 100,
    handler: (req) => [reply(req, 0, 7), ack(req)],
  });
  const replies = await request(conn, { type: FAMILY, data: PAYLOAD }, "get tunnel 1");
  assert.equal(conn.sent.length, 1);
  assert.deepEqual(conn.sent[0].header, {
    length: 20,
    type: FAMILY,
    flags: NLM_F_REQUEST | NLM_F_ACK,
    sequence: 100,
    pid: 4242,
  });
  assert.deepEqual(markers(replies), [7]);
  assert.equal(conn.pending, 0);
});

Deno.test("request skips messages with another sequence number or port id", async () => {
  using conn = new FakeConnection({ firstSequence: 5 });
  const stale = {
    header: { length: 20, type: FAMILY, flags: 5, sequence: 4, pid: 4242 },
    data: PAYLOAD,
  };
  const foreign = {
    header: { length: 20, type: FAMILY, flags: 5, sequence: 5, pid: 99 },
    data: PAYLOAD,
  };
  conn.push(concat(nack(stale, 17), reply(stale, 0, 1)));
  conn.push(nack(foreign, 22));
  conn.handler = (req) => [concat(reply(req, 0, 2), ack(req))];
  const replies = await request(conn, { type: FAMILY, data: PAYLOAD }, "get tunnel 1");
  assert.deepEqual(markers(replies), [2]);
});

Deno.test("request turns NLMSG_ERROR into NetlinkError with errno and extended ack", async () => {
  using conn = new FakeConnection({
    handler: (req) => [nack(req, 17, { message: "Session already exists", offset: 28 })],
  });
  await assert.rejects(
    request(conn, { type: FAMILY, data: PAYLOAD }, "create session 1/2"),
    (e: unknown) =>
      e instanceof NetlinkError && e.errno === 17 && e.extAck.offset === 28 &&
      e.message === "Cannot create session 1/2: File exists (errno 17): Session already exists",
  );
});

Deno.test("request handles an error that echoes the request before its TLVs", async () => {
  using conn = new FakeConnection({
    handler: (req) => [encodeError(req.header, 22, { message: "bad" }, req.data)],
  });
  await assert.rejects(
    request(conn, { type: FAMILY, data: PAYLOAD }, "create tunnel 1"),
    /Cannot create tunnel 1: Invalid argument \(errno 22\): bad/,
  );
});

Deno.test("request: NLMSG_OVERRUN is an ENOBUFS NetlinkError", async () => {
  using conn = new FakeConnection({
    handler: (req) => [
      encodeMessage({
        type: NLMSG_OVERRUN,
        flags: 0,
        sequence: req.header.sequence,
        pid: 0,
        data: new Uint8Array(0),
      }),
    ],
  });
  await assert.rejects(
    request(conn, { type: FAMILY, data: PAYLOAD }, "get tunnel 1"),
    (e: unknown) => e instanceof NetlinkError && e.errno === 105,
  );
});

Deno.test("request propagates a receive failure (no answer)", async () => {
  using conn = new FakeConnection();
  await assert.rejects(
    request(conn, { type: FAMILY, data: PAYLOAD }, "get tunnel 1"),
    /no answer queued/,
  );
});

Deno.test("dump sets REQUEST|DUMP and gathers multipart replies across datagrams until DONE", async () => {
  using conn = new FakeConnection({
    handler: (req) => [
      concat(reply(req, 2, 1), reply(req, 2, 2)),
      concat(reply(req, 2, 3), done(req)),
    ],
  });
  const parts = await dump(conn, { type: FAMILY, data: PAYLOAD }, "list tunnels");
  assert.equal(conn.sent[0].header.flags, NLM_F_REQUEST | NLM_F_DUMP);
  assert.deepEqual(markers(parts), [1, 2, 3]);
});

Deno.test("dump: an error in NLMSG_DONE is a NetlinkError", async () => {
  using conn = new FakeConnection({
    handler: (req) => [concat(reply(req, 2, 1), done(req, 90, { message: "too big" }))],
  });
  await assert.rejects(
    dump(conn, { type: FAMILY, data: PAYLOAD }, "list sessions"),
    (e: unknown) => e instanceof NetlinkError && e.errno === 90 && /: too big$/.test(e.message),
  );
});

Deno.test("dump: an NLMSG_ERROR answer is a NetlinkError", async () => {
  using conn = new FakeConnection({ handler: (req) => [nack(req, 95)] });
  await assert.rejects(
    dump(conn, { type: FAMILY, data: PAYLOAD }, "list sessions"),
    /Cannot list sessions: Operation not supported \(errno 95\)/,
  );
});

Deno.test("dump restarts when the kernel marks it NLM_F_DUMP_INTR", async () => {
  let attempt = 0;
  using conn = new FakeConnection({
    handler: (req) => {
      attempt++;
      const flags = 2 | (attempt === 1 ? NLM_F_DUMP_INTR : 0);
      return [concat(reply(req, flags, attempt * 10), done(req))];
    },
  });
  const parts = await dump(conn, { type: FAMILY, data: PAYLOAD }, "list tunnels");
  assert.deepEqual(markers(parts), [20]);
  assert.equal(conn.sent.length, 2);
  assert.notEqual(conn.sent[0].header.sequence, conn.sent[1].header.sequence);
});

Deno.test("dump gives up with EINTR when every attempt is interrupted", async () => {
  using conn = new FakeConnection({
    handler: (req) => [concat(reply(req, 2 | NLM_F_DUMP_INTR, 1), done(req))],
  });
  await assert.rejects(
    dump(conn, { type: FAMILY, data: PAYLOAD }, "list tunnels", { retries: 2 }),
    (e: unknown) =>
      e instanceof NetlinkError && e.errno === 4 &&
      /interrupted by concurrent changes 3 times/.test(e.message),
  );
  assert.equal(conn.sent.length, 3);
});

Deno.test("genlRequest and genlDump decode genl headers and keep only the family's messages", async () => {
  using conn = new FakeConnection({
    handler: (req) =>
      (req.header.flags & NLM_F_DUMP) === NLM_F_DUMP
        ? [concat(reply(req, 2, 1), reply(req, 2, 2), done(req))]
        : [reply(req, 0, 3), ack(req)],
  });
  const g = { header: { command: 4, version: 1 }, attributes: new Uint8Array(0) };
  const one = await genlRequest(conn, FAMILY, g, "get tunnel 3");
  assert.equal(one.length, 1);
  assert.deepEqual(one[0].header, { command: 4, version: 1 });
  assert.equal(one[0].attributes.length, 8);
  const all = await genlDump(conn, FAMILY, g, "list tunnels");
  assert.equal(all.length, 2);
});

Deno.test("requests on one connection are serialized", async () => {
  const log: string[] = [];
  const fake = new FakeConnection({ handler: (req) => [ack(req)] });
  const slow: Connection = {
    portId: fake.portId,
    nextSequence: () => fake.nextSequence(),
    send: async (d) => {
      log.push("send");
      await fake.send(d);
    },
    receive: async () => {
      await new Promise((r) => setTimeout(r, 5));
      log.push("receive");
      return fake.receive();
    },
    resolveFamily: (n) => fake.resolveFamily(n),
    close: () => fake.close(),
    [Symbol.dispose]: () => fake.close(),
  };
  await Promise.all([
    request(slow, { type: FAMILY, data: PAYLOAD }, "a"),
    request(slow, { type: FAMILY, data: PAYLOAD }, "b"),
    dump(slow, { type: FAMILY, data: PAYLOAD }, "c").catch(() => []),
  ]);
  assert.deepEqual(log.slice(0, 4), ["send", "receive", "send", "receive"]);
  slow.close();
});

Deno.test("a failed request releases the connection for the next one", async () => {
  using conn = new FakeConnection({ handler: (req) => [nack(req, 19)] });
  await assert.rejects(
    request(conn, { type: FAMILY, data: PAYLOAD }, "get tunnel 1"),
    NetlinkError,
  );
  conn.handler = (req) => [ack(req)];
  assert.deepEqual(await request(conn, { type: FAMILY, data: PAYLOAD }, "get tunnel 1"), []);
});

Deno.test("genlGet: a not-found answer is undefined, other errors still reject", async () => {
  const g = { header: { command: 4, version: 1 }, attributes: new Uint8Array(0) };
  using conn = new FakeConnection({ handler: (req) => [nack(req, 19)] });
  assert.equal(await genlGet(conn, FAMILY, g, "get tunnel 1"), undefined);
  conn.handler = (req) => [nack(req, 2)];
  assert.equal(await genlGet(conn, FAMILY, g, "get tunnel 1"), undefined);
  conn.handler = (req) => [nack(req, 22, { message: "bad" })];
  await assert.rejects(
    genlGet(conn, FAMILY, g, "get tunnel 1"),
    (e: unknown) =>
      e instanceof NetlinkError && e.errno === 22 &&
      e.message === "Cannot get tunnel 1: Invalid argument (errno 22): bad",
  );
  conn.handler = (req) => [reply(req, 0, 5), ack(req)];
  const found = await genlGet(conn, FAMILY, g, "get tunnel 1");
  assert.equal(found?.length, 1);
  // genlRequest still turns not-found into an error.
  conn.handler = (req) => [nack(req, 19)];
  await assert.rejects(genlRequest(conn, FAMILY, g, "get tunnel 1"), /No such device/);
});

/**
 * A connection with only the synchronous fast paths: it answers in `sendNow` and hands the
 * answers out of one reused buffer, as LibnlConnection does.
 */
class FastConnection implements Connection {
  readonly portId = 4242;
  readonly #shared = new Uint8Array(4096);
  readonly #queue: Uint8Array[] = [];
  #sequence = 1;
  polls = 0;
  constructor(readonly answer: (req: Message) => Uint8Array[]) {}
  nextSequence(): number {
    return this.#sequence++;
  }
  send(): Promise<void> {
    return Promise.reject(new Error("send must not be used"));
  }
  sendNow(d: Uint8Array): void {
    for (const m of decodeMessages(d.slice())) this.#queue.push(...this.answer(m));
  }
  pollShared(): Uint8Array | undefined {
    const d = this.#queue.shift();
    if (d === undefined) return undefined;
    this.polls++;
    this.#shared.fill(0xee); // whatever was handed out before is overwritten
    this.#shared.set(d);
    return this.#shared.subarray(0, d.length);
  }
  receive(): Promise<Uint8Array> {
    return Promise.reject(new Error("no answer queued"));
  }
  resolveFamily(): Promise<number> {
    return Promise.resolve(FAMILY);
  }
  close(): void {}
  [Symbol.dispose](): void {}
}

Deno.test("fast paths: replies are copied out of the reused receive buffer", async () => {
  using conn = new FastConnection((req) =>
    (req.header.flags & NLM_F_DUMP) === NLM_F_DUMP
      ? [reply(req, 2, 1), reply(req, 2, 2), done(req)]
      : [reply(req, 0, 3), ack(req)]
  );
  const parts = await dump(conn, { type: FAMILY, data: PAYLOAD }, "list tunnels");
  assert.equal(conn.polls, 3);
  assert.deepEqual(markers(parts), [1, 2], "each part survived the receives after it");
  const g = { header: { command: 4, version: 1 }, attributes: new Uint8Array(0) };
  const [one] = await genlRequest(conn, FAMILY, g, "get tunnel 3");
  assert.equal(
    new DataView(one.attributes.buffer, one.attributes.byteOffset).getUint32(4, true),
    3,
  );
  assert.deepEqual(markers(parts), [1, 2]);
  assert.equal(await genlGet(conn, FAMILY, g, "get tunnel 3").then((r) => r?.length), 1);
});

Deno.test("fast paths: errors reject and release the connection", async () => {
  let errno = 19;
  using conn = new FastConnection((req) => [nack(req, errno)]);
  const g = { header: { command: 4, version: 1 }, attributes: new Uint8Array(0) };
  await assert.rejects(genlRequest(conn, FAMILY, g, "get tunnel 1"), /No such device/);
  assert.equal(await genlGet(conn, FAMILY, g, "get tunnel 1"), undefined);
  errno = 22;
  await assert.rejects(genlGet(conn, FAMILY, g, "get tunnel 1"), /Invalid argument/);
  // Concurrent requests queue up behind one another and all settle.
  errno = 0;
  const all = await Promise.all([1, 2, 3].map(() => genlRequest(conn, FAMILY, g, "x")));
  assert.deepEqual(all, [[], [], []]);
});

Deno.test("fast paths: a reply that is not there yet is awaited with receive()", async () => {
  const fake = new FakeConnection({ handler: (req) => [reply(req, 0, 9), ack(req)] });
  let polled = 0;
  const conn: Connection = {
    portId: fake.portId,
    nextSequence: () => fake.nextSequence(),
    send: (d) => fake.send(d),
    pollShared: () => {
      polled++;
      return undefined; // never ready at once
    },
    receive: () => fake.receive(),
    resolveFamily: (n) => fake.resolveFamily(n),
    close: () => fake.close(),
    [Symbol.dispose]: () => fake.close(),
  };
  const g = { header: { command: 4, version: 1 }, attributes: new Uint8Array(0) };
  const [r] = await genlRequest(conn, FAMILY, g, "get tunnel 9");
  assert.equal(new DataView(r.attributes.buffer, r.attributes.byteOffset).getUint32(4, true), 9);
  assert.equal(polled, 1);
  conn.close();
});

Deno.test("resolveFamily: known and unknown families on the fake", async () => {
  using conn = new FakeConnection({ families: { l2tp: FAMILY } });
  assert.equal(await resolveFamily(conn, "l2tp"), FAMILY);
  await assert.rejects(
    resolveFamily(conn, "nosuch"),
    (e: unknown) =>
      e instanceof LibnlError && /Cannot resolve generic netlink family nosuch/.test(e.message),
  );
});

Deno.test("FakeConnection refuses use after close", async () => {
  const conn = new FakeConnection();
  conn.close();
  conn.close();
  assert.equal(conn.closed, true);
  await assert.rejects(conn.send(new Uint8Array(16)), /closed/);
  await assert.rejects(conn.receive(), /closed/);
});
