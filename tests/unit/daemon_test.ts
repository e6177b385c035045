import assert from "node:assert/strict";
import {
  type ControlChannel,
  Daemon,
  runDaemon,
  type TunnelSocketOpener,
} from "../../lib/daemon.ts";
import { FakeClock } from "../../control/clock.ts";
import { type Datagram, openTunnelSocket } from "../../dataplane/socket.ts";
import {
  type Config,
  namedTunnel,
  parseConfig,
  type SessionEntry,
  type TunnelEntry,
} from "../../lib/config.ts";
import { NullDataPlane } from "../../dataplane/null.ts";
import { Context } from "../../lib/context.ts";

function session(name: string, sid: number, psid: number): SessionEntry {
  return {
    name,
    sid,
    psid,
    pseudowire: "eth",
    sendSeqnum: false,
    recvSeqnum: false,
    l2specType: "default",
  };
}

function tunnel(name: string, tid: number, extra: Partial<TunnelEntry> = {}): TunnelEntry {
  return {
    name,
    mode: "static",
    version: 3,
    encap: "udp",
    managed: false,
    local: { address: "127.0.0.1", port: 5000 + tid },
    peer: { address: "127.0.0.1", port: 6000 + tid },
    tid,
    ptid: tid + 100,
    sessions: [session("s1", 1, 2), session("s2", 3, 4)],
    ...extra,
  };
}

function config(...tunnels: TunnelEntry[]): Config {
  return { file: "test.toml", tunnels: tunnels.map(namedTunnel) };
}

/** A socket opener that hands out fake fds and records which are open. */
function fakeSockets(): { open: TunnelSocketOpener; live: Set<number>; opened: number[] } {
  const live = new Set<number>();
  const opened: number[] = [];
  let next = 100;
  const open: TunnelSocketOpener = () => {
    const fd = next++;
    live.add(fd);
    opened.push(fd);
    return { fd, close: () => live.delete(fd) };
  };
  return { open, live, opened };
}

Deno.test("daemon brings up every static tunnel and session, then removes them all", async () => {
  using dp = new NullDataPlane();
  const daemon = new Daemon({ config: config(tunnel("a", 1), tunnel("b", 2)), dataPlane: dp });
  await daemon.start();
  assert.deepEqual((await dp.listTunnels()).map((t) => t.tunnelId), [1, 2]);
  assert.equal((await dp.listSessions()).length, 4);
  assert.deepEqual(daemon.tunnels.map((t) => t.name), ["a", "b"]);
  await daemon.stop();
  assert.equal((await dp.listTunnels()).length, 0);
  assert.equal((await dp.listSessions()).length, 0);
  const deletes = dp.calls.filter((c) => c.op.startsWith("delete")).map((c) =>
    `${c.op}:${c.tunnelId}/${c.sessionId ?? ""}`
  );
  assert.deepEqual(deletes, [
    "deleteSession:2/3",
    "deleteSession:2/1",
    "deleteTunnel:2/",
    "deleteSession:1/3",
    "deleteSession:1/1",
    "deleteTunnel:1/",
  ]);
});

Deno.test("daemon maps session config to the data plane spec", async () => {
  using dp = new NullDataPlane();
  const s: SessionEntry = {
    ...session("s", 7, 8),
    cookie: new Uint8Array([1, 2, 3, 4]),
    peerCookie: new Uint8Array([5, 6, 7, 8, 9, 10, 11, 12]),
    sendSeqnum: true,
    recvSeqnum: true,
    interfaceName: "pw0",
    reorderTimeoutMs: 250,
  };
  const daemon = new Daemon({ config: config(tunnel("a", 1, { sessions: [s] })), dataPlane: dp });
  await daemon.start();
  const got = await dp.getSession(1, 7);
  assert.ok(got);
  assert.equal(got.peerSessionId, 8);
  assert.deepEqual(got.cookie, new Uint8Array([1, 2, 3, 4]));
  assert.deepEqual(got.peerCookie, new Uint8Array([5, 6, 7, 8, 9, 10, 11, 12]));
  assert.equal(got.ifname, "pw0");
  assert.equal(got.sendSeq, true);
  assert.equal(got.recvSeq, true);
  assert.equal(got.reorderTimeoutMs, 250);
  assert.equal(got.l2specType, "default");
  assert.equal(got.l2specLen, 4);
  await daemon.stop();
});

