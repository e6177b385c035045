/**
 * The control-message transport (control/transport.ts) on a fake clock and socket, continued:
 * HELLO keepalives, the StopCCN hold, malformed and forged datagrams, close, a throwing send,
 * two transports over a fake link, and sendBatch.
 *
 * @module
 */

import assert from "node:assert/strict";
import { digestKey } from "../../control/auth.ts";
import { FakeClock } from "../../control/clock.ts";
import { AvpType, MessageType, type MessageTypeCode } from "../../control/constants.ts";
import { ParseError, UnknownAvpError } from "../../control/errors.ts";
import { decodeControl, encodeControl } from "../../control/message.ts";
import { ControlTransport, type TransportErrorEvent } from "../../control/transport.ts";
import { HELLO, peer, rig, sent, settled, v3peer } from "./_transport_rig.ts";

// ---- keepalive and teardown ------------------------------------------------------------------

Deno.test("HELLO after hello_timeout of silence from the peer", () => {
  const { t, out, clock } = rig({ helloInterval: 60_000 });
  clock.advance(30_000);
  t.receive(peer(0, 0, MessageType.SCCCN));
  clock.advance(200); // the SCCCN's ZLB
  out.length = 0;
  clock.advance(59_000); // t = 89 200: 59 200 ms of silence
  assert.equal(out.length, 0);
  clock.advance(800); // 60 s after the SCCCN
  assert.deepEqual(sent(out), [{ type: HELLO, ns: 0, nr: 1, tunnelId: 7 }]);
  assert.equal(clock.now(), 90_000);
  t.receive(peer(1, 1, null)); // acknowledged
  out.length = 0;
  clock.advance(59_999);
  assert.equal(out.length, 0);
  clock.advance(1);
  assert.deepEqual(sent(out).map((m) => m.type), [HELLO]);
  t.close();
  assert.equal(clock.pending, 0);
});

Deno.test("after sending a StopCCN the transport holds 31 s, then ends", async () => {
  const { t, out, clock } = rig({ helloInterval: 10_000 });
  const ack = t.send({
    type: MessageType.StopCCN,
    avps: [{ type: AvpType.ResultCode, value: { resultCode: 1 } }],
  });
  assert.equal(t.state, "stopping");
  t.receive(peer(0, 1, null));
  assert.equal(await settled(ack), "resolved");
  clock.advance(30_999);
  assert.equal(t.state, "stopping");
  assert.deepEqual(sent(out).map((m) => m.type), [MessageType.StopCCN], "no HELLO while stopping");
  clock.advance(1);
  assert.equal(t.state, "closed");
  assert.deepEqual(await t.ended, { reason: "stopped" });
  assert.equal(clock.pending, 0);
});

Deno.test("a StopCCN queued behind a full window holds from its first transmission", async () => {
  const { t, out, clock } = rig({ congestionControl: false, peerWindow: 1, stopHold: 1000 });
  t.send({ type: HELLO });
  const stop = t.send({
    type: MessageType.StopCCN,
    avps: [{ type: AvpType.ResultCode, value: { resultCode: 1 } }],
  });
  assert.equal(t.state, "open", "nothing is held while the StopCCN waits for the window");
  clock.advance(900);
  t.receive(peer(0, 1, null)); // the HELLO is acknowledged: the StopCCN goes out now
  assert.deepEqual(sent(out).map((m) => m.type), [HELLO, MessageType.StopCCN]);
  assert.equal(t.state, "stopping");
  clock.advance(999);
  assert.equal(t.state, "stopping", "the hold counts from 900 ms, not from 0");
  t.receive(peer(0, 2, null));
  assert.equal(await settled(stop), "resolved");
  clock.advance(1);
  assert.deepEqual(await t.ended, { reason: "stopped" });
});

Deno.test("a received StopCCN is delivered, acknowledged, and the transport ends 31 s later", async () => {
  const { t, out, clock } = rig({}, false);
  t.receive(peer(0, 0, MessageType.StopCCN, {
    avps: [{ type: AvpType.ResultCode, value: { resultCode: 1 } }],
  }));
  assert.equal(t.state, "stopping");
  clock.advance(100);
  assert.deepEqual(sent(out), [{ type: null, ns: 0, nr: 1, tunnelId: 7 }]);
  t.receive(peer(0, 0, MessageType.StopCCN, {
    avps: [{ type: AvpType.ResultCode, value: { resultCode: 1 } }],
  })); // retransmitted: acknowledged again
  assert.equal(out.length, 2);
  clock.advance(31_000 - 100);
  assert.equal(t.state, "closed");
  const it = t[Symbol.asyncIterator]();
  const first = await it.next();
  assert.equal(first.value?.type, MessageType.StopCCN);
  assert.deepEqual(await it.next(), { done: true, value: undefined });
});

