/**
 * Listener (control/listener.ts) over an in-memory network with a fake clock: accepting SCCRQs
 * from configured peers (and from any peer with a secret), one per-tunnel socket per tunnel,
 * retransmitted SCCRQs recognised, refusals with StopCCN and a log line, limits, the tie breaker
 * hook, L2TPv3 over IP with a Message Digest, closing. Floods of SCCRQs and the cookie exchange
 * in detail are tests/unit/listener_flood_test.ts's.
 *
 * @module
 */

import assert from "node:assert/strict";
import { FakeClock } from "../../control/clock.ts";
import { ControlConnection, type ControlConnectionOptions } from "../../control/connection.ts";
import { AvpType, ErrorCode, MessageType, StopCcnResult } from "../../control/constants.ts";
import { Listener, type ListenerTunnel, type TunnelSocketRequest } from "../../control/listener.ts";
import { getAvp } from "../../control/message.ts";
import { type InFlight, MemoryNetwork, type MemorySocket } from "../../control/memory_socket.ts";
import type { Endpoint } from "../../dataplane/dataplane.ts";
import { decoded, ep, ethSession, pppSession, recorder, settle } from "./_control_rig.ts";

const LNS = ep("192.0.2.2", 1701);

interface Rig {
  clock: FakeClock;
  net: MemoryNetwork;
  wire: InFlight[];
  listener: Listener;
  lsock: MemorySocket;
  opened: TunnelSocketRequest[];
  tunnelSockets: MemorySocket[];
  rec: ReturnType<typeof recorder>;
  contests: (bigint | undefined)[];
  lac(from: Endpoint, opts?: Partial<ControlConnectionOptions>): ControlConnection;
  end(): Promise<void>;
}

function rig(
  tunnels: ListenerTunnel[],
  opts: {
    encap?: "udp" | "ip";
    maxTunnels?: number;
    maxHalfOpen?: number;
    cookies?: boolean;
    contest?: "win" | "lose" | "none";
  } = {},
): Rig {
  const clock = new FakeClock();
  const net = new MemoryNetwork();
  const wire: InFlight[] = [];
  net.filter = (d): Uint8Array => {
    wire.push(d);
    return d.data;
  };
  const encap = opts.encap ?? "udp";
  const local = encap === "ip" ? ep(LNS.address, 0) : LNS;
  const lsock = net.socket(local);
  const opened: TunnelSocketRequest[] = [];
  const tunnelSockets: MemorySocket[] = [];
  const rec = recorder();
  const contests: (bigint | undefined)[] = [];
  const listener = new Listener({
    socket: lsock,
    encap,
    local,
    clock,
    log: rec.log,
    tunnels,
    maxTunnels: opts.maxTunnels,
    maxHalfOpen: opts.maxHalfOpen,
    cookies: opts.cookies,
    ...(opts.contest
      ? {
        contest: (_peer: Endpoint, _v: 2 | 3, tb?: bigint): "win" | "lose" | "none" => {
          contests.push(tb);
          return opts.contest ?? "none";
        },
      }
      : {}),
    openSocket: (req) => {
      opened.push(req);
      const s = net.socket(req.local);
      s.connect(req.peer, req.peerTunnelId);
      tunnelSockets.push(s);
      return s;
    },
  });
  listener.start();
  const lacs: { c: ControlConnection; s: MemorySocket }[] = [];
  return {
    clock,
    net,
    wire,
    listener,
    lsock,
    opened,
    tunnelSockets,
    rec,
    contests,
    lac: (from, o = {}): ControlConnection => {
      const s = net.socket(encap === "ip" ? ep(from.address, 0) : from);
      const c = new ControlConnection({
        version: 2,
        encap,
        role: "initiator",
        clock,
        hostName: "lac",
        socket: s,
        peer: local,
        ...o,
      });
      lacs.push({ c, s });
      c.start();
      return c;
    },
    end: async (): Promise<void> => {
      listener.abort();
      for (const { c } of lacs) c.abort();
      await settle(clock);
      await Promise.all([...listener.connections.map((c) => c.done), ...lacs.map((l) => l.c.done)]);
      for (const { s } of lacs) s.close();
      lsock.close();
    },
  };
}