Deno.test("managed tunnels get a socket whose fd goes to the kernel, closed on stop", async () => {
  using dp = new NullDataPlane();
  const sockets = fakeSockets();
  const daemon = new Daemon({
    config: config(tunnel("a", 1, { managed: true }), tunnel("b", 2)),
    dataPlane: dp,
    openSocket: sockets.open,
  });
  await daemon.start();
  assert.equal(sockets.opened.length, 1, "only the managed tunnel opens a socket");
  assert.equal(sockets.live.size, 1);
  await daemon.stop();
  assert.equal(sockets.live.size, 0, "socket closed on stop");
});

Deno.test("a failure half-way rolls back everything created and rethrows", async () => {
  using dp = new NullDataPlane();
  const sockets = fakeSockets();
  const cfg = config(
    tunnel("a", 1, { managed: true }),
    tunnel("b", 2, { managed: true, sessions: [session("x", 1, 2), session("y", 1, 3)] }),
  );
  const daemon = new Daemon({ config: cfg, dataPlane: dp, openSocket: sockets.open });
  await assert.rejects(daemon.start(), /Cannot create session 2\/1: it already exists/);
  assert.equal((await dp.listTunnels()).length, 0);
  assert.equal((await dp.listSessions()).length, 0);
  assert.equal(sockets.live.size, 0, "every socket closed after rollback");
});

Deno.test("a tunnel the kernel refuses closes its socket and rolls back earlier tunnels", async () => {
  using dp = new NullDataPlane();
  const sockets = fakeSockets();
  const daemon = new Daemon({
    config: config(tunnel("a", 1, { managed: true }), tunnel("b", 2, { managed: true })),
    dataPlane: dp,
    openSocket: sockets.open,
  });
  let creates = 0;
  const original = dp.createTunnel.bind(dp);
  dp.createTunnel = (spec) => {
    if (++creates === 2) return Promise.reject(new Error("Cannot create tunnel 2: refused"));
    return original(spec);
  };
  await assert.rejects(daemon.start(), /Cannot create tunnel 2: refused/);
  assert.equal((await dp.listTunnels()).length, 0);
  assert.equal(sockets.live.size, 0);
});

Deno.test("pppac: a static L2TPv2 tunnel's pppac session comes up as a PPP kernel session", async () => {
  const config = parseConfig(
    `[tunnel.a]\nlocal = "127.0.0.1:5001"\npeer = "127.0.0.1:6001"\ntid = 1\nptid = 101\n` +
      `[tunnel.a.session.s1]\nsid = 1\npsid = 2\n` +
      `[tunnel.p]\nlocal = "127.0.0.1:5002"\npeer = "127.0.0.1:6002"\nversion = "l2tpv2"\n` +
      `tid = 2\nptid = 102\n[tunnel.p.session.s]\nsid = 1\npsid = 2\npseudowire = "pppac"\n` +
      `pppoe_session_id = 7\npppoe_peer_mac = "02:00:5e:00:53:01"\ninterface_name = "eth0"\n`,
    "test.toml",
  );
  assert.equal(config.tunnels[1].sessions[0].config.pseudowire, "pppac");
  // On the null data plane there is no PPPoE socket to bridge: the session is recorded as a PPP
  // session (the kernel's bridging is tests/kernel/pppoe_dataplane_test.ts's).
  using dp = new NullDataPlane();
  const daemon = new Daemon({ config, dataPlane: dp });
  await daemon.start();
  const session = await dp.getSession(2, 1);
  assert.equal(session?.pseudowire, "ppp");
  assert.equal(daemon.tunnels.find((t) => t.name === "p")?.sessions[0].state, "up");
  await daemon.stop();
  assert.equal((await dp.listTunnels()).length, 0);
});