// ---- errors and lifecycle --------------------------------------------------------------------

Deno.test("malformed datagrams become error events, never exceptions", () => {
  const { t, errors, delivered } = rig();
  t.receive(new Uint8Array([1, 2, 3]));
  t.receive(new Uint8Array([0x00, 0x02, 0, 7, 0, 9])); // v2 data message
  t.receive(v3peer(0, 0)); // wrong version
  const bad = peer(0, 0);
  bad[3] = 200; // length field
  t.receive(bad);
  assert.equal(errors.length, 4);
  assert.ok(errors.every((e) => e.kind === "decode" && e.error instanceof ParseError));
  assert.ok(errors.every((e) => !e.accepted));
  assert.equal(delivered.length, 0);
  assert.equal(t.nr, 0);
  assert.equal(t.stats.errors, 4);
  t.close();
});

Deno.test("a message with an unknown mandatory AVP is accepted in sequence and reported", () => {
  const { t, errors, delivered, out, clock } = rig();
  t.receive(peer(0, 0, MessageType.ICRQ, {
    avps: [{
      kind: "unknown",
      vendorId: 0,
      type: 999,
      value: new Uint8Array([1]),
      mandatory: true,
    }],
  }));
  assert.equal(delivered.length, 0);
  assert.equal(errors.length, 1);
  assert.ok(errors[0].error instanceof UnknownAvpError);
  assert.equal(errors[0].accepted, true);
  assert.equal(t.nr, 1);
  clock.advance(100);
  assert.deepEqual(sent(out), [{ type: null, ns: 0, nr: 1, tunnelId: 7 }]);
  t.close();
});

Deno.test("L2TPv3 Message Digest: bad digests are dropped unacknowledged", () => {
  const key = digestKey("secret");
  const digest = { key, required: true };
  const { t, errors, delivered, out, clock } = rig({
    version: 3,
    encodeOptions: { digest: { key } },
    decodeOptions: { digest },
  });
  const good = (ns: number, nr: number, type: MessageTypeCode = HELLO): Uint8Array =>
    encodeControl({ version: 3, tunnelId: 1, ns, nr, type }, { digest: { key } });
  const forged = encodeControl({ version: 3, tunnelId: 1, ns: 0, nr: 0, type: HELLO }, {
    digest: { key: digestKey("wrong") },
  });
  t.receive(forged);
  t.receive(v3peer(1, 0)); // queued-out-of-order position, but no digest
  assert.equal(errors.length, 2);
  assert.ok(errors.every((e) => e.kind === "auth" && !e.accepted));
  assert.equal(t.nr, 0);
  t.receive(good(1, 0)); // out of order, verified before queueing
  t.receive(good(0, 0));
  assert.deepEqual(delivered.map((m) => m.ns), [0, 1]);
  clock.advance(100);
  assert.equal(out.length, 1);
  const ack = decodeControl(out[0], { version: 3, digest: { key, required: true } });
  assert.equal(ack.type, MessageType.ACK, "the ACK carries a valid digest");
  t.close();
});

Deno.test("L2TPv3 Message Digest: a forged in-order message acknowledges nothing", async () => {
  const key = digestKey("secret");
  const { t, out, clock } = rig({
    version: 3,
    encodeOptions: { digest: { key } },
    decodeOptions: { digest: { key, required: true } },
  }, false);
  let acked = false;
  t.send({ type: HELLO }).then(() => acked = true, () => {});
  assert.equal(out.length, 1);
  // In sequence (Ns 0) and acknowledging our HELLO (Nr 1), but signed with another key.
  t.receive(encodeControl({ version: 3, tunnelId: 1, ns: 0, nr: 1, type: HELLO }, {
    digest: { key: digestKey("wrong") },
  }));
  await Promise.resolve();
  assert.equal(acked, false, "our HELLO is still unacknowledged");
  assert.equal(t.inFlight, 1);
  assert.equal(t.nr, 0, "the forged message was not taken in sequence");
  clock.advance(1000);
  assert.equal(out.length, 2, "and it is retransmitted");
  t.close();
});

