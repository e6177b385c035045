/**
 * kpppoed's access concentrator (lib/kpppoed/service.ts) against a real L2TPv2 LNS of ours on
 * loopback (a responder `Context`, null data plane), with subscribers played through a fake
 * discovery port: sessions share one tunnel per LNS, a PADT ends the L2TP session and the last
 * one the tunnel, a CDN from the LNS sends a PADT, an LNS that does not answer fails over to the
 * next, and shutting down sends every subscriber a PADT.
 */

import assert from "node:assert/strict";
import { encodePppoe, findTag, PppoeCode, PppoeTagType, tag } from "../../control/pppoe/codec.ts";
import { NullDataPlane } from "../../dataplane/null.ts";
import type { SessionConfig, TunnelConfig } from "../../lib/config.ts";
import { Context } from "../../lib/context.ts";
import type { L2tpEvent } from "../../lib/events.ts";
import { parseKpppoedConfig } from "../../lib/kpppoed/config.ts";
import { AccessConcentrator } from "../../lib/kpppoed/service.ts";
import { dial, FakePort, hangUp, until } from "./_pppoe_subscriber.ts";
import type { Tunnel } from "../../lib/tunnel.ts";

const PPP: SessionConfig = {
  pseudowire: "ppp",
  sendSeqnum: false,
  recvSeqnum: false,
  l2specType: "none",
};

/** Our LNS on 127.0.0.1:port, answering any call; its events are collected. */
async function startLns(ctx: Context, port: number): Promise<{ tunnel: Tunnel }> {
  const config: TunnelConfig = {
    mode: "dynamic",
    version: 2,
    encap: "udp",
    managed: true,
    role: "lns",
    hostName: "lns",
    local: { address: "127.0.0.1", port },
    peer: { address: "127.0.0.1", port: 0 },
  };
  const tunnel = await ctx.newDynamicTunnel("lns", config);
  await tunnel.newSession("any", PPP);
  return { tunnel };
}

let nextPort = 20000 + Math.floor(Math.random() * 20000);

/** A loopback UDP port for one test (distinct in this run). */
function freePort(): number {
  return nextPort++;
}

