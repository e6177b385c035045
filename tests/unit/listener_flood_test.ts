/**
 * The listener (control/listener.ts) under SCCRQ floods, over an in-memory network with a fake
 * clock: spoofed SCCRQs from many addresses (nobody ever answers our SCCRP) are answered with
 * stateless cookie SCCRPs and leave nothing but their bytes, in a bounded table; a legitimate
 * initiator's tunnel comes up within 5 s during a flood of 100/s and after (and during) a burst
 * of 10,000; tunnels already up are not disturbed; configured peers go before `accept_any_peer`
 * ones when the table is full; the cookie exchange authenticates both ways with a secret (L2TPv2
 * Challenge / Response, L2TPv3 Message Digest with nonces); forged, replayed, late or
 * out-of-sequence SCCCNs make nothing; a cookie never takes a tunnel ID in use. Without cookies
 * (L2TP/IP), the half-open limits: per address, the configured peers' share, the time-out. And
 * the two pieces under the listener: control/source_limits.ts and control/sccrq_cookie.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { chapResponse } from "../../control/auth.ts";
import { buildSccrq, buildStopccn } from "../../control/builders.ts";
import { FakeClock } from "../../control/clock.ts";
import { ControlConnection, type ControlConnectionOptions } from "../../control/connection.ts";
import { AvpType, ErrorCode, MessageType, StopCcnResult } from "../../control/constants.ts";
import { peekHeader } from "../../control/header.ts";
import { IdAllocator } from "../../control/ids.ts";
import { Listener, type ListenerOptions, type ListenerTunnel } from "../../control/listener.ts";
import { EXPIRED_COOKIE_MS } from "../../control/listener_cookie.ts";
import { encodeControl, getAvp } from "../../control/message.ts";
import { type InFlight, MemoryNetwork, type MemorySocket } from "../../control/memory_socket.ts";
import { CookieJar, cookieRandom } from "../../control/sccrq_cookie.ts";
import { SourceLimitedTable } from "../../control/source_limits.ts";
import type { Endpoint } from "../../dataplane/dataplane.ts";
import { decoded, ep, ethSession, pppSession, recorder, settle, tick } from "./_control_rig.ts";

const LNS = ep("192.0.2.2", 1701);
const SECRET = "k";

/** A deterministic PRNG (mulberry32), so that a failing flood can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Spoofed SCCRQs from 127.x.y.z, each from a new address and port, each a new tunnel ID. */
function spoofer(version: 2 | 3, seed = 1): () => { data: Uint8Array; from: Endpoint } {
  const rnd = prng(seed);
  const byte = (): number => Math.floor(rnd() * 256);
  return () => {
    const sccrq = buildSccrq(
      { version, hostName: "spoof", receiveWindow: 4, routerId: 1 + byte(), pseudowires: [5] },
      1 + Math.floor(rnd() * (version === 2 ? 0xfffe : 0xfffffffe)),
      { challenge: new Uint8Array(16).map(byte) },
    );
    return {
      data: encodeControl({ version, tunnelId: 0, ns: 0, nr: 0, ...sccrq }),
      from: ep(`127.${byte()}.${byte()}.${1 + byte() % 254}`, 1024 + Math.floor(rnd() * 60000)),
    };
  };
}

interface Rig {
  clock: FakeClock;
  net: MemoryNetwork;
  wire: InFlight[];
  listener: Listener;
  opened: number;
  rec: ReturnType<typeof recorder>;
  /** An initiator at `from`, started. */
  lac(from: Endpoint, opts?: Partial<ControlConnectionOptions>): ControlConnection;
  /** Fake ms from `start` until `c` is established (Infinity if it ends first). */
  upAfter(c: ControlConnection): Promise<number>;
  end(): Promise<void>;
}

function rig(tunnels: ListenerTunnel[], opts: Partial<ListenerOptions> = {}): Rig {
  const clock = new FakeClock();
  const net = new MemoryNetwork();
  const wire: InFlight[] = [];
  net.filter = (d): Uint8Array => {
    // The flood's SCCRPs go nowhere: only what a real peer sends or gets is kept.
    if (!d.to.address.startsWith("127.")) wire.push(d);
    return d.data;
  };
  const lsock = net.socket(LNS);
  const rec = recorder();
  const r: Rig = {
    clock,
    net,
    wire,
    listener: new Listener({
      socket: lsock,
      encap: "udp",
      local: LNS,
      clock,
      log: rec.log,
      tunnels,
      openSocket: (req) => {
        r.opened++;
        const s = net.socket(req.local);
        s.connect(req.peer, req.peerTunnelId);
        return s;
      },
      ...opts,
    }),
    opened: 0,
    rec,
    lac: (from, o = {}): ControlConnection => {
      const s = net.socket(from);
      const c = new ControlConnection({
        version: 2,
        encap: "udp",
        role: "initiator",
        clock,
        hostName: "lac",
        socket: s,
        peer: LNS,
        ...o,
      });
      lacs.push({ c, s });
      c.start();
      return c;
    },
    upAfter: (c): Promise<number> => {
      const start = clock.now();
      return c.established.then((up) => up ? clock.now() - start : Infinity);
    },
    end: async (): Promise<void> => {
      r.listener.abort();
      for (const { c } of lacs) c.abort();
      await settle(clock);
      await Promise.all([
        ...r.listener.connections.map((c) => c.done),
        ...lacs.map((l) => l.c.done),
      ]);
      for (const { s } of lacs) s.close();
      lsock.close();
    },
  };
  const lacs: { c: ControlConnection; s: MemorySocket }[] = [];
  r.listener.start();
  return r;
}

