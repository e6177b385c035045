/**
 * Deterministic tests of the control-message transport (control/transport.ts) and its helpers
 * (control/sequence.ts, control/window.ts, control/clock.ts), driven by a fake clock and a fake
 * socket: delivery order, duplicates, reordering, windows, wrap-around, congestion window,
 * retransmission and failure, delayed acknowledgements. HELLO, the StopCCN hold, errors, close
 * and batches: transport_lifecycle_test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { digestKey } from "../../control/auth.ts";
import { FakeClock } from "../../control/clock.ts";
import { AvpType, MessageType, type MessageTypeCode } from "../../control/constants.ts";
import { addV3IpControlPrefix } from "../../control/header.ts";
import { decodeControl, encodeControl } from "../../control/message.ts";
import { isSeq, seqAdd, seqBefore, seqDiff } from "../../control/sequence.ts";
import { TransportFailedError } from "../../control/transport.ts";
import { CongestionWindow } from "../../control/window.ts";
import { HELLO, peer, rig, sent, settled, v3peer } from "./_transport_rig.ts";

// ---- helpers ---------------------------------------------------------------------------------

Deno.test("sequence arithmetic wraps at 65535 → 0 and compares within 32767", () => {
  assert.equal(seqAdd(65535), 0);
  assert.equal(seqAdd(65534, 3), 1);
  assert.equal(seqAdd(0, -1), 65535);
  assert.equal(seqDiff(0, 65535), 1);
  assert.equal(seqDiff(65535, 0), -1);
  assert.equal(seqDiff(5, 65530), 11);
  assert.equal(seqDiff(32767, 0), 32767);
  assert.equal(seqDiff(32768, 0), -32768);
  assert.ok(seqBefore(65535, 0));
  assert.ok(!seqBefore(0, 65535));
  assert.ok(seqBefore(65000, 100));
  assert.ok(isSeq(0) && isSeq(65535) && !isSeq(65536) && !isSeq(-1) && !isSeq(0.5));
});

Deno.test("fake clock runs due timers in order, skips cancelled ones", () => {
  const clock = new FakeClock(10);
  const log: string[] = [];
  clock.setTimer(30, () => log.push(`b@${clock.now()}`));
  clock.setTimer(10, () => {
    log.push(`a@${clock.now()}`);
    clock.setTimer(5, () => log.push(`c@${clock.now()}`));
  });
  const d = clock.setTimer(20, () => log.push("d"));
  d.cancel();
  assert.equal(clock.pending, 2);
  assert.equal(clock.advance(100), 3);
  assert.deepEqual(log, ["a@20", "c@25", "b@40"]);
  assert.equal(clock.now(), 110);
  assert.equal(clock.pending, 0);
  assert.throws(() => clock.advance(-1), RangeError);
});

Deno.test("congestion window: slow start to SSTHRESH, then +1 per CWND acks; halves on retransmit", () => {
  const w = new CongestionWindow(10);
  assert.equal(w.cwnd, 1);
  assert.equal(w.ssthresh, 10);
  const trace: number[] = [];
  for (let i = 0; i < 9; i++) {
    w.onAck(1);
    trace.push(w.cwnd);
  }
  assert.deepEqual(trace, [2, 3, 4, 5, 6, 7, 8, 9, 10]);
  w.onAck(5);
  assert.equal(w.cwnd, 10, "never above the peer window");
  w.onRetransmit();
  assert.equal(w.cwnd, 1);
  assert.equal(w.ssthresh, 5);
  const after: number[] = [];
  for (let i = 0; i < 16; i++) {
    w.onAck(1);
    after.push(w.cwnd);
  }
  // slow start 1→5, then 5 acks for 6, 6 acks for 7.
  assert.deepEqual(after, [2, 3, 4, 5, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 7, 7]);
  w.onRetransmit();
  w.onRetransmit();
  assert.equal(w.ssthresh, 1, "SSTHRESH is at least 1");
  assert.equal(new CongestionWindow(4, false).window, 4, "disabled: the whole peer window");
  assert.throws(() => new CongestionWindow(0), RangeError);
});

// ---- receiving -------------------------------------------------------------------------------

Deno.test("in-order messages are delivered in order through the async iterator", async () => {
  const { t } = rig({}, false);
  t.receive(peer(0, 0, MessageType.SCCRQ));
  t.receive(peer(1, 0, MessageType.SCCCN));
  t.receive(peer(2, 0, HELLO));
  const it = t[Symbol.asyncIterator]();
  const types: (MessageTypeCode | null)[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await it.next();
    assert.equal(r.done, false);
    types.push(r.value.type);
  }
  assert.deepEqual(types, [MessageType.SCCRQ, MessageType.SCCCN, HELLO]);
  assert.equal(t.nr, 3);
  assert.equal(t.stats.delivered, 3);
  const pending = it.next();
  t.close();
  assert.deepEqual(await pending, { done: true, value: undefined });
});

Deno.test("a duplicate is acknowledged at once and not delivered again", () => {
  const { t, out, delivered } = rig();
  t.receive(peer(0, 0));
  assert.equal(delivered.length, 1);
  assert.equal(out.length, 0, "the first copy is acknowledged after the delay");
  t.receive(peer(0, 0));
  assert.equal(delivered.length, 1);
  assert.equal(t.stats.duplicates, 1);
  assert.deepEqual(sent(out), [{ type: null, ns: 0, nr: 1, tunnelId: 7 }]);
  t.close();
});

Deno.test("out-of-order messages are queued, then delivered in order once the gap fills", () => {
  const { t, delivered } = rig();
  t.receive(peer(2, 0, MessageType.ICCN));
  t.receive(peer(1, 0, MessageType.ICRP));
  t.receive(peer(2, 0, MessageType.ICCN)); // duplicate of a queued one
  assert.equal(delivered.length, 0);
  assert.equal(t.nr, 0);
  assert.equal(t.stats.outOfOrder, 2);
  assert.equal(t.stats.duplicates, 1);
  t.receive(peer(0, 0, MessageType.ICRQ));
  assert.deepEqual(delivered.map((m) => m.type), [
    MessageType.ICRQ,
    MessageType.ICRP,
    MessageType.ICCN,
  ]);
  assert.equal(t.nr, 3);
  t.close();
});

Deno.test("messages beyond our receive window are dropped", () => {
  const { t, delivered } = rig({ receiveWindow: 4 });
  t.receive(peer(4, 0)); // Nr 0 + window 4: beyond
  t.receive(peer(3, 0)); // last slot of the window: queued
  assert.equal(t.stats.outOfWindow, 1);
  assert.equal(t.stats.outOfOrder, 1);
  for (let ns = 0; ns < 3; ns++) t.receive(peer(ns, 0));
  assert.deepEqual(delivered.map((m) => m.ns), [0, 1, 2, 3]);
  assert.equal(t.nr, 4);
  t.receive(peer(4, 0)); // the retransmission is now in order
  assert.deepEqual(delivered.map((m) => m.ns), [0, 1, 2, 3, 4]);
  t.close();
});

Deno.test("Ns and Nr wrap around 65535 → 0 on both sides", async () => {
  const { t, out, delivered } = rig({ initialNs: 65535, initialNr: 65534 });
  t.receive(peer(0, 65535)); // ahead by 2: queued
  t.receive(peer(65534, 65535));
  t.receive(peer(65535, 65535));
  assert.deepEqual(delivered.map((m) => m.ns), [65534, 65535, 0]);
  assert.equal(t.nr, 1);
  t.receive(peer(65535, 65535)); // old: duplicate across the wrap
  assert.equal(t.stats.duplicates, 1);
  assert.equal(delivered.length, 3);

  out.length = 0;
  const a = t.send({ type: HELLO });
  t.receive(peer(1, 0, null)); // ZLB acknowledging 65535
  const b = t.send({ type: HELLO });
  assert.deepEqual(sent(out).map((s) => [s.type, s.ns]), [[HELLO, 65535], [HELLO, 0]]);
  assert.equal(await settled(a), "resolved");
  assert.equal(await settled(b), "pending");
  t.receive(peer(1, 1, null));
  assert.equal(await settled(b), "resolved");
  assert.equal(t.ns, 1);
  assert.equal(t.inFlight, 0);
  t.close();
});

Deno.test("a ZLB only acknowledges: not delivered, no sequence number consumed", () => {
  const { t, delivered } = rig();
  t.receive(peer(0, 0, null)); // ZLB
  assert.equal(delivered.length, 0);
  assert.equal(t.stats.acksReceived, 1);
  assert.equal(t.nr, 0, "a ZLB does not consume a sequence number");
  t.close();
});

// ---- sending ---------------------------------------------------------------------------------

Deno.test("an incoming Nr acknowledges every message with a lower Ns; bogus Nr is ignored", async () => {
  const { t } = rig({ congestionControl: false, peerWindow: 8 });
  const acks = [0, 1, 2].map(() => t.send({ type: HELLO }));
  t.receive(peer(0, 9, null)); // acknowledges messages never sent
  assert.equal(t.inFlight, 3);
  t.receive(peer(0, 2, null));
  assert.deepEqual(await Promise.all(acks.map(settled)), ["resolved", "resolved", "pending"]);
  t.receive(peer(0, 1, null)); // stale
  assert.equal(t.inFlight, 1);
  t.receive(peer(0, 0, HELLO, {})); // a message piggybacking an old Nr
  assert.equal(t.inFlight, 1);
  t.close();
});

Deno.test("a peer tunnel ID learned later goes into queued messages and acknowledgements", () => {
  const { t, out, clock } = rig({ congestionControl: false, peerTunnelId: 0, peerWindow: 1 });
  t.send({ type: MessageType.SCCRQ });
  t.send({ type: HELLO });
  t.peerTunnelId = 42;
  t.receive(peer(0, 1, MessageType.SCCRP));
  t.receive(peer(1, 1));
  clock.advance(100);
  assert.deepEqual(sent(out).map((m) => [m.type, m.tunnelId, m.nr]), [
    [MessageType.SCCRQ, 0, 0],
    [HELLO, 42, 1],
    [null, 42, 2],
  ]);
  assert.throws(() => (t.peerTunnelId = 70000), RangeError);
  t.close();
});

Deno.test("peer window 4: the 5th message waits for an acknowledgement", async () => {
  const { t, out } = rig({ congestionControl: false });
  assert.equal(t.peerWindow, 4);
  const acks = [0, 1, 2, 3, 4].map(() => t.send({ type: HELLO }));
  assert.equal(out.length, 4);
  assert.equal(t.inFlight, 4);
  assert.equal(t.queued, 1);
  t.receive(peer(0, 1, null));
  assert.equal(out.length, 5);
  assert.equal(sent(out)[4].ns, 4);
  assert.equal(await settled(acks[0]), "resolved");
  assert.equal(await settled(acks[4]), "pending");
  t.close();
});

Deno.test("peer window with slow start: CWND grows to 4, never beyond the window", () => {
  const { t, out } = rig();
  for (let i = 0; i < 12; i++) t.send({ type: HELLO });
  const inFlight: number[] = [t.inFlight];
  let nr = 0;
  for (let i = 0; i < 6; i++) {
    nr++;
    t.receive(peer(0, nr, null));
    inFlight.push(t.inFlight);
  }
  assert.deepEqual(inFlight, [1, 2, 3, 4, 4, 4, 4]);
  assert.equal(t.cwnd, 4);
  assert.equal(out.length, 10); // 6 acknowledged + 4 in flight
  t.close();
});

Deno.test("the peer's Receive Window Size AVP in its SCCRP sets the peer window", () => {
  const { t, out } = rig({ congestionControl: false });
  t.receive(peer(0, 0, MessageType.SCCRP, {
    avps: [
      { type: AvpType.ProtocolVersion, value: { version: 1, revision: 0 } },
      { type: AvpType.HostName, value: "lns" },
      { type: AvpType.FramingCapabilities, value: { async: true, sync: true } },
      { type: AvpType.AssignedTunnelId, value: 1 },
      { type: AvpType.ReceiveWindowSize, value: 6 },
    ],
  }));
  assert.equal(t.peerWindow, 6);
  for (let i = 0; i < 8; i++) t.send({ type: HELLO });
  assert.equal(out.length, 6);
  assert.equal(sent(out)[0].nr, 1, "the first message piggybacks the acknowledgement");
  t.close();
});

Deno.test("slow start then congestion avoidance: CWND evolution through a retransmission", () => {
  const { t, clock } = rig({ peerWindow: 8 });
  for (let i = 0; i < 60; i++) t.send({ type: HELLO });
  let nr = 0;
  const ack = (): number => {
    nr = seqAdd(nr);
    t.receive(peer(0, nr, null));
    return t.cwnd;
  };
  const rise = Array.from({ length: 8 }, ack);
  assert.deepEqual(rise, [2, 3, 4, 5, 6, 7, 8, 8]);
  assert.equal(t.ssthresh, 8);
  clock.advance(1000); // the oldest times out
  assert.equal(t.stats.retransmits, 1);
  assert.equal(t.cwnd, 1);
  assert.equal(t.ssthresh, 4);
  const after = Array.from({ length: 12 }, ack);
  // slow start 1→4, then +1 per CWND acks: 4 acks to 5, 5 acks to 6.
  assert.deepEqual(after, [2, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5, 6]);
  t.close();
});

Deno.test("retransmission at 1, 2, 4, 8, 8 s (cap), with the latest Nr; failure after 5 (v2)", async () => {
  const { t, out, clock } = rig();
  const retransmits: number[] = [];
  t.on("retransmit", () => retransmits.push(clock.now()));
  let end: unknown;
  t.on("end", (e) => (end = e));
  const ack = t.send({ type: MessageType.SCCRQ });
  assert.equal(out.length, 1);
  clock.advance(2000);
  t.receive(peer(0, 0, HELLO)); // the peer talks, but does not acknowledge
  clock.advance(29_000 - 1);
  assert.deepEqual(retransmits, [1000, 3000, 7000, 15_000, 23_000]);
  const s = sent(out).filter((m) => m.type === MessageType.SCCRQ);
  assert.equal(s.length, 6);
  assert.ok(s.every((m) => m.ns === 0));
  assert.deepEqual(s.map((m) => m.nr), [0, 0, 1, 1, 1, 1], "retransmissions carry the new Nr");
  assert.equal(t.state, "open");
  assert.equal(await settled(ack), "pending");
  clock.advance(1); // 31 s: the 5th retransmission timed out
  assert.equal(t.state, "closed");
  await assert.rejects(ack, TransportFailedError);
  const ended = await t.ended;
  assert.equal(ended.reason, "failed");
  assert.deepEqual(end, ended);
  assert.equal(clock.pending, 0);
});

Deno.test("retransmission cap and count are configurable; v3 defaults to 10 retransmissions", () => {
  const a = rig({ retransmitCap: 16_000, maxRetransmits: 6 });
  const at: number[] = [];
  a.t.on("retransmit", (e) => at.push(e.timeout));
  a.t.send({ type: HELLO });
  a.clock.advance(100_000);
  assert.deepEqual(at, [2000, 4000, 8000, 16_000, 16_000, 16_000]);
  assert.equal(a.t.state, "closed");

  const b = rig({ version: 3 });
  b.t.send({ type: HELLO });
  b.clock.advance(63_000); // retransmissions at 1, 3, 7, 15, 23, 31, 39, 47, 55, 63 s
  assert.equal(b.t.stats.retransmits, 10);
  b.clock.advance(7_999);
  assert.equal(b.t.state, "open");
  b.clock.advance(1); // 71 s
  assert.equal(b.t.state, "closed");

  assert.throws(() => rig({ retransmitCap: 4000 }), RangeError);
  assert.throws(() => rig({ maxRetransmits: -1 }), RangeError);
});

Deno.test("failure after max retries rejects every pending send and ends the iterator", async () => {
  const { t, clock } = rig({ maxRetransmits: 2, congestionControl: false }, false);
  const acks = [0, 1, 2, 3, 4, 5].map(() => t.send({ type: HELLO }));
  const it = t[Symbol.asyncIterator]();
  const next = it.next();
  clock.advance(1000 + 2000 + 4000);
  for (const a of acks) await assert.rejects(a, TransportFailedError);
  await assert.rejects(next, /no acknowledgement after 2 retransmissions/);
  await assert.rejects(t.send({ type: HELLO }), /transport has ended/);
  assert.equal(clock.pending, 0);
});

Deno.test("after a timeout, a partial acknowledgement retransmits the next lost message", () => {
  const { t, out, clock } = rig({ congestionControl: false });
  for (let i = 0; i < 3; i++) t.send({ type: HELLO });
  clock.advance(1000); // Ns 0 retransmitted
  out.length = 0;
  t.receive(peer(0, 1, null)); // only Ns 0 arrived: Ns 1 was lost too
  assert.deepEqual(sent(out).map((m) => m.ns), [1]);
  t.receive(peer(0, 3, null));
  assert.equal(t.inFlight, 0);
  t.close();
});

// ---- acknowledgements ------------------------------------------------------------------------

Deno.test("delayed ack: a ZLB (v2) after 100 ms, carrying Nr and the unconsumed Ns", () => {
  const { t, out, clock } = rig({ initialNs: 5 });
  t.receive(peer(0, 5));
  clock.advance(99);
  assert.equal(out.length, 0);
  clock.advance(1);
  assert.deepEqual(sent(out), [{ type: null, ns: 5, nr: 1, tunnelId: 7 }]);
  assert.equal(t.ns, 5, "a ZLB consumes no sequence number");
  assert.equal(t.stats.acksSent, 1);
  clock.advance(10_000);
  assert.equal(out.length, 1, "one acknowledgement only");
  t.close();
});

Deno.test("delayed ack: an ACK message (type 20) for v3, over UDP and over IP", () => {
  const udp = rig({ version: 3 });
  udp.t.receive(v3peer(0, 0));
  udp.clock.advance(100);
  assert.deepEqual(sent(udp.out, 3), [{ type: MessageType.ACK, ns: 0, nr: 1, tunnelId: 7 }]);
  udp.t.close();

  const ip = rig({ version: 3, encap: "ip", peerTunnelId: 0x01020304 });
  ip.t.receive(addV3IpControlPrefix(v3peer(0, 0)));
  assert.equal(ip.delivered.length, 1);
  ip.clock.advance(100);
  assert.equal(ip.out.length, 1);
  assert.deepEqual([...ip.out[0].subarray(0, 4)], [0, 0, 0, 0], "zero Session ID first");
  assert.deepEqual(sent(ip.out, 3, true), [
    { type: MessageType.ACK, ns: 0, nr: 1, tunnelId: 0x01020304 },
  ]);
  // The peer's ACK acknowledges ours without being delivered.
  ip.out.length = 0;
  const ack = ip.t.send({ type: HELLO });
  assert.equal(sent(ip.out, 3, true)[0].nr, 1);
  ip.t.receive(addV3IpControlPrefix(v3peer(1, 1, MessageType.ACK)));
  assert.equal(ip.t.inFlight, 0);
  assert.equal(ip.delivered.length, 1);
  assert.equal(ip.t.nr, 1);
  void ack;
  ip.t.close();
  assert.throws(() => rig({ version: 2, encap: "ip" }), TypeError);
});

Deno.test("ipPrefix false: IP semantics on a real L2TP/IP socket, without the zero Session ID", () => {
  const key = digestKey("s3cret");
  const digest = { key };
  const { t, out, clock, delivered, errors } = rig({
    version: 3,
    encap: "ip",
    ipPrefix: false,
    peerTunnelId: 0x01020304,
    encodeOptions: { digest },
    decodeOptions: { digest: { ...digest, required: true } },
  });
  assert.equal(t.encap, "ip");
  // The peer's HELLO arrives without the prefix, signed; a prefixed datagram is not ours.
  t.receive(encodeControl({ version: 3, tunnelId: 1, ns: 0, nr: 0, type: HELLO }, { digest }));
  assert.equal(delivered.length, 1);
  t.receive(addV3IpControlPrefix(v3peer(1, 0)));
  assert.equal(delivered.length, 1);
  assert.equal(errors.length, 1);
  clock.advance(100);
  assert.equal(out.length, 1);
  // What goes out starts with the L2TP header (T, L, S bits, version 3), not a Session ID.
  assert.deepEqual([...out[0].subarray(0, 2)], [0xc8, 0x03]);
  const ack = decodeControl(out[0], { version: 3, digest: { ...digest, required: true } });
  assert.deepEqual([ack.type, ack.tunnelId, ack.nr], [MessageType.ACK, 0x01020304, 1]);
  t.close();
});

Deno.test("no delayed ack when an outgoing message piggybacks Nr", () => {
  const { t, out, clock } = rig();
  t.receive(peer(0, 0, MessageType.ICRQ));
  clock.advance(50);
  t.send({ type: MessageType.ICRP });
  assert.deepEqual(sent(out), [{ type: MessageType.ICRP, ns: 0, nr: 1, tunnelId: 7 }]);
  clock.advance(200);
  assert.equal(out.length, 1, "no ZLB");
  assert.equal(t.stats.acksSent, 0);
  t.close();
});

Deno.test("every second in-order message is acknowledged at once (ackEvery)", () => {
  const { t, out } = rig();
  t.receive(peer(0, 0));
  assert.equal(out.length, 0);
  t.receive(peer(1, 0));
  assert.deepEqual(sent(out), [{ type: null, ns: 0, nr: 2, tunnelId: 7 }]);
  t.close();
});

Deno.test("deferAck: the ackEvery acknowledgement waits for the receiver's work, once", () => {
  const deferred: (() => void)[] = [];
  const { t, out, clock } = rig({ deferAck: (ack) => deferred.push(ack) });
  t.receive(peer(0, 0));
  t.receive(peer(1, 0));
  t.receive(peer(2, 0));
  assert.equal(out.length, 0, "not before the receiver is done");
  assert.equal(deferred.length, 1, "one callback for the pending acknowledgement");
  deferred[0]();
  assert.deepEqual(sent(out), [{ type: null, ns: 0, nr: 3, tunnelId: 7 }]);
  clock.advance(200);
  assert.equal(out.length, 1, "the delay timer was cleared by the acknowledgement");
  t.close();
});

Deno.test("deferAck: a reply sent meanwhile carries the acknowledgement, no ZLB", () => {
  const deferred: (() => void)[] = [];
  const { t, out, clock } = rig({ deferAck: (ack) => deferred.push(ack) });
  t.receive(peer(0, 0, MessageType.ICRQ));
  t.receive(peer(1, 0, MessageType.ICRQ));
  t.send({ type: MessageType.ICRP });
  for (const ack of deferred) ack();
  clock.advance(200);
  assert.deepEqual(sent(out), [{ type: MessageType.ICRP, ns: 0, nr: 2, tunnelId: 7 }]);
  assert.equal(t.stats.acksSent, 0);
  t.close();
});

Deno.test("deferAck: a receiver that never finishes still acknowledges after ackDelay", () => {
  const { t, out, clock } = rig({ deferAck: () => {} });
  t.receive(peer(0, 0));
  t.receive(peer(1, 0));
  clock.advance(99);
  assert.equal(out.length, 0);
  clock.advance(1);
  assert.deepEqual(sent(out), [{ type: null, ns: 0, nr: 2, tunnelId: 7 }]);
  t.close();
});
