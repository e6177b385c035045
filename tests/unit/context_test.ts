/**
 * The library's runtime model (lib/context.ts) on the null data plane: events, status, closing
 * one thing while the rest runs, restart reconciliation, and the example program.
 */

import assert from "node:assert/strict";
import {
  Context,
  Daemon,
  type L2tpEvent,
  NullDataPlane,
  parseConfig,
  type SessionConfig,
  type TunnelConfig,
} from "../../lib/mod.ts";

const v3: TunnelConfig = {
  mode: "static",
  version: 3,
  encap: "ip",
  managed: false,
  local: { address: "192.0.2.1", port: 0 },
  peer: { address: "192.0.2.2", port: 0 },
  tid: 1,
  ptid: 2,
};

const eth = (sid: number): SessionConfig => ({
  sid,
  psid: sid + 100,
  pseudowire: "eth",
  sendSeqnum: false,
  recvSeqnum: false,
  l2specType: "default",
});

function drain(stream: AsyncIterable<L2tpEvent>): Promise<L2tpEvent[]> {
  return (async () => {
    const out: L2tpEvent[] = [];
    for await (const e of stream) out.push(e);
    return out;
  })();
}

Deno.test("context: every consumer sees every event in order; close ends the streams", async () => {
  using dp = new NullDataPlane();
  const ctx = new Context({ dataplane: dp });
  const a = drain(ctx.events());
  const b = drain(ctx.events());
  const t = await ctx.newStaticTunnel("t1", v3);
  await t.newSession("s1", eth(10));
  await ctx.close();
  const expected = ["tunnel-up", "session-up", "session-down", "tunnel-down"];
  assert.deepEqual((await a).map((e) => e.type), expected);
  assert.deepEqual((await b).map((e) => e.type), expected);
  const up = (await a)[1];
  assert.equal(up.type, "session-up");
  if (up.type === "session-up") {
    assert.deepEqual(
      [up.tunnel, up.session, up.localTunnelId, up.peerTunnelId, up.localSessionId],
      ["t1", "s1", 1, 2, 10],
    );
    assert.equal(up.peerSessionId, 110);
    assert.equal(up.interface, "l2tpeth0");
  }
  const down = (await a)[3];
  assert.equal(down.type === "tunnel-down" && down.reason, "closed");
  assert.equal((await dp.listTunnels()).length, 0, "close removed everything");
});

Deno.test("context: a consumer that does not read loses its oldest events, counted; others lose none", async () => {
  using dp = new NullDataPlane();
  await using ctx = new Context({ dataplane: dp });
  const slow = ctx.events({ bufferSize: 2 });
  const fast = ctx.events();
  const t = await ctx.newStaticTunnel("t1", v3);
  for (const sid of [10, 11, 12]) await t.newSession(`s${sid}`, eth(sid));
  assert.equal(slow.dropped, 2, "4 events into a buffer of 2");
  assert.equal(fast.dropped, 0);
  const first = await slow.next();
  assert.equal(first.done ? undefined : first.value.type, "session-up");
  assert.equal(first.done ? undefined : "session" in first.value && first.value.session, "s11");
  slow.close();
  fast.close();
});

Deno.test("context: status is plain JSON with states, IDs, peers and uptimes", async () => {
  using dp = new NullDataPlane();
  await using ctx = new Context({ dataplane: dp });
  const t = await ctx.newStaticTunnel("t1", v3);
  await t.newSession("s1", eth(10));
  const status = JSON.parse(JSON.stringify(ctx.status()));
  assert.equal(status.tunnels.length, 1);
  const [tunnel] = status.tunnels;
  assert.deepEqual(
    [tunnel.name, tunnel.state, tunnel.localTunnelId, tunnel.peerTunnelId, tunnel.peer.address],
    ["t1", "up", 1, 2, "192.0.2.2"],
  );
  assert.equal(typeof tunnel.uptimeSeconds, "number");
  assert.deepEqual(tunnel.sessions.map((s: { name: string; state: string }) => s.state), ["up"]);
});