function lnsTunnel(extra: Partial<ListenerTunnel> = {}): ListenerTunnel {
  return {
    name: "lns",
    version: 2,
    peer: ep("192.0.2.1", 1701),
    connection: { hostName: "lns", sessions: [pppSession("any")] },
    ...extra,
  };
}

Deno.test("listener: a configured peer gets its own tunnel socket; a repeated SCCRQ is no new tunnel", async () => {
  const r = rig([lnsTunnel()]);
  const lac = r.lac(ep("192.0.2.1", 40000));
  const s = lac.openSession(pppSession("s"));
  await settle(r.clock, 300);
  assert.equal(await lac.established, true);
  assert.equal(await s.established, true);
  assert.equal(r.opened.length, 1);
  const req = r.opened[0];
  assert.deepEqual(req.local, LNS);
  assert.deepEqual(req.peer, ep("192.0.2.1", 40000), "the LAC's source port, whatever it is");
  assert.equal(req.peerTunnelId, lac.localTunnelId);
  assert.equal(req.tunnel, "lns");
  const [conn] = r.listener.connections;
  assert.equal(conn.localTunnelId, req.localTunnelId);
  assert.equal(lac.peerTunnelId, conn.localTunnelId);
  assert.equal(conn.role, "responder");
  // The SCCRQ again (a retransmission that reached the listening socket): same connection.
  const sccrq = r.wire.find((d) => d.to.port === 1701 && d.data[11] === 0 && d.data.length > 12);
  assert.ok(sccrq);
  const before = conn.transportStats?.duplicates ?? 0;
  r.listener.receive({ data: sccrq.data, from: sccrq.from });
  await settle(r.clock, 100);
  assert.equal(r.opened.length, 1, "no second tunnel");
  assert.equal(r.listener.connections.length, 1);
  assert.equal(conn.transportStats?.duplicates, before + 1, "handed to the tunnel as a duplicate");
  // Tearing down closes the per-tunnel socket.
  await lac.close();
  await settle(r.clock, 32_000, 1000);
  await conn.done;
  assert.equal(r.tunnelSockets[0].closed, true);
  assert.equal(r.listener.connections.length, 0);
  await r.end();
});

Deno.test("listener: an SCCRQ that does not start at Ns 0, Nr 0 opens nothing", async () => {
  const r = rig([lnsTunnel()]);
  const lac = r.lac(ep("192.0.2.1", 40000));
  await settle(r.clock, 300);
  assert.equal(await lac.established, true);
  const sccrq = r.wire.find((d) => d.to.port === 1701 && d.data[11] === 0 && d.data.length > 12);
  assert.ok(sccrq);
  const opened = r.opened.length;
  for (const [ns, nr] of [[1, 0], [0, 1], [7, 3]]) {
    const forged = sccrq.data.slice();
    forged[8] = 0;
    forged[9] = ns;
    forged[10] = 0;
    forged[11] = nr;
    r.listener.receive({ data: forged, from: ep("192.0.2.1", 40001) });
  }
  await settle(r.clock, 100);
  assert.equal(r.opened.length, opened, "no tunnel socket was opened for them");
  assert.equal(r.listener.connections.length, 1);
  await r.end();
});

Deno.test("listener: without cookies, SCCRQs beyond the half-open cap are dropped unanswered, warnings capped", async () => {
  const r = rig([lnsTunnel()], { maxHalfOpen: 2, cookies: false });
  const lac = r.lac(ep("192.0.2.1", 40000));
  await settle(r.clock, 300);
  assert.equal(await lac.established, true);
  const sccrq = r.wire.find((d) => d.to.port === 1701 && d.data[11] === 0 && d.data.length > 12);
  assert.ok(sccrq);
  const before = r.wire.length;
  // The same SCCRQ from 40 other ports of that peer: 40 would-be tunnels that never finish.
  for (let port = 41000; port < 41040; port++) {
    r.listener.receive({ data: sccrq.data, from: ep("192.0.2.1", port) });
  }
  await settle(r.clock, 100);
  assert.equal(r.opened.length, 1 + 2, "only two half-open tunnels were accepted");
  const answers = r.wire.slice(before).filter((d) => d.from.port === 1701);
  assert.equal(answers.length, 2, "the dropped SCCRQs got no answer");
  const warnings = r.rec.logs.filter((l) => /tunnels already setting up/.test(l.text));
  assert.ok(warnings.length <= 10, `warnings capped: ${warnings.length}`);
  // Half-open tunnels are given up after halfOpenTimeout (10 s), long before the setup timeout.
  await settle(r.clock, 10_500, 500);
  assert.equal(r.listener.connections.length, 1, "only the established tunnel is left");
  assert.equal(r.listener.stats.halfOpen, 0);
  assert.equal(lac.state, "established");
  await r.end();
});