function anyPeer(version: 2 | 3 = 2, extra: Partial<ListenerTunnel> = {}): ListenerTunnel {
  return {
    name: "any",
    version,
    acceptAnyPeer: true,
    connection: {
      hostName: "lns",
      secret: SECRET,
      sessions: [version === 2 ? pppSession("any") : ethSession("pw", "circuit")],
    },
    ...extra,
  };
}

function configured(address: string): ListenerTunnel {
  return {
    name: "configured",
    version: 2,
    peer: ep(address, 1701),
    connection: { hostName: "lns", secret: SECRET, sessions: [pppSession("c")] },
  };
}

/** Run `ms` of fake time in 100 ms steps, sending `perSecond` spoofed SCCRQs evenly. */
async function flood(
  r: Rig,
  next: () => { data: Uint8Array; from: Endpoint },
  ms: number,
  perSecond: number,
): Promise<void> {
  for (let t = 0; t < ms; t += 100) {
    for (let i = 0; i < perSecond / 10; i++) r.listener.receive(next());
    r.clock.advance(100);
    await tick();
  }
}

Deno.test("flood: 100 spoofed SCCRQs/s for 40 s; legitimate LACs get tunnels within 5 s, one already up stays up, nothing is kept per spoofed SCCRQ but its bytes", async () => {
  const r = rig([anyPeer(), configured("198.51.100.7")]);
  const next = spoofer(2);
  const up = r.lac(ep("203.0.113.1", 1701), { secret: SECRET, helloInterval: 2000 });
  const upSession = up.openSession(pppSession("s"));
  await settle(r.clock, 300);
  assert.equal(await up.established, true);
  assert.equal(await upSession.established, true);
  const timersBefore = r.clock.pending;
  await flood(r, next, 5000, 100);
  // A legitimate LAC of an accept_any_peer tunnel, and one of a configured peer, mid-flood.
  const lac = r.lac(ep("203.0.113.2", 1701), { secret: SECRET });
  const confLac = r.lac(ep("198.51.100.7", 1701), { secret: SECRET });
  const times = Promise.all([r.upAfter(lac), r.upAfter(confLac)]);
  await flood(r, next, 35_000, 100);
  const [t1, t2] = await times;
  assert.ok(t1 < 5000, `the accept_any_peer LAC's tunnel came up after ${t1} ms`);
  assert.ok(t2 < 5000, `the configured LAC's tunnel came up after ${t2} ms`);
  assert.equal(up.state, "established", "the tunnel already up was not disturbed");
  assert.equal(up.sessionCount, 1);
  assert.equal(up.transportStats?.retransmits ?? 0, 0, "and lost nothing");
  // 4,000 spoofed SCCRQs: no connection, no socket, no timer for any of them.
  const s = r.listener.stats;
  assert.equal(s.connections, 3);
  assert.equal(r.opened, 3);
  assert.equal(s.halfOpen, 0);
  assert.ok(s.cookieSccrps >= 4000, `every SCCRQ was answered (${s.cookieSccrps})`);
  assert.ok(s.pending <= 100 * 10, `only the last 10 s of them are kept (${s.pending})`);
  assert.equal(s.evicted, 0, "at 100/s nothing needs to be evicted");
  assert.ok(
    r.clock.pending <= timersBefore + 8,
    `timers: ${timersBefore} before the flood, ${r.clock.pending} after`,
  );
  // Once the flood stops, what it left expires.
  await settle(r.clock, 11_000, 1000);
  assert.equal(r.listener.stats.pending, 0);
  await r.end();
});

