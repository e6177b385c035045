/**
 * Deterministic tests of the control-message transport (control/transport.ts) and its helpers
 * (control/sequence.ts, control/window.ts, control/clock.ts), driven by a fake clock and a fake
 * socket: delivery order, duplicates, reordering, windows, wrap-around, congestion window,
 * retransmission and failure, delayed acknowledgements, HELLO, the StopCCN hold, errors, close.
 *
 * @module
 */

import assert from "node:assert/strict";
import { digestKey } from "../../control/auth.ts";
import { FakeClock } from "../../control/clock.ts";
import { AvpType, MessageType, type MessageTypeCode } from "../../control/constants.ts";
import { ParseError, UnknownAvpError } from "../../control/errors.ts";
import { addV3IpControlPrefix, type L2tpVersion } from "../../control/header.ts";
import {
  type ControlMessage,
  decodeControl,
  encodeControl,
  type OutgoingControlMessage,
} from "../../control/message.ts";
import { isSeq, seqAdd, seqBefore, seqDiff } from "../../control/sequence.ts";
import {
  ControlTransport,
  type ControlTransportOptions,
  type TransportErrorEvent,
  TransportFailedError,
} from "../../control/transport.ts";
import { CongestionWindow } from "../../control/window.ts";

const HELLO = MessageType.HELLO;

interface Rig {
  clock: FakeClock;
  out: Uint8Array[];
  t: ControlTransport;
  errors: TransportErrorEvent[];
  delivered: ControlMessage[];
}

/** A transport whose datagrams land in `out` and whose messages land in `delivered`. */
function rig(opts: Partial<ControlTransportOptions> = {}, callback = true): Rig {
  const clock = new FakeClock();
  const out: Uint8Array[] = [];
  const delivered: ControlMessage[] = [];
  const t = new ControlTransport({
    version: 2,
    clock,
    send: (p) => out.push(p),
    peerTunnelId: 7,
    ...(callback ? { onMessage: (m: ControlMessage) => delivered.push(m) } : {}),
    ...opts,
  });
  const errors: TransportErrorEvent[] = [];
  t.on("error", (e) => errors.push(e));
  return { clock, out, t, errors, delivered };
}

/** A datagram from the peer. */
function peer(
  ns: number,
  nr: number,
  type: MessageTypeCode | null = HELLO,
  extra: Partial<OutgoingControlMessage> = {},
): Uint8Array {
  return encodeControl({ version: 2, tunnelId: 1, ns, nr, type, ...extra });
}

function v3peer(ns: number, nr: number, type: MessageTypeCode | null = HELLO): Uint8Array {
  return encodeControl({ version: 3, tunnelId: 1, ns, nr, type });
}

/** What went out: type (null for ZLB), Ns, Nr, tunnel ID. */
function sent(out: Uint8Array[], version: L2tpVersion = 2, ip = false): {
  type: MessageTypeCode | null;
  ns: number;
  nr: number;
  tunnelId: number;
}[] {
  return out.map((p) => {
    const m = decodeControl(p, { version, transport: ip ? "ip" : "udp" });
    return { type: m.type, ns: m.ns, nr: m.nr, tunnelId: m.tunnelId };
  });
}

async function settled(p: Promise<unknown>): Promise<"resolved" | "rejected" | "pending"> {
  let state: "resolved" | "rejected" | "pending" = "pending";
  p.then(() => (state = "resolved"), () => (state = "rejected"));
  await Promise.resolve();
  await Promise.resolve();
  return state;
}

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