Deno.test("close() cancels every timer, rejects pending sends and is idempotent", async () => {
  const { t, clock } = rig({ helloInterval: 60_000 }, false);
  const ack = t.send({ type: HELLO });
  t.receive(peer(0, 0));
  assert.ok(clock.pending >= 3); // retransmit, delayed ack, hello
  const it = t[Symbol.asyncIterator]();
  t.close();
  t.close();
  assert.equal(clock.pending, 0);
  await assert.rejects(ack, /transport closed first/);
  assert.equal((await it.next()).value?.type, HELLO, "delivered messages stay readable");
  assert.deepEqual(await it.next(), { done: true, value: undefined });
  t.receive(peer(1, 0));
  assert.equal(t.stats.received, 1, "ignored after close");
  assert.deepEqual(await t.ended, { reason: "closed" });
  assert.throws(() => t.send({ type: MessageType.ACK }), TypeError);
});

Deno.test("a send function that throws is reported and treated as a loss", () => {
  const clock = new FakeClock();
  let fail = true;
  const out: Uint8Array[] = [];
  const t = new ControlTransport({
    version: 2,
    clock,
    send: (p) => {
      if (fail) throw new Error("ENOBUFS");
      out.push(p);
    },
  });
  const errors: TransportErrorEvent[] = [];
  t.on("error", (e) => errors.push(e));
  t.send({ type: HELLO });
  assert.equal(errors.length, 1);
  assert.equal(errors[0].kind, "send");
  fail = false;
  clock.advance(1000);
  assert.equal(out.length, 1, "retransmitted");
  t.close();
});

Deno.test("two transports over a fake link: request/response piggybacks, lone messages get ZLBs", async () => {
  const clock = new FakeClock();
  const wire: { to: ControlTransport; p: Uint8Array }[] = [];
  const sendTo = (to: () => ControlTransport) => (p: Uint8Array): void => {
    wire.push({ to: to(), p });
  };
  const a: ControlTransport = new ControlTransport({
    version: 2,
    clock,
    send: sendTo(() => b),
    peerTunnelId: 2,
  });
  const b: ControlTransport = new ControlTransport({
    version: 2,
    clock,
    send: sendTo(() => a),
    peerTunnelId: 1,
    onMessage: (m) => {
      if (m.type === MessageType.ICRQ) b.send({ type: MessageType.ICRP });
    },
  });
  const flush = (): void => {
    while (wire.length) {
      const { to, p } = wire.shift() as { to: ControlTransport; p: Uint8Array };
      to.receive(p);
    }
  };
  const received: (MessageTypeCode | null)[] = [];
  const reading = (async (): Promise<void> => {
    for await (const m of a) received.push(m.type);
  })();
  const icrq = a.send({ type: MessageType.ICRQ });
  flush();
  assert.equal(await settled(icrq), "resolved", "acknowledged by the ICRP itself");
  assert.equal(b.stats.acksSent, 0);
  clock.advance(100);
  flush();
  assert.equal(a.stats.acksSent, 1, "the ICRP gets a ZLB");
  assert.equal(b.inFlight, 0);
  a.close();
  b.close();
  await reading;
  assert.deepEqual(received, [MessageType.ICRP]);
});

Deno.test("sendBatch: messages released together by an opening window go out in one call", () => {
  const batches: Uint8Array[][] = [];
  const { t, out } = rig({ congestionControl: false, sendBatch: (ps) => batches.push(ps) });
  for (let i = 0; i < 8; i++) void t.send({ type: HELLO }).catch(() => {});
  // One at a time while the window has room: each alone, through `send`.
  assert.equal(out.length, 4);
  assert.equal(batches.length, 0);
  assert.equal(t.queued, 4);
  // The peer acknowledges all four: the four queued go out at once, in order, with one call.
  t.receive(peer(0, 4, null));
  assert.equal(out.length, 4);
  assert.equal(batches.length, 1);
  assert.deepEqual(sent(batches[0]).map((m) => m.ns), [4, 5, 6, 7]);
  assert.equal(t.stats.sent, 8);
  t.close();
});

Deno.test("sendBatch: a throw is a loss of the whole batch, reported once, then retransmitted", () => {
  let fail = true;
  const batches: Uint8Array[][] = [];
  const { t, out, errors, clock } = rig({
    congestionControl: false,
    sendBatch: (ps) => {
      if (fail) throw new Error("ENOBUFS");
      batches.push(ps);
    },
  });
  for (let i = 0; i < 6; i++) void t.send({ type: HELLO }).catch(() => {});
  t.receive(peer(0, 2, null)); // two acknowledged: the two queued go out together, and fail
  assert.equal(errors.length, 1);
  assert.equal(errors[0].kind, "send");
  assert.equal(batches.length, 0);
  fail = false;
  clock.advance(1000); // the oldest in flight (Ns 2) is retransmitted, alone, through `send`
  assert.deepEqual(sent(out).map((m) => m.ns), [0, 1, 2, 3, 2]);
  t.close();
});