Deno.test("flood: after a burst of 10,000 SCCRQs, and with its SCCCN queued behind 5,000 of them, a legitimate LAC's tunnel comes up at once; the table is bounded", async () => {
  const r = rig([anyPeer()]);
  const next = spoofer(2, 7);
  const before = Deno.memoryUsage().heapUsed;
  for (let i = 0; i < 10_000; i++) r.listener.receive(next());
  const s = r.listener.stats;
  assert.equal(s.cookieSccrps, 10_000);
  assert.equal(s.connections, 0);
  assert.equal(r.opened, 0);
  assert.ok(s.pending <= 16_384, `bounded: ${s.pending}`);
  const growth = Deno.memoryUsage().heapUsed - before;
  assert.ok(growth < 40 * 2 ** 20, `heap grew by ${(growth / 2 ** 20).toFixed(1)} MiB`);
  const lac = r.lac(ep("203.0.113.2", 1701), { secret: SECRET });
  const t = r.upAfter(lac);
  await settle(r.clock, 200);
  assert.ok((await t) < 5000);
  // Mid-burst: the LAC's SCCCN waits (as it would in the socket's queue) behind 5,000 more.
  const held: InFlight[] = [];
  r.net.filter = (d): Uint8Array | null => {
    if (d.to.port === LNS.port && d.from.address === "203.0.113.3" && d.data[9] === 1) {
      held.push(d);
      return null;
    }
    return d.data;
  };
  const late = r.lac(ep("203.0.113.3", 1701), { secret: SECRET });
  const t2 = r.upAfter(late);
  for (let i = 0; i < 5000; i++) r.listener.receive(next());
  await settle(r.clock, 10);
  assert.equal(held.length, 1, "the SCCCN was held");
  for (let i = 0; i < 5000; i++) r.listener.receive(next());
  r.listener.receive({ data: held[0].data, from: held[0].from });
  await settle(r.clock, 200);
  assert.ok((await t2) < 5000, "its cookie was still known");
  assert.ok(r.listener.stats.pending <= 16_384);
  assert.equal(r.listener.stats.connections, 2);
  await r.end();
});

Deno.test("flood: when the table is full, configured peers' cookies are kept and accept_any_peer ones are forgotten first", async () => {
  const r = rig([anyPeer(), configured("198.51.100.7")], { maxPending: 64 });
  const next = spoofer(2, 3);
  const held: InFlight[] = [];
  r.net.filter = (d): Uint8Array | null => {
    // Hold every SCCCN: it is delivered after the flood.
    if (d.to.port === LNS.port && d.data[9] === 1 && !d.from.address.startsWith("127.")) {
      held.push(d);
      return null;
    }
    return d.data;
  };
  const conf = r.lac(ep("198.51.100.7", 1701), { secret: SECRET });
  const other = r.lac(ep("203.0.113.9", 1701), { secret: SECRET });
  await settle(r.clock, 10);
  assert.equal(held.length, 2);
  for (let i = 0; i < 1000; i++) r.listener.receive(next());
  // One address with many ports only replaces its own cookies.
  const one = spoofer(2, 4);
  for (let i = 0; i < 100; i++) {
    const s = one();
    r.listener.receive({ data: s.data, from: ep("127.9.9.9", s.from.port) });
  }
  // 48 of accept_any_peer tunnels (64 less the quarter kept for configured peers), and the
  // configured peer's.
  assert.equal(r.listener.stats.pending, 48 + 1);
  r.net.filter = undefined;
  for (const d of held) r.listener.receive({ data: d.data, from: d.from });
  await settle(r.clock, 200);
  assert.equal(await conf.established, true, "the configured peer's cookie survived");
  assert.equal(other.state, "wait-ctl-ack", "the accept_any_peer one was forgotten");
  assert.equal(r.listener.stats.connections, 1);
  // Its SCCCN retransmissions are dropped (its cookie is unknown) until it gives up.
  await settle(r.clock, 40_000, 1000);
  assert.equal(await other.established, false);
  assert.equal(r.listener.stats.connections, 1);
  await r.end();
});

