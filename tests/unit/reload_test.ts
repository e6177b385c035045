/**
 * Reload as a difference (lib/reload.ts, Daemon.reload) and the operator's down/up, on the null
 * data plane: unchanged tunnels keep their kernel state, removed ones go, changed ones are
 * replaced, added ones come up.
 */

import assert from "node:assert/strict";
import { Daemon, diffConfigs, NullDataPlane, parseConfig } from "../../lib/mod.ts";

function file(tunnels: Record<string, { tid: number; ptid: number; sids: number[] }>): string {
  return Object.entries(tunnels).map(([name, t]) =>
    `[tunnel.${name}]
local = "192.0.2.1"
peer = "192.0.2.2"
encap = "ip"
tid = ${t.tid}
ptid = ${t.ptid}
${
      t.sids.map((sid) =>
        `[tunnel.${name}.session.s${sid}]\nsid = ${sid}\npsid = ${sid + 1000}\npseudowire = "eth"\n`
      ).join("")
    }`
  ).join("\n");
}

Deno.test("diff: added, removed, replaced and unchanged tunnels and sessions", () => {
  const a = parseConfig(file({
    keep: { tid: 1, ptid: 2, sids: [10, 11] },
    gone: { tid: 3, ptid: 4, sids: [] },
    change: { tid: 5, ptid: 6, sids: [] },
  }));
  const b = parseConfig(file({
    keep: { tid: 1, ptid: 2, sids: [10, 12] },
    change: { tid: 5, ptid: 7, sids: [] },
    fresh: { tid: 8, ptid: 9, sids: [] },
  }));
  const d = diffConfigs(a, b);
  assert.deepEqual(d.addedTunnels.map((t) => t.name), ["fresh"]);
  assert.deepEqual(d.removedTunnels, ["gone"]);
  assert.deepEqual(d.replacedTunnels.map((t) => t.name), ["change"]);
  assert.deepEqual(d.unchangedTunnels, ["keep"]);
  assert.deepEqual(d.sessions[0].removed, ["s11"]);
  assert.deepEqual(d.sessions[0].added.map((s) => s.name), ["s12"]);
  assert.deepEqual(d.sessions[0].unchanged, ["s10"]);
});

Deno.test("reload applies exactly the difference; the unchanged tunnel is not touched", async () => {
  using dp = new NullDataPlane();
  const daemon = new Daemon({
    dataPlane: dp,
    config: parseConfig(file({
      keep: { tid: 1, ptid: 2, sids: [10] },
      gone: { tid: 3, ptid: 4, sids: [30] },
    })),
  });
  await daemon.start();
  const ifBefore = (await dp.getSession(1, 10))?.ifname;
  dp.calls.length = 0;
  const r = await daemon.reload(parseConfig(file({
    keep: { tid: 1, ptid: 2, sids: [10] },
    fresh: { tid: 5, ptid: 6, sids: [50] },
  })));
  assert.deepEqual(r, {
    added: ["fresh"],
    removed: ["gone"],
    replaced: [],
    unchanged: ["keep/s10", "keep"],
    failed: [],
  });
  const touched = dp.calls.filter((c) => c.tunnelId === 1 && !c.op.startsWith("get"));
  assert.deepEqual(touched, [], "the unchanged tunnel was not touched");
  assert.equal((await dp.getSession(1, 10))?.ifname, ifBefore, "same interface");
  assert.deepEqual((await dp.listTunnels()).map((t) => t.tunnelId).sort(), [1, 5]);
  await daemon.stop();
});

Deno.test("reload replaces a tunnel whose settings changed, with its sessions", async () => {
  using dp = new NullDataPlane();
  const daemon = new Daemon({
    dataPlane: dp,
    config: parseConfig(file({ t: { tid: 1, ptid: 2, sids: [10] } })),
  });
  await daemon.start();
  const r = await daemon.reload(parseConfig(file({ t: { tid: 1, ptid: 9, sids: [10] } })));
  assert.deepEqual(r.replaced, ["t"]);
  assert.equal((await dp.getTunnel(1))?.peerTunnelId, 9);
  assert.equal((await dp.listSessions()).length, 1);
  await daemon.stop();
});

Deno.test("down and up: a tunnel or a session goes and comes back; down survives a reload", async () => {
  using dp = new NullDataPlane();
  const config = parseConfig(file({ t: { tid: 1, ptid: 2, sids: [10, 11] } }));
  const daemon = new Daemon({ dataPlane: dp, config });
  await daemon.start();
  await daemon.down("t", "s10");
  assert.deepEqual((await dp.listSessions()).map((s) => s.sessionId), [11]);
  await daemon.reload(config);
  assert.deepEqual((await dp.listSessions()).map((s) => s.sessionId), [11], "still down");
  await daemon.up("t", "s10");
  assert.equal((await dp.listSessions()).length, 2);
  await daemon.down("t");
  assert.equal((await dp.listTunnels()).length, 0);
  const status = await daemon.readStatus();
  assert.deepEqual(status.tunnels.map((t) => `${t.name}:${t.state}`), ["t:down"]);
  await daemon.up("t");
  assert.equal((await dp.listSessions()).length, 2);
  await assert.rejects(daemon.up("nope"), /Cannot bring up "nope": no tunnel "nope"/);
  await assert.rejects(daemon.down("t", "x"), /tunnel "t" has no session "x"/);
  await daemon.stop();
});

Deno.test("readStatus carries the kernel's counters as numbers", async () => {
  using dp = new NullDataPlane();
  const daemon = new Daemon({
    dataPlane: dp,
    config: parseConfig(file({ t: { tid: 1, ptid: 2, sids: [10] } })),
  });
  await daemon.start();
  const status = await daemon.readStatus();
  assert.equal(status.tunnels[0].kernel?.rxPackets, 0);
  assert.equal(status.tunnels[0].sessions[0].kernel?.txBytes, 0);
  JSON.stringify(status);
  await daemon.stop();
});