Deno.test("context: closing one session or one tunnel leaves the rest running", async () => {
  using dp = new NullDataPlane();
  await using ctx = new Context({ dataplane: dp });
  const t1 = await ctx.newStaticTunnel("t1", v3);
  const s1 = await t1.newSession("s1", eth(10));
  await t1.newSession("s2", eth(11));
  const t2 = await ctx.newStaticTunnel("t2", { ...v3, tid: 5, ptid: 6 });
  await t2.newSession("x", eth(20));
  await s1.close();
  assert.equal(s1.closed, true);
  assert.deepEqual(t1.sessions.map((s) => s.name), ["s2"]);
  assert.deepEqual((await dp.listSessions()).map((s) => s.sessionId).sort(), [11, 20]);
  await t1.close();
  assert.deepEqual(ctx.tunnels.map((t) => t.name), ["t2"]);
  assert.deepEqual((await dp.listSessions()).map((s) => s.sessionId), [20]);
  await assert.rejects(
    t1.newSession("s3", eth(12)),
    /Cannot add session "s3": tunnel "t1" is closed/,
  );
  await assert.rejects(ctx.newStaticTunnel("t2", v3), /already has a tunnel by that name/);
  await assert.rejects(t2.newSession("x", eth(21)), /tunnel "t2" already has it/);
});

Deno.test("restart: a matching kernel tunnel and session are adopted, not created again", async () => {
  using dp = new NullDataPlane();
  // What a killed daemon left behind: the same tunnel and session.
  await dp.createTunnel({
    tunnelId: 1,
    peerTunnelId: 2,
    version: 3,
    encap: "ip",
    local: v3.local,
    peer: v3.peer,
  });
  await dp.createSession({
    tunnelId: 1,
    sessionId: 10,
    peerSessionId: 110,
    pseudowire: "eth",
    l2specType: "default",
    l2specLen: 4,
  });
  dp.calls.length = 0;
  const ctx = new Context({ dataplane: dp });
  const t = await ctx.newStaticTunnel("t1", v3);
  await t.newSession("s1", eth(10));
  assert.deepEqual(dp.calls.map((c) => c.op).filter((op) => op.startsWith("create")), []);
  assert.equal((await dp.listSessions()).length, 1);
  await ctx.close();
  assert.equal((await dp.listTunnels()).length, 0, "adopted state is removed on close");
});

Deno.test("restart: a kernel tunnel or session with our IDs that does not match is replaced", async () => {
  using dp = new NullDataPlane();
  await dp.createTunnel({
    tunnelId: 1,
    peerTunnelId: 99, // not the configured ptid
    version: 3,
    encap: "ip",
    local: v3.local,
    peer: v3.peer,
  });
  await dp.createTunnel({ tunnelId: 5, peerTunnelId: 6, version: 3, encap: "ip", ...v3Ends() });
  await dp.createSession({ tunnelId: 5, sessionId: 20, peerSessionId: 999, pseudowire: "eth" });
  dp.calls.length = 0;
  await using ctx = new Context({ dataplane: dp });
  await ctx.newStaticTunnel("t1", v3);
  assert.deepEqual(dp.calls.map((c) => c.op).slice(0, 3), [
    "getTunnel",
    "deleteTunnel",
    "createTunnel",
  ]);
  assert.equal((await dp.getTunnel(1))?.peerTunnelId, 2);
  const t2 = await ctx.newStaticTunnel("t2", { ...v3, tid: 5, ptid: 6 });
  await t2.newSession("x", eth(20));
  assert.equal((await dp.getSession(5, 20))?.peerSessionId, 120, "the session was replaced");
});

function v3Ends(): Pick<TunnelConfig, "local" | "peer"> {
  return { local: v3.local, peer: v3.peer };
}