Deno.test("cookies with a secret: the stateless SCCRP answers the LAC's Challenge and carries ours; the SCCCN's Response is checked by the connection", async () => {
  const r = rig([anyPeer()]);
  const lac = r.lac(ep("203.0.113.5", 1701), { secret: SECRET });
  await settle(r.clock, 200);
  assert.equal(await lac.established, true);
  const msgs = decoded(r.wire, { secret: SECRET });
  const sccrq = msgs.find((m) => m.type === MessageType.SCCRQ);
  const sccrp = msgs.find((m) => m.type === MessageType.SCCRP);
  const scccn = msgs.find((m) => m.type === MessageType.SCCCN);
  assert.ok(sccrq && sccrp && scccn);
  const lacChallenge = getAvp(sccrq, AvpType.Challenge);
  const ourChallenge = getAvp(sccrp, AvpType.Challenge);
  assert.ok(lacChallenge && ourChallenge);
  assert.deepEqual(
    getAvp(sccrp, AvpType.ChallengeResponse),
    chapResponse(MessageType.SCCRP, SECRET, lacChallenge),
  );
  assert.deepEqual(
    getAvp(scccn, AvpType.ChallengeResponse),
    chapResponse(MessageType.SCCCN, SECRET, ourChallenge),
  );
  for (const t of [AvpType.HostName, AvpType.FramingCapabilities, AvpType.ReceiveWindowSize]) {
    assert.ok(getAvp(sccrp, t) !== undefined, `the SCCRP has AVP ${t}`);
  }
  const [conn] = r.listener.connections;
  assert.equal(getAvp(sccrp, AvpType.AssignedTunnelId), conn.localTunnelId, "the cookie");
  assert.equal(conn.peerTunnelId, lac.localTunnelId);
  assert.equal(conn.peerInfo.hostName, "lac");
  // The LNS sent exactly one SCCRP, and acknowledged the SCCCN (a ZLB with Nr 2, Ns 1).
  const fromLns = r.wire.filter((d) => d.from.port === 1701 && d.from.address === LNS.address);
  assert.equal(decoded(fromLns).filter((m) => m.type === MessageType.SCCRP).length, 1);
  const zlb = fromLns.map((d) => peekHeader(d.data)).find((p) =>
    p.kind === "control" && p.zlb && p.nr === 2
  );
  assert.ok(zlb && zlb.kind === "control" && zlb.ns === 1);
  // A LAC whose SCCCN carries a wrong Response is refused by the connection it makes.
  r.net.filter = (d): Uint8Array => {
    if (d.to.port === LNS.port && d.from.address === "203.0.113.6" && d.data[9] === 1) {
      const bytes = d.data.slice();
      bytes[bytes.length - 1] ^= 0xff; // the Challenge Response is the SCCCN's last AVP
      r.wire.push({ ...d, data: bytes });
      return bytes;
    }
    r.wire.push(d);
    return d.data;
  };
  const bad = r.lac(ep("203.0.113.6", 1701), { secret: SECRET });
  await settle(r.clock, 200);
  // (The LAC took our acknowledgement of its SCCCN as "up" before the StopCCN came.)
  assert.ok(bad.state === "closing" || bad.state === "dead", bad.state);
  assert.equal(r.listener.connections.filter((c) => c.state === "established").length, 1);
  assert.ok(r.rec.logs.some((l) => /wrong Challenge Response in the SCCCN/.test(l.text)));
  const stop = decoded(r.wire).find((m) =>
    m.type === MessageType.StopCCN && m.tunnelId === bad.localTunnelId
  );
  assert.equal(stop && getAvp(stop, AvpType.ResultCode)?.resultCode, StopCcnResult.NotAuthorized);
  // A LAC with another secret refuses our SCCRP; its StopCCN to the cookie is acknowledged.
  const wrong = r.lac(ep("203.0.113.7", 1701), { secret: "not-k" });
  await settle(r.clock, 300);
  assert.equal(await wrong.established, false);
  const toWrong = r.wire.filter((d) => d.to.address === "203.0.113.7").map((d) =>
    peekHeader(d.data)
  );
  assert.ok(toWrong.some((p) => p.kind === "control" && p.zlb && p.nr === 2), "its StopCCN acked");
  assert.equal(r.listener.stats.pending, 0);
  await r.end();
});

Deno.test("cookies for L2TPv3 over UDP with a Message Digest: the nonce comes from the cookie, the SCCCN verifies, a session comes up", async () => {
  const r = rig([anyPeer(3)]);
  const lac = r.lac(ep("203.0.113.5", 1701), { version: 3, secret: SECRET });
  const s = lac.openSession(ethSession("pw", "circuit"));
  await settle(r.clock, 300);
  assert.equal(await lac.established, true);
  assert.equal(await s.established, true);
  const sccrp = decoded(r.wire, { version: 3 }).find((m) => m.type === MessageType.SCCRP);
  assert.ok(sccrp && getAvp(sccrp, AvpType.ControlMessageAuthNonce)?.length === 16);
  assert.ok(getAvp(sccrp, AvpType.MessageDigest) !== undefined);
  assert.equal(
    getAvp(sccrp, AvpType.AssignedControlConnectionId),
    r.listener.connections[0].localTunnelId,
  );
  assert.ok(!r.rec.logs.some((l) => /Cannot authenticate/.test(l.text)));
  await r.end();
});

Deno.test("cookies with hidden AVPs: the stateless SCCRP hides its Assigned Tunnel ID; both ends understand each other", async () => {
  const r = rig([anyPeer(2, {
    connection: { hostName: "lns", secret: SECRET, hideAvps: true, sessions: [pppSession("a")] },
  })]);
  const lac = r.lac(ep("203.0.113.5", 1701), { secret: SECRET, hideAvps: true });
  const s = lac.openSession(pppSession("s"));
  await settle(r.clock, 300);
  assert.equal(await lac.established, true);
  assert.equal(await s.established, true);
  const sccrp = r.wire.find((d) => d.from.address === LNS.address && d.data.length > 12);
  assert.ok(sccrp);
  assert.equal(decoded([sccrp]).length, 0, "it cannot be read without the secret");
  const clear = decoded([sccrp], { secret: SECRET })[0];
  assert.equal(getAvp(clear, AvpType.AssignedTunnelId), r.listener.connections[0].localTunnelId);
  await r.end();
});