Deno.test("pppac: a session without its PPPoE session is refused with the keys it needs", async () => {
  await using ctx = new Context({ dataplane: new NullDataPlane() });
  const t = await ctx.newStaticTunnel("p", {
    mode: "static",
    version: 2,
    encap: "udp",
    managed: false,
    local: { address: "127.0.0.1", port: 5002 },
    peer: { address: "127.0.0.1", port: 6002 },
    tid: 2,
    ptid: 102,
  });
  await assert.rejects(
    t.newSession("s", {
      sid: 1,
      psid: 2,
      pseudowire: "pppac",
      sendSeqnum: false,
      recvSeqnum: false,
      l2specType: "none",
      interfaceName: "eth0",
    }),
    /needs "pppoe_session_id", "pppoe_peer_mac" and "interface_name"/,
  );
  assert.equal(t.sessions.length, 0);
});

async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const version of [2, 3] as const) {
  Deno.test(`dynamic L2TPv${version}: LAC and LNS daemons bring tunnel and sessions up and down`, async () => {
    using lacDp = new NullDataPlane();
    using lnsDp = new NullDataPlane();
    const port = 20000 + Math.floor(Math.random() * 20000);
    const pw = version === 2 ? "ppp" : "eth";
    const s = (name: string): SessionEntry => ({
      name,
      pseudowire: pw,
      sendSeqnum: false,
      recvSeqnum: false,
      l2specType: "none",
      ...(version === 3 ? { remoteEndId: new TextEncoder().encode(name) } : {}),
    });
    const lns = new Daemon({
      dataPlane: lnsDp,
      pppd: false,
      config: config({
        name: "lns",
        mode: "dynamic",
        role: "lns",
        version,
        encap: "udp",
        managed: true,
        local: { address: "127.0.0.1", port },
        peer: { address: "127.0.0.1", port: 0 },
        secret: "s3cret",
        sessions: [s("a"), s("b")],
      }),
    });
    const lac = new Daemon({
      dataPlane: lacDp,
      pppd: false,
      config: config({
        name: "lac",
        mode: "dynamic",
        role: "lac",
        version,
        encap: "udp",
        managed: true,
        peer: { address: "127.0.0.1", port },
        secret: "s3cret",
        sessions: [s("a"), s("b")],
      }),
    });
    await lns.start();
    await lac.start();
    try {
      for (const dp of [lacDp, lnsDp]) {
        await until(
          "tunnel and two sessions",
          async () =>
            (await dp.listTunnels()).length === 1 && (await dp.listSessions()).length === 2,
        );
      }
      const [t] = await lacDp.listTunnels();
      const [u] = await lnsDp.listTunnels();
      assert.equal(t.peerTunnelId, u.tunnelId, "the LAC's kernel tunnel points at the LNS's");
      assert.equal(u.peerTunnelId, t.tunnelId);
      assert.equal(t.version, version);
    } finally {
      await lac.stop();
    }
    assert.equal((await lacDp.listTunnels()).length, 0, "the LAC removed its tunnel");
    await until(
      "the LNS to follow the StopCCN",
      async () =>
        (await lnsDp.listTunnels()).length === 0 && (await lnsDp.listSessions()).length === 0,
    );
    await lns.stop();
  });
}