interface Rig {
  port: FakePort;
  ac: AccessConcentrator;
  acCtx: Context;
  lnsCtx: Context;
  lnsEvents: L2tpEvent[];
  running: Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

async function rig(configText: string, lnsPort?: number): Promise<Rig> {
  const lnsCtx = new Context({ dataplane: new NullDataPlane(), stopGraceMs: 100 });
  const lnsEvents: L2tpEvent[] = [];
  lnsCtx.onEvent((e) => lnsEvents.push(e));
  if (lnsPort !== undefined) await startLns(lnsCtx, lnsPort);
  const acCtx = new Context({ dataplane: new NullDataPlane(), stopGraceMs: 100 });
  const port = new FakePort();
  const ac = new AccessConcentrator({
    config: parseKpppoedConfig(configText),
    context: acCtx,
    port,
  });
  const running = ac.run();
  return {
    port,
    ac,
    acCtx,
    lnsCtx,
    lnsEvents,
    running,
    async [Symbol.asyncDispose](): Promise<void> {
      await ac.close();
      await running;
      await acCtx.close();
      await lnsCtx.close();
    },
  };
}

const base = (lns: string, extra = "") =>
  `ac_name = "test-ac"\ninterface_name = "veth0"\nservices = ["internet", "voip"]\n` +
  `${lns}\nretry_timeout = 200\nmax_retries = 2\n${extra}`;

Deno.test("kpppoed: PPPoE sessions share one tunnel per LNS; PADT closes a session, the last one its tunnel", async () => {
  const lnsPort = freePort();
  await using r = await rig(base(`lns_ipaddr = "127.0.0.1:${lnsPort}"`), lnsPort);
  const a = await dial(r.port, "02:00:00:00:00:0a");
  const b = await dial(r.port, "02:00:00:00:00:0b", "voip");
  await until(
    "both sessions up",
    () => r.ac.status().pppoe.sessions.filter((s) => s.state === "up").length === 2,
  );
  const status = r.ac.status();
  assert.equal(status.acName, "test-ac");
  assert.equal(status.tunnels.length, 1, "one tunnel to the one LNS");
  const tunnel = status.tunnels[0];
  assert.equal(tunnel.state, "up");
  assert.deepEqual(
    tunnel.sessions.map((s) => [s.pseudowire, s.state, s.pppoeSessionId, s.pppoePeerMac]).sort(),
    [
      ["pppac", "up", a, "02:00:00:00:00:0a"],
      ["pppac", "up", b, "02:00:00:00:00:0b"],
    ].sort(),
  );
  assert.deepEqual(
    status.pppoe.sessions.map((s) => [s.sessionId, s.service, s.tunnel]).sort(),
    [[a, "internet", tunnel.name], [b, "voip", tunnel.name]].sort(),
  );
  const lnsUps = () => r.lnsEvents.filter((e) => e.type === "session-up").length;
  const lnsDowns = () => r.lnsEvents.filter((e) => e.type === "session-down").length;
  // Our side is up once its ICCN is sent; the LNS once that ICCN has arrived.
  await until("both sessions up at the LNS", () => lnsUps() === 2);

  hangUp(r.port, "02:00:00:00:00:0a", a);
  await until("the LNS's CDN for a", () => lnsDowns() === 1);
  assert.equal(r.ac.status().tunnels.length, 1, "the tunnel stays for b");
  assert.equal(r.ac.status().pppoe.sessions.length, 1);
  assert.equal(r.port.last("02:00:00:00:00:0a", PppoeCode.PADT), undefined, "no PADT back");

  hangUp(r.port, "02:00:00:00:00:0b", b);
  await until("the tunnel closed", () => r.lnsEvents.some((e) => e.type === "tunnel-down"));
  await until("nothing left on the AC", () => r.acCtx.status().tunnels.length === 0);
  assert.equal(r.ac.size, 0);
});

Deno.test("kpppoed: a CDN from the LNS sends the subscriber a PADT", async () => {
  const lnsPort = freePort();
  await using r = await rig(base(`lns_ipaddr = "127.0.0.1:${lnsPort}"`), lnsPort);
  const mac = "02:00:00:00:00:0c";
  const id = await dial(r.port, mac);
  await until("up", () => r.ac.status().pppoe.sessions[0]?.state === "up");
  // The LNS drops its declared session: a CDN for every call bound to it.
  await r.lnsCtx.tunnel("lns")?.sessions[0].close();
  const padt = await until("PADT", () => r.port.last(mac, PppoeCode.PADT));
  assert.equal(padt.sessionId, id);
  await until("the tunnel closed", () => r.acCtx.status().tunnels.length === 0);
  assert.equal(r.ac.size, 0);
});

Deno.test("kpppoed: an LNS that does not answer fails over to the next one", async () => {
  const lnsPort = freePort();
  const dead = freePort();
  await using r = await rig(
    base(`lns_ipaddrs = ["127.0.0.1:${dead}", "127.0.0.1:${lnsPort}"]`),
    lnsPort,
  );
  await dial(r.port, "02:00:00:00:00:0d");
  await until("up at the second LNS", () => r.ac.status().pppoe.sessions[0]?.state === "up");
  assert.equal(r.ac.status().pppoe.sessions[0].lns, `127.0.0.1:${lnsPort}`);
});

Deno.test("kpppoed: when no LNS answers, the subscriber gets a PADT", async () => {
  await using r = await rig(base(`lns_ipaddr = "127.0.0.1:${freePort()}"`));
  const mac = "02:00:00:00:00:0e";
  const id = await dial(r.port, mac);
  const padt = await until("PADT", () => r.port.last(mac, PppoeCode.PADT));
  assert.equal(padt.sessionId, id);
  assert.equal(r.ac.size, 0);
  await until("no tunnel left", () => r.acCtx.status().tunnels.length === 0);
});

Deno.test("kpppoed: close() sends every subscriber a PADT and the LNS a StopCCN", async () => {
  const lnsPort = freePort();
  await using r = await rig(base(`lns_ipaddr = "127.0.0.1:${lnsPort}"`), lnsPort);
  const macs = ["02:00:00:00:00:10", "02:00:00:00:00:11", "02:00:00:00:00:12"];
  const ids = [];
  for (const mac of macs) ids.push(await dial(r.port, mac));
  await until(
    "all up",
    () => r.ac.status().pppoe.sessions.filter((s) => s.state === "up").length === 3,
  );
  await r.ac.close();
  await r.running;
  for (const [i, mac] of macs.entries()) {
    assert.equal(r.port.last(mac, PppoeCode.PADT)?.sessionId, ids[i], `PADT to ${mac}`);
  }
  await until("the LNS saw the tunnel go", () => r.lnsEvents.some((e) => e.type === "tunnel-down"));
  assert.equal(r.acCtx.status().tunnels.length, 0);
});

Deno.test("kpppoed: malformed discovery frames are counted and the loop goes on", async () => {
  const lnsPort = freePort();
  await using r = await rig(base(`lns_ipaddr = "127.0.0.1:${lnsPort}"`), lnsPort);
  for (const payload of [new Uint8Array(3), new Uint8Array([0x11, 0x09, 0, 0, 0, 200])]) {
    r.port.deliver({ source: "02:00:00:00:00:20", packetType: "broadcast", payload });
  }
  r.port.deliver({ source: "not a mac", packetType: "broadcast", payload: new Uint8Array(6) });
  await dial(r.port, "02:00:00:00:00:21");
  const counters = r.ac.status().pppoe.counters;
  const malformed = counters.malformed as Record<string, number>;
  assert.equal(Object.values(malformed).reduce((a, b) => a + b, 0), 3);
  assert.equal(counters.pado, 1);
});

Deno.test("kpppoed: max_sessions_per_mac refuses a subscriber's next session with AC-System-Error", async () => {
  const lnsPort = freePort();
  await using r = await rig(
    base(`lns_ipaddr = "127.0.0.1:${lnsPort}"`, "max_sessions_per_mac = 1\n"),
    lnsPort,
  );
  const mac = "02:00:00:00:00:40";
  await dial(r.port, mac);
  // A second session from the same MAC (another Host-Uniq, so not a retransmission).
  const count = (code: number) => r.port.sent.filter((s) => s.packet.code === code).length;
  const tags = [tag(PppoeTagType.SERVICE_NAME, "internet"), tag(PppoeTagType.HOST_UNIQ, "2")];
  r.port.deliver({
    source: mac,
    packetType: "broadcast",
    payload: encodePppoe({ code: PppoeCode.PADI, sessionId: 0, tags }),
  });
  await until("a second PADO", () => count(PppoeCode.PADO) === 2);
  const pado = r.port.last(mac, PppoeCode.PADO);
  const cookie = pado && findTag(pado, PppoeTagType.AC_COOKIE);
  assert.ok(cookie, "the second PADO has a cookie");
  r.port.deliver({
    source: mac,
    packetType: "host",
    payload: encodePppoe({
      code: PppoeCode.PADR,
      sessionId: 0,
      tags: [...tags, tag(PppoeTagType.AC_COOKIE, cookie)],
    }),
  });
  await until("a second PADS", () => count(PppoeCode.PADS) === 2);
  const refused = r.port.last(mac, PppoeCode.PADS);
  assert.equal(refused?.sessionId, 0);
  assert.ok(refused && findTag(refused, PppoeTagType.AC_SYSTEM_ERROR), "AC-System-Error");
  assert.equal(r.ac.status().pppoe.counters.refused_per_mac, 1);
  assert.equal(r.ac.size, 1);
});