Deno.test("cookies: forged, late, out-of-sequence and replayed SCCCNs make no connection", async () => {
  const r = rig([anyPeer()], { halfOpenTimeout: 4000 });
  const held: InFlight[] = [];
  r.net.filter = (d): Uint8Array | null => {
    if (d.to.port === LNS.port && d.data[9] === 1 && d.data.length > 12) {
      held.push(d);
      return null;
    }
    r.wire.push(d);
    return d.data;
  };
  const lac = r.lac(ep("203.0.113.5", 1701), { secret: SECRET, retryTimeout: 3000 });
  await settle(r.clock, 10);
  assert.equal(held.length, 1);
  const scccn = held[0];
  const cookie = (peekHeader(scccn.data) as { tunnelId: number }).tunnelId;
  const variant = (f: (b: Uint8Array) => void): Uint8Array => {
    const b = scccn.data.slice();
    f(b);
    return b;
  };
  // From another address or port: a spoofer cannot use a cookie it saw.
  r.listener.receive({ data: scccn.data, from: ep("203.0.113.66", 1701) });
  r.listener.receive({ data: scccn.data, from: ep("203.0.113.5", 1702) });
  // A wrong cookie.
  r.listener.receive({
    data: variant((b) => new DataView(b.buffer).setUint16(4, cookie ^ 1)),
    from: scccn.from,
  });
  // Not acknowledging our SCCRP, or not the peer's second message.
  r.listener.receive({ data: variant((b) => b[11] = 0), from: scccn.from });
  r.listener.receive({ data: variant((b) => b[9] = 2), from: scccn.from });
  await settle(r.clock, 10);
  assert.equal(r.listener.stats.connections, 0);
  assert.equal(r.opened, 0);
  assert.equal(r.listener.stats.pending, 1, "the LAC's cookie is still there");
  // Too late: the cookie has expired (halfOpenTimeout 4 s).
  r.clock.advance(4100);
  r.listener.receive({ data: scccn.data, from: scccn.from });
  await settle(r.clock, 10);
  assert.equal(r.listener.stats.connections, 0);
  assert.equal(r.listener.stats.pending, 0);
  assert.ok(r.rec.logs.some((l) => /to an expired cookie|to a cookie with Ns/.test(l.text)));
  lac.abort();
  // In time, it makes the connection; replayed later, it goes to that connection, no other.
  r.net.filter = (d): Uint8Array => {
    r.wire.push(d);
    return d.data;
  };
  const lac2 = r.lac(ep("203.0.113.8", 1701), { secret: SECRET });
  await settle(r.clock, 200);
  assert.equal(await lac2.established, true);
  const scccn2 = r.wire.find((d) => d.from.address === "203.0.113.8" && d.data[9] === 1);
  assert.ok(scccn2);
  const [conn] = r.listener.connections;
  const dups = conn.transportStats?.duplicates ?? 0;
  r.listener.receive({ data: scccn2.data, from: scccn2.from });
  await settle(r.clock, 10);
  assert.equal(conn.transportStats?.duplicates, dups + 1);
  assert.equal(r.listener.stats.connections, 1);
  await lac2.close();
  await settle(r.clock, 32_000, 1000);
  await conn.done;
  r.listener.receive({ data: scccn2.data, from: scccn2.from });
  await settle(r.clock, 10);
  assert.equal(r.listener.stats.connections, 0, "a replay after the tunnel is gone makes nothing");
  assert.equal(r.opened, 1);
  await r.end();
});

/** A rig whose SCCCNs (Ns 1, not a ZLB) to the listener are held, to be delivered by hand. */
function holdingScccns(r: Rig): InFlight[] {
  const held: InFlight[] = [];
  r.net.filter = (d): Uint8Array | null => {
    const toListener = d.to.address === LNS.address && d.to.port === LNS.port;
    if (toListener && d.data[9] === 1 && d.data.length > 12) {
      held.push(d);
      return null;
    }
    r.wire.push(d);
    return d.data;
  };
  return held;
}

/** What the listening socket sent (no connection is made in these tests: nothing else is LNS). */
function fromListener(r: Rig): InFlight[] {
  return r.wire.filter((d) => d.from.address === LNS.address && d.from.port === LNS.port);
}