Deno.test("a quiescent tunnel whose peer stops answering is taken down; the rest stays", async () => {
  using dp = new NullDataPlane();
  const sockets = fakeSockets();
  const clock = new FakeClock();
  const channels: { sent: number; closed: boolean }[] = [];
  const attach = (): ControlChannel => {
    const ch = { sent: 0, closed: false };
    channels.push(ch);
    return {
      send: () => {
        ch.sent++;
        return true; // into the void: the peer is gone
      },
      close: () => ch.closed = true,
      async *[Symbol.asyncIterator](): AsyncGenerator<Datagram> {},
    };
  };
  const q = tunnel("q", 2, {
    mode: "quiescent",
    managed: true,
    helloTimeoutMs: 1000,
    retryTimeoutMs: 1000,
    maxRetries: 2,
  });
  const daemon = new Daemon({
    config: config(tunnel("a", 1), q),
    dataPlane: dp,
    openSocket: sockets.open,
    attach,
    clock,
  });
  await daemon.start();
  assert.equal(channels.length, 1, "only the quiescent tunnel runs keep-alives");
  // HELLO at 1 s, retransmissions at 1 + 1 and 1 + 1 + 2 s, given up 4 s later: 8 s.
  for (let t = 0; t < 9000; t += 250) {
    clock.advance(250);
    await new Promise((r) => setTimeout(r, 0));
  }
  assert.equal(channels[0].sent, 3, "one HELLO, two retransmissions");
  assert.deepEqual((await dp.listTunnels()).map((t) => t.tunnelId), [1], "tunnel q removed");
  assert.deepEqual((await dp.listSessions()).map((s) => s.tunnelId), [1, 1]);
  assert.equal(channels[0].closed, true);
  assert.equal(sockets.live.size, 0, "its socket closed");
  assert.deepEqual(daemon.tunnels.map((t) => t.name), ["a"]);
  await daemon.stop();
  assert.equal((await dp.listTunnels()).length, 0);
});

Deno.test("runDaemon tears down when the signal aborts", async () => {
  using dp = new NullDataPlane();
  const ac = new AbortController();
  const running = runDaemon({ config: config(tunnel("a", 1)), dataPlane: dp, signal: ac.signal });
  while ((await dp.listTunnels()).length === 0) await new Promise((r) => setTimeout(r, 1));
  ac.abort();
  await running;
  assert.equal((await dp.listTunnels()).length, 0);
});

Deno.test("host names are resolved before anything is created, to the peer's family", async () => {
  using dp = new NullDataPlane();
  const asked: string[] = [];
  const resolve = (name: string, family?: 4 | 6): Promise<string[]> => {
    asked.push(`${name}/${family ?? "any"}`);
    if (name === "peer.example") return Promise.resolve(["2001:db8::2"]);
    if (name === "me.example") return Promise.resolve(["2001:db8::1"]);
    return Promise.reject(new Error(`Cannot resolve ${name}: Name or service not known`));
  };
  const t = tunnel("a", 1, {
    local: { address: "me.example", port: 1701 },
    peer: { address: "peer.example", port: 1701 },
    unresolved: ["local", "peer"],
  });
  const daemon = new Daemon({ config: config(t), dataPlane: dp, resolve });
  await daemon.start();
  assert.deepEqual(asked, ["peer.example/any", "me.example/6"]);
  const got = await dp.getTunnel(1);
  assert.equal(got?.local?.address, "2001:db8::1");
  assert.equal(got?.peer?.address, "2001:db8::2");
  await daemon.stop();

  const bad = tunnel("b", 2, {
    peer: { address: "nowhere.invalid", port: 1701 },
    unresolved: ["peer"],
  });
  using dp2 = new NullDataPlane();
  const d2 = new Daemon({ config: config(tunnel("a", 1), bad), dataPlane: dp2, resolve });
  await assert.rejects(d2.start(), /tunnel "b": key "peer": Cannot resolve nowhere\.invalid/);
  assert.equal(dp2.calls.length, 0, "nothing was created");
});