Deno.test("listener: with cookies (the default), those SCCRQs are answered and open nothing", async () => {
  const r = rig([lnsTunnel()], { maxHalfOpen: 2 });
  const lac = r.lac(ep("192.0.2.1", 40000));
  await settle(r.clock, 300);
  assert.equal(await lac.established, true);
  const sccrq = r.wire.find((d) => d.to.port === 1701 && d.data[11] === 0 && d.data.length > 12);
  assert.ok(sccrq);
  const before = r.wire.length;
  for (let port = 41000; port < 41040; port++) {
    r.listener.receive({ data: sccrq.data, from: ep("192.0.2.1", port) });
  }
  await settle(r.clock, 100);
  assert.equal(r.opened.length, 1, "no socket and no connection for them");
  assert.equal(r.listener.connections.length, 1);
  const answers = decoded(r.wire.slice(before).filter((d) => d.from.port === 1701));
  assert.equal(answers.length, 40, "each got a stateless SCCRP");
  assert.ok(answers.every((m) => m.type === MessageType.SCCRP && m.ns === 0 && m.nr === 1));
  // What is kept: the SCCRQs' bytes; from a configured peer's address without a per-address
  // limit (a herd of LACs behind one address is legitimate; the table's capacity bounds them).
  const stats = r.listener.stats;
  assert.deepEqual([stats.pending, stats.halfOpen, stats.evicted], [40, 0, 0]);
  // A retransmitted SCCRQ gets the same cookie again.
  const last = ep("192.0.2.1", 41039);
  r.listener.receive({ data: sccrq.data, from: last });
  await settle(r.clock, 10);
  const again = decoded(r.wire.slice(-1));
  const first = answers[answers.length - 1];
  assert.equal(
    getAvp(again[0], AvpType.AssignedTunnelId),
    getAvp(first, AvpType.AssignedTunnelId),
  );
  assert.equal(r.listener.stats.pending, 40);
  // Cookies expire with their key, after at most halfOpenTimeout.
  await settle(r.clock, 10_100, 1000);
  assert.equal(r.listener.stats.pending, 0);
  await r.end();
});

Deno.test("listener: an unknown peer gets StopCCN result 4 and a log line", async () => {
  const r = rig([lnsTunnel()]);
  const stranger = r.lac(ep("198.51.100.9", 1701));
  await settle(r.clock, 300);
  assert.equal(await stranger.established, false);
  assert.equal(r.opened.length, 0);
  const stop = decoded(r.wire).find((m) => m.type === MessageType.StopCCN);
  assert.ok(stop);
  assert.equal(stop.tunnelId, stranger.localTunnelId);
  assert.equal(stop.nr, 1, "it acknowledges the SCCRQ");
  assert.equal(getAvp(stop, AvpType.ResultCode)?.resultCode, StopCcnResult.NotAuthorized);
  assert.ok(
    r.rec.logs.some((l) =>
      l.level === "warn" &&
      /SCCRQ from 198\.51\.100\.9:1701 refused: not a configured peer/.test(l.text)
    ),
  );
  await r.end();
});

Deno.test("listener: accept_any_peer with a secret; the secret is still checked", async () => {
  const r = rig([
    lnsTunnel({
      peer: undefined,
      acceptAnyPeer: true,
      connection: { hostName: "lns", secret: "k", sessions: [pppSession("any")] },
    }),
  ]);
  const good = r.lac(ep("203.0.113.5", 1701), { secret: "k" });
  const bad = r.lac(ep("203.0.113.6", 1701), { secret: "not-k" });
  await settle(r.clock, 300);
  assert.equal(await good.established, true);
  assert.equal(await bad.established, false);
  assert.throws(
    () =>
      new Listener({
        socket: r.lsock,
        encap: "udp",
        local: LNS,
        tunnels: [lnsTunnel({ acceptAnyPeer: true })],
        openSocket: () => r.net.socket(LNS),
      }),
    /accepts any peer but has no shared secret/,
  );
  await r.end();
});