Deno.test("cookies: an SCCCN to an authentic but expired cookie gets one stateless StopCCN (general error, redial) to the LAC's tunnel ID; a forged one gets nothing", async () => {
  const r = rig([anyPeer()], { halfOpenTimeout: 4000 });
  const held = holdingScccns(r);
  const lacA = r.lac(ep("203.0.113.5", 1701), { secret: SECRET });
  const lacB = r.lac(ep("203.0.113.6", 1701), { secret: SECRET });
  await settle(r.clock, 10);
  assert.equal(held.length, 2);
  const [a, b] = ["203.0.113.5", "203.0.113.6"].map((address) => {
    const d = held.find((h) => h.from.address === address);
    assert.ok(d);
    return d;
  });
  const cookieOf = (d: InFlight): number => (peekHeader(d.data) as { tunnelId: number }).tunnelId;
  // Expired: halfOpenTimeout 4 s (the LACs' retransmissions are held too).
  await settle(r.clock, 4100, 100);
  const before = fromListener(r).length;
  // Forged: a cookie never given to that address and port, or given to another sender.
  const forged = a.data.slice();
  new DataView(forged.buffer).setUint16(4, cookieOf(a) ^ 1);
  r.listener.receive({ data: forged, from: a.from });
  r.listener.receive({ data: a.data, from: ep("203.0.113.66", 1701) });
  r.listener.receive({ data: a.data, from: ep("203.0.113.5", 1702) });
  r.listener.receive({ data: b.data, from: a.from });
  await settle(r.clock, 10);
  assert.equal(fromListener(r).length, before, "a forged cookie gets no answer");
  // Authentic and expired: A's answered SCCRQ is still in the table (nothing has pruned it);
  // B's is forgotten by then (reading the stats prunes), but what its StopCCN needs is kept.
  r.listener.receive({ data: a.data, from: a.from });
  assert.equal(r.listener.stats.pending, 0);
  r.listener.receive({ data: b.data, from: b.from });
  await settle(r.clock, 10);
  const stops = decoded(fromListener(r).slice(before)).filter((m) =>
    m.type === MessageType.StopCCN
  );
  assert.equal(stops.length, 2, "one StopCCN each");
  for (const [lac, d, stop] of [[lacA, a, stops[0]], [lacB, b, stops[1]]] as const) {
    assert.equal(stop.tunnelId, lac.localTunnelId, "addressed to the LAC's tunnel");
    assert.equal(getAvp(stop, AvpType.AssignedTunnelId), cookieOf(d), "from the cookie");
    assert.deepEqual([stop.ns, stop.nr], [1, 2], "after our SCCRP, acknowledging the SCCCN");
    const result = getAvp(stop, AvpType.ResultCode);
    assert.deepEqual(
      [result?.resultCode, result?.errorCode, result?.errorMessage],
      [StopCcnResult.GeneralError, ErrorCode.NoControlConnection, "cookie expired, redial"],
    );
  }
  assert.ok(
    r.rec.logs.some((l) =>
      l.level === "warn" &&
      /SCCCN from 203\.0\.113\.5:1701 refused: its cookie has expired/.test(l.text)
    ),
  );
  // The LACs give up at once instead of retransmitting their SCCCN for 31 s.
  assert.equal(await lacA.established, false);
  assert.equal(await lacB.established, false);
  const retransmitted = held.length;
  await settle(r.clock, 20_000, 1000);
  assert.equal(held.length, retransmitted, "no more SCCCNs");
  // One StopCCN per cookie: the same SCCCN again gets nothing.
  const after = fromListener(r).length;
  r.listener.receive({ data: a.data, from: a.from });
  r.listener.receive({ data: b.data, from: b.from });
  await settle(r.clock, 10);
  assert.equal(fromListener(r).length, after);
  assert.equal(r.listener.stats.connections, 0);
  assert.equal(r.opened, 0);
  await r.end();
});