Deno.test("restart: a dynamic tunnel never draws the ID of a kernel tunnel that exists", async () => {
  using dp = new NullDataPlane();
  await dp.createTunnel({ tunnelId: 7, peerTunnelId: 1, version: 2, encap: "udp", fd: 3 });
  await using ctx = new Context({ dataplane: dp, stopGraceMs: 50 });
  const lns = await ctx.newDynamicTunnel("lns", {
    mode: "dynamic",
    version: 2,
    encap: "udp",
    managed: true,
    role: "lns",
    local: { address: "127.0.0.1", port: 0 },
    peer: { address: "127.0.0.1", port: 0 },
  });
  assert.equal(lns.status().state, "listening");
  // A static tunnel whose tid is that leftover may still take it over (it replaces it).
  const t = await ctx.newStaticTunnel("t", { ...v3, tid: 7, ptid: 8 });
  assert.equal(t.status().localTunnelId, 7);
});

Deno.test("a responder binds incoming calls to sessions declared after it started", async () => {
  using dp = new NullDataPlane();
  const port = 20000 + Math.floor(Math.random() * 20000);
  await using ctx = new Context({ dataplane: dp, stopGraceMs: 100 });
  const seen: L2tpEvent[] = [];
  ctx.onEvent((e) => seen.push(e));
  const dyn = (role: "lac" | "lns"): TunnelConfig => ({
    mode: "dynamic",
    version: 2,
    encap: "udp",
    managed: true,
    role,
    hostName: role,
    local: role === "lns" ? { address: "127.0.0.1", port } : undefined,
    peer: { address: "127.0.0.1", port: role === "lns" ? 0 : port },
  });
  const ppp: SessionConfig = {
    pseudowire: "ppp",
    sendSeqnum: false,
    recvSeqnum: false,
    l2specType: "none",
  };
  const lns = await ctx.newDynamicTunnel("lns", dyn("lns"));
  await lns.newSession("any", ppp);
  const lac = await ctx.newDynamicTunnel("lac", dyn("lac"));
  await lac.newSession("c1", ppp);
  const deadline = Date.now() + 8000;
  while (seen.filter((e) => e.type === "session-up").length < 2) {
    if (Date.now() > deadline) throw new Error("Timed out waiting for both session-up events");
    await new Promise((r) => setTimeout(r, 20));
  }
  const ups = seen.filter((e) => e.type === "session-up").map((e) =>
    `${e.tunnel}/${"session" in e ? e.session : ""}`
  );
  assert.deepEqual(ups.sort(), ["lac/c1", "lns/any"]);
  const status = lns.status();
  assert.equal(status.peers?.length, 1);
  assert.equal(status.peers?.[0].peerHostName, "lac");
  assert.equal(status.peers?.[0].sessions[0].state, "up");
  assert.equal(lac.status().state, "up");
  await lac.close();
  assert.equal(lac.closed, true);
  assert.deepEqual(ctx.tunnels.map((t) => t.name), ["lns"]);
  const down = seen.find((e) => e.type === "tunnel-down" && e.tunnel === "lac");
  assert.equal(down?.type === "tunnel-down" && down.resultCode, 1, "StopCCN general request");
});

Deno.test("daemon: an empty configuration starts with nothing and stops", async () => {
  using dp = new NullDataPlane();
  const daemon = new Daemon({
    config: parseConfig("# nothing yet\n", "empty.toml"),
    dataPlane: dp,
  });
  await daemon.start();
  assert.deepEqual(daemon.tunnels, []);
  await daemon.stop();
  assert.equal(dp.calls.length, 0);
});

Deno.test("the example program runs: up events, status, one session closed, all down", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../../examples/two_tunnels.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, `${text}\n${new TextDecoder().decode(out.stderr)}`);
  const lines = text.trim().split("\n");
  const status = JSON.parse(lines.find((l) => l.startsWith("{")) ?? "{}");
  assert.deepEqual(status.tunnels.map((t: { name: string }) => t.name), ["static3", "lns", "lac"]);
  assert.ok(lines.includes("data plane: 3 tunnels, 5 sessions"));
  assert.ok(lines.includes("after closing call1: call2:up"));
  assert.ok(lines.includes("closed: 3 tunnel-down, 5 session-down"));
});