Deno.test("listener: tunnel limits answer StopCCN result 2, error 4 (no resources)", async () => {
  const r = rig([
    lnsTunnel({
      peer: undefined,
      acceptAnyPeer: true,
      connection: { hostName: "lns", secret: "k" },
    }),
  ], {
    maxTunnels: 1,
  });
  const first = r.lac(ep("203.0.113.5", 1701), { secret: "k" });
  await settle(r.clock, 200);
  const second = r.lac(ep("203.0.113.6", 1701), { secret: "k" });
  await settle(r.clock, 200);
  assert.equal(await first.established, true);
  assert.equal(await second.established, false);
  const stop = decoded(r.wire).find((m) =>
    m.type === MessageType.StopCCN && m.tunnelId === second.localTunnelId
  );
  const result = stop && getAvp(stop, AvpType.ResultCode);
  assert.deepEqual([result?.resultCode, result?.errorCode], [2, ErrorCode.NoResources]);
  await r.end();
});

Deno.test("listener: a crossing SCCRQ that loses our tie breaker is ignored", async () => {
  const r = rig([lnsTunnel()], { contest: "win" });
  const lac = r.lac(ep("192.0.2.1", 1701), { tieBreaker: 1234n });
  await settle(r.clock, 300);
  assert.ok(r.contests.length >= 1, "asked once per SCCRQ");
  assert.ok(r.contests.every((t) => t === 1234n), "with the SCCRQ's tie breaker");
  assert.equal(r.opened.length, 0);
  assert.equal(lac.state, "wait-ctl-reply");
  await r.end();
});

Deno.test("listener: L2TPv3 over IP with a Message Digest; a wrong secret is dropped and logged", async () => {
  const pw = ethSession("pw", "circuit");
  const r = rig([
    lnsTunnel({
      version: 3,
      peer: undefined,
      acceptAnyPeer: true,
      connection: { hostName: "pe2", secret: "k", sessions: [pw] },
    }),
  ], { encap: "ip" });
  const good = r.lac(ep("203.0.113.5", 0), { version: 3, secret: "k" });
  const s = good.openSession(ethSession("pw", "circuit"));
  const bad = r.lac(ep("203.0.113.6", 0), { version: 3, secret: "nope", maxRetries: 1 });
  await settle(r.clock, 300);
  assert.equal(await good.established, true);
  assert.equal(await s.established, true);
  assert.equal(r.opened.length, 1);
  assert.equal(r.opened[0].peerTunnelId, good.localTunnelId, "L2TP/IP: connect to its ID");
  assert.ok(
    r.rec.logs.some((l) =>
      l.level === "warn" &&
      /SCCRQ from 203\.0\.113\.6:0 refused: .*Message Digest does not verify.*wrong shared secret/
        .test(l.text)
    ),
  );
  await settle(r.clock, 5000, 500);
  assert.equal(await bad.established, false);
  await r.end();
});

Deno.test("listener: close() sends StopCCN to every tunnel and waits for them", async () => {
  const r = rig([
    lnsTunnel({
      peer: undefined,
      acceptAnyPeer: true,
      connection: { hostName: "lns", secret: "k" },
    }),
  ]);
  const lacs = [1, 2, 3].map((i) => r.lac(ep(`203.0.113.${i}`, 1701), { secret: "k" }));
  await settle(r.clock, 300);
  for (const l of lacs) assert.equal(await l.established, true);
  assert.equal(r.listener.connections.length, 3);
  const closed = r.listener.close();
  await settle(r.clock, 500);
  await settle(r.clock, 32_000, 1000);
  await closed;
  assert.equal(r.listener.connections.length, 0);
  assert.ok(r.tunnelSockets.every((s) => s.closed));
  for (const l of lacs) assert.notEqual(l.state, "established");
  const stops = decoded(r.wire).filter((m) => m.type === MessageType.StopCCN);
  assert.equal(stops.length, 3);
  assert.ok(
    stops.every((m) => getAvp(m, AvpType.ResultCode)?.resultCode === StopCcnResult.ShuttingDown),
  );
  await r.end();
});