Deno.test("cookies: an expired cookie's SCCCN is answered only while the LAC would retransmit it, never for a StopCCN, and not when the SCCRP was signed (L2TPv3 Message Digest)", async () => {
  // Answered until its cookie expired EXPIRED_COOKIE_MS (31 s) ago, not after. (Both SCCRQs
  // are answered in bucket 0 of 2 s: their cookies expire at 4 s, and are answered until 35 s.)
  const late = rig([anyPeer()], { halfOpenTimeout: 4000 });
  const lateHeld = holdingScccns(late);
  const lateLacs = [late.lac(ep("203.0.113.5", 1701), { secret: SECRET })];
  lateLacs.push(late.lac(ep("203.0.113.6", 1701), { secret: SECRET }));
  await settle(late.clock, 10);
  assert.equal(lateHeld.length, 2);
  for (const l of lateLacs) l.abort(); // nothing more from them
  await settle(late.clock, 10_000, 1000);
  assert.equal(late.listener.stats.pending, 0, "forgotten, but not what the StopCCN needs");
  await settle(late.clock, 4000 + EXPIRED_COOKIE_MS - 1000 - late.clock.now(), 1000);
  const lateBefore = fromListener(late).length;
  late.listener.receive({ data: lateHeld[1].data, from: lateHeld[1].from });
  await settle(late.clock, 10);
  assert.equal(fromListener(late).length, lateBefore + 1, "in time: a StopCCN");
  await settle(late.clock, 4000 + EXPIRED_COOKIE_MS + 100 - late.clock.now(), 1000);
  late.listener.receive({ data: lateHeld[0].data, from: lateHeld[0].from });
  await settle(late.clock, 10);
  assert.equal(fromListener(late).length, lateBefore + 1, "too late: nothing");
  // A StopCCN from the LAC to an expired cookie is not answered.
  const stop = rig([anyPeer()], { halfOpenTimeout: 4000 });
  const stopHeld = holdingScccns(stop);
  const lac = stop.lac(ep("203.0.113.5", 1701), { secret: SECRET });
  await settle(stop.clock, 10);
  const scccn = stopHeld[0];
  await settle(stop.clock, 4100, 100);
  const stopccn = encodeControl({
    version: 2,
    tunnelId: (peekHeader(scccn.data) as { tunnelId: number }).tunnelId,
    ns: 1,
    nr: 1,
    ...buildStopccn(2, lac.localTunnelId, { resultCode: StopCcnResult.GeneralRequest }),
  });
  const stopBefore = fromListener(stop).length;
  stop.listener.receive({ data: stopccn, from: scccn.from });
  await settle(stop.clock, 10);
  assert.equal(fromListener(stop).length, stopBefore);
  // L2TPv3: answered when the SCCRP was not signed; dropped when it carried a Message Digest
  // (the nonce a signed StopCCN needs went with the cookie's key).
  const v3 = rig([{
    name: "unsigned",
    version: 3,
    peer: ep("203.0.113.7", 1701),
    connection: {
      hostName: "lns",
      secret: SECRET,
      messageDigest: "none",
      sessions: [ethSession("pw", "circuit")],
    },
  }, anyPeer(3)], { halfOpenTimeout: 4000 });
  const v3Held = holdingScccns(v3);
  const unsigned = v3.lac(ep("203.0.113.7", 1701), {
    version: 3,
    secret: SECRET,
    messageDigest: "none",
  });
  const signed = v3.lac(ep("203.0.113.8", 1701), { version: 3, secret: SECRET });
  await settle(v3.clock, 10);
  assert.equal(v3Held.length, 2);
  await settle(v3.clock, 4100, 100);
  const v3Before = fromListener(v3).length;
  for (const address of ["203.0.113.7", "203.0.113.8"]) {
    const d = v3Held.find((h) => h.from.address === address);
    assert.ok(d);
    v3.listener.receive({ data: d.data, from: d.from });
  }
  await settle(v3.clock, 10);
  const answers = decoded(fromListener(v3).slice(v3Before), { version: 3 });
  assert.equal(answers.length, 1, "only the unsigned one is answered");
  assert.equal(answers[0].type, MessageType.StopCCN);
  assert.equal(answers[0].tunnelId, unsigned.localTunnelId);
  assert.equal(getAvp(answers[0], AvpType.ResultCode)?.resultCode, StopCcnResult.GeneralError);
  assert.ok(
    v3.rec.logs.some((l) => /203\.0\.113\.8:1701 to an expired cookie: dropped/.test(l.text)),
  );
  assert.notEqual(signed.state, "established", "it retransmits its SCCCN, unanswered");
  await Promise.all([late.end(), stop.end(), v3.end()]);
});