Deno.test("garbage at a running LNS is dropped: the daemon keeps serving its tunnel", async () => {
  using lnsDp = new NullDataPlane();
  using lacDp = new NullDataPlane();
  const port = 20000 + Math.floor(Math.random() * 20000);
  const s: SessionEntry = {
    name: "ppp",
    pseudowire: "ppp",
    sendSeqnum: false,
    recvSeqnum: false,
    l2specType: "none",
  };
  const common = { mode: "dynamic", version: 2, encap: "udp", managed: true } as const;
  const lns = new Daemon({
    dataPlane: lnsDp,
    pppd: false,
    config: config({
      ...common,
      name: "lns",
      role: "lns",
      local: { address: "127.0.0.1", port },
      peer: { address: "127.0.0.1", port: 0 },
      sessions: [s],
    }),
  });
  await lns.start();
  // Random bytes, and valid-looking L2TP control headers with random bodies.
  using junk = openTunnelSocket({
    encap: "udp",
    local: { address: "127.0.0.1", port: 0 },
    peer: { address: "127.0.0.1", port },
  });
  let seed = 7;
  const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
  for (let i = 0; i < 3000; i++) {
    const n = rnd() % 120;
    const d = new Uint8Array(n).map(() => rnd() & 0xff);
    if (i % 2 === 0 && n >= 12) {
      d.set([0xc8, 0x02, 0, n, 0, 0, 0, 0]);
    }
    junk.send(d);
    if (i % 100 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  const lac = new Daemon({
    dataPlane: lacDp,
    pppd: false,
    config: config({
      ...common,
      name: "lac",
      role: "lac",
      peer: { address: "127.0.0.1", port },
      sessions: [s],
    }),
  });
  await lac.start();
  await until(
    "the tunnel and session at both ends",
    async () =>
      (await lnsDp.listSessions()).length === 1 && (await lacDp.listSessions()).length === 1,
  );
  await lac.stop();
  await until("the LNS to follow", async () => (await lnsDp.listTunnels()).length === 0);
  await lns.stop();
});

Deno.test("redial: a LAC whose LNS went away dials again and comes back up", async () => {
  using lacDp = new NullDataPlane();
  const port = 20000 + Math.floor(Math.random() * 20000);
  const s: SessionEntry = {
    name: "ppp",
    pseudowire: "ppp",
    sendSeqnum: false,
    recvSeqnum: false,
    l2specType: "none",
  };
  const common = { mode: "dynamic", version: 2, encap: "udp", managed: true } as const;
  const lnsConfig = config({
    ...common,
    name: "lns",
    role: "lns",
    local: { address: "127.0.0.1", port },
    peer: { address: "127.0.0.1", port: 0 },
    sessions: [s],
  });
  const lac = new Daemon({
    dataPlane: lacDp,
    pppd: false,
    config: config({
      ...common,
      name: "lac",
      role: "lac",
      peer: { address: "127.0.0.1", port },
      sessions: [s],
      redialTimeoutMs: 200,
      maxRedials: 50,
      retryTimeoutMs: 100,
    }),
  });
  using dp1 = new NullDataPlane();
  const lns1 = new Daemon({ dataPlane: dp1, pppd: false, config: lnsConfig });
  await lns1.start();
  await lac.start();
  await until("the first tunnel", async () => (await lacDp.listSessions()).length === 1);
  const first = (await lacDp.listTunnels())[0].tunnelId;
  await lns1.stop(); // StopCCN: the LAC's tunnel goes down
  await until("the LAC to notice", async () => (await lacDp.listTunnels()).length === 0);
  using dp2 = new NullDataPlane();
  const lns2 = new Daemon({ dataPlane: dp2, pppd: false, config: lnsConfig });
  await lns2.start();
  await until(
    "the redialled tunnel and session",
    async () =>
      (await lacDp.listSessions()).length === 1 && (await dp2.listSessions()).length === 1,
  );
  assert.equal((await lacDp.listTunnels()).length, 1);
  assert.ok(first > 0);
  await lac.stop();
  await lns2.stop();
});