Deno.test("cookies never take a tunnel ID in use: not when answering, not when the SCCCN comes", async () => {
  const key = (n: number): Uint8Array => new Uint8Array(n).fill(42); // the same cookies each run
  const first = rig([anyPeer()], { random: key });
  first.lac(ep("203.0.113.5", 1701), { secret: SECRET });
  await settle(first.clock, 200);
  const cookie = first.listener.connections[0].localTunnelId;
  await first.end();
  // The same SCCRQ again, with that ID taken: another cookie.
  const ids = new IdAllocator(16);
  ids.reserve(cookie);
  const second = rig([anyPeer()], { random: key, tunnelIds: { 2: ids } });
  const sccrq = first.wire.find((d) => d.from.address === "203.0.113.5" && d.data[9] === 0);
  assert.ok(sccrq);
  second.listener.receive({ data: sccrq.data, from: sccrq.from });
  await settle(second.clock, 10);
  const sccrp = decoded(second.wire).find((m) => m.type === MessageType.SCCRP);
  const other = sccrp && getAvp(sccrp, AvpType.AssignedTunnelId);
  assert.ok(other !== undefined && other !== cookie, `${other} is not ${cookie}`);
  // Taken between SCCRP and SCCCN (by one of our initiators, say): the SCCCN is dropped.
  const ids3 = new IdAllocator(16);
  const held: InFlight[] = [];
  const third = rig([anyPeer()], { random: key, tunnelIds: { 2: ids3 } });
  third.net.filter = (d): Uint8Array | null => {
    if (d.to.port === LNS.port && d.data[9] === 1 && d.data.length > 12) {
      held.push(d);
      return null;
    }
    return d.data;
  };
  third.lac(ep("203.0.113.5", 1701), { secret: SECRET });
  await settle(third.clock, 10);
  assert.equal(held.length, 1);
  const taken = (peekHeader(held[0].data) as { tunnelId: number }).tunnelId;
  ids3.reserve(taken);
  third.listener.receive({ data: held[0].data, from: held[0].from });
  await settle(third.clock, 10);
  assert.equal(third.listener.stats.connections, 0);
  assert.ok(third.rec.logs.some((l) => /is now another tunnel's ID/.test(l.text)));
  assert.equal(ids3.size, 1, "and it is still the other tunnel's");
  await Promise.all([second.end(), third.end()]);
});

Deno.test("without cookies (L2TP/IP, say): at most maxPerSource half-open per address, a share kept for configured peers, given up after halfOpenTimeout", async () => {
  const r = rig([anyPeer(), configured("198.51.100.7")], {
    cookies: false,
    maxHalfOpen: 8,
    maxPerSource: 2,
    halfOpenTimeout: 3000,
  });
  const next = spoofer(2, 11);
  // One address: only 2 of its SCCRQs get a connection.
  for (let i = 0; i < 5; i++) {
    const s = next();
    r.listener.receive({ data: s.data, from: ep("127.7.7.7", s.from.port) });
  }
  assert.equal(r.listener.stats.halfOpen, 2);
  // Many addresses: accept_any_peer tunnels get 6 of the 8 (a quarter is kept).
  for (let i = 0; i < 20; i++) r.listener.receive(next());
  assert.equal(r.listener.stats.halfOpen, 6);
  assert.ok(r.rec.logs.some((l) => /already setting up for peers not configured/.test(l.text)));
  const conf = r.lac(ep("198.51.100.7", 1701), { secret: SECRET });
  await settle(r.clock, 200);
  assert.equal(await conf.established, true, "the configured peer still got in");
  // The spoofed ones are given up after 3 s, without a StopCCN hold.
  await settle(r.clock, 3000, 500);
  assert.equal(r.listener.stats.halfOpen, 0);
  assert.equal(r.listener.stats.connections, 1);
  const other = r.lac(ep("203.0.113.2", 1701), { secret: SECRET });
  await settle(r.clock, 200);
  assert.equal(await other.established, true, "and then there is room again");
  await r.end();
});

Deno.test("SourceLimitedTable and CookieJar: limits, eviction order, key rotation", () => {
  type E = { source: string; priority: "configured" | "any"; n: number };
  const t = new SourceLimitedTable<E>({ capacity: 6, reserved: 2, perSource: 3 });
  for (let n = 0; n < 3; n++) t.set(`c${n}`, { source: "10.0.0.1", priority: "configured", n });
  for (let n = 0; n < 10; n++) t.set(`a${n}`, { source: `10.1.0.${n}`, priority: "any", n });
  assert.deepEqual([t.size, t.sizeOf("configured"), t.sizeOf("any")], [6, 3, 3]);
  assert.ok(t.has("a9") && t.has("a7") && !t.has("a6"), "the oldest any entries went");
  t.set("c3", { source: "10.0.0.1", priority: "configured", n: 3 });
  assert.ok(!t.has("c0") && t.has("c3"), "a source over its limit replaces its own oldest");
  t.set("c4", { source: "10.0.0.2", priority: "configured", n: 4 });
  assert.ok(!t.has("a7") && t.has("c1"), "a full table gives up an any entry first");
  t.set("a9", { source: "10.1.0.9", priority: "any", n: 99 });
  assert.equal(t.get("a9")?.n, 99);
  assert.equal(t.prune((e) => e.priority === "configured"), 2, "prune stops at the first kept");
  assert.throws(() => new SourceLimitedTable({ capacity: 2, reserved: 2, perSource: 1 }));

  const clock = new FakeClock(1_000_000);
  const jar = new CookieJar({ clock, bucketMs: 1000 });
  const input = {
    version: 2 as const,
    from: ep("192.0.2.1", 1701),
    peerTunnelId: 9,
    sccrq: new Uint8Array([1, 2, 3]),
    attempt: 0,
  };
  const b = jar.bucket();
  const tag = jar.tag(input, b);
  assert.ok(tag);
  assert.deepEqual(jar.tag(input, b), tag, "the same inputs, the same cookie");
  assert.notDeepEqual(jar.tag({ ...input, attempt: 1 }, b), tag);
  assert.notDeepEqual(jar.tag({ ...input, from: ep("192.0.2.1", 1702) }, b), tag);
  assert.ok(jar.idOf(tag, 2) <= 0xffff);
  assert.equal(jar.tag(input, b - 1), undefined, "no key was made for a past bucket");
  assert.equal(jar.tag(input, b + 1), undefined, "nor for a future one");
  clock.advance(1000);
  assert.deepEqual(jar.tag(input, b), tag, "the previous bucket's key is kept");
  assert.ok(jar.valid(b));
  clock.advance(1000);
  assert.equal(jar.valid(b), false);
  assert.equal(jar.tag(input, b), undefined, "then forgotten");
  const r1 = cookieRandom(tag), r2 = cookieRandom(tag);
  assert.deepEqual([r1(4), r1(16), r1(40)], [r2(4), r2(16), r2(40)]);
});
