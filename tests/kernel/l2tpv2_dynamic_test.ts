/**
 * L2TPv2 for real: our LAC and our LNS in two network namespaces, the full control protocol with
 * a shared secret, pppd on both ends through the kernel's PPPoL2TP sockets. PPP negotiates, ping
 * crosses the ppp interfaces, and a teardown from either side leaves no tunnel, no session, no
 * ppp interface and no pppd.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Topology } from "../vm/topology.ts";
import {
  type DaemonProcess,
  ipSessions,
  ipTunnels,
  kernelTest,
  PPPD_CLIENT,
  PPPD_SERVER,
  pppdCount,
  pppInterfaces,
  sh,
  startDaemon,
  waitFor,
} from "./_helpers.ts";

/** Our LNS on host 2 and our LAC on host 1, with pppd on both; resolves once PPP is up. */
async function bringUp(
  topo: Topology,
  dir: string,
): Promise<{ lac: DaemonProcess; lns: DaemonProcess }> {
  const [h1, h2] = topo.hosts;
  Deno.writeTextFileSync(
    `${dir}/lns.pppd`,
    `${PPPD_SERVER}10.99.0.1:10.99.0.2\n`,
  );
  Deno.writeTextFileSync(
    `${dir}/lac.pppd`,
    PPPD_CLIENT,
  );
  Deno.writeTextFileSync(
    `${dir}/lns.toml`,
    `[tunnel.lns]
mode = "dynamic"
role = "lns"
version = "l2tpv2"
local = "${h2.ipv4}:1701"
peer = "${h1.ipv4}"
secret = "correct horse"
host_name = "lns"

[tunnel.lns.session.ppp]
pseudowire = "ppp"
pppd_args = "lns.pppd"
lns_mode = true
`,
  );
  Deno.writeTextFileSync(
    `${dir}/lac.toml`,
    `[tunnel.lac]
version = "l2tpv2"
peer = "${h2.ipv4}:1701"
secret = "correct horse"
host_name = "lac"

[tunnel.lac.session.ppp]
pseudowire = "ppp"
pppd_args = "lac.pppd"
`,
  );
  const lns = startDaemon(topo, 2, `${dir}/lns.toml`, ["--verbose"]);
  await waitFor("the LNS to listen", () => {
    if (lns.exited()) throw new Error(`LNS exited:\n${lns.output()}`);
    return /Listening/.test(lns.output());
  });
  const lac = startDaemon(topo, 1, `${dir}/lac.toml`, ["--verbose"]);
  const daemons: DaemonProcess[] = [lac, lns];
  for (const host of [1, 2]) {
    await waitFor(`a ppp interface with an address on host ${host}`, async () => {
      for (const d of daemons) {
        if (d.exited()) throw new Error(`a daemon exited:\n${d.output()}`);
      }
      const [ifname] = await pppInterfaces(topo, host);
      if (!ifname) return false;
      const a = await topo.exec(host, ["ip", "-j", "addr", "show", "dev", ifname]);
      return a.stdout.includes("10.99.0.");
    }, 45_000);
  }
  return { lac, lns };
}

for (const stopFirst of ["LAC", "LNS"] as const) {
  kernelTest({
    name: `L2TPv2 LAC <-> LNS with pppd: PPP up, ping, ${stopFirst} stops first, all clean`,
    fn: async () => {
      await using topo = await Topology.create({ hosts: 2 });
      const [h1, h2] = topo.hosts;
      const dir = await Deno.makeTempDir({ prefix: "l2tpv2-" });
      const { lac, lns } = await bringUp(topo, dir);
      const daemons: DaemonProcess[] = [lac, lns];
      try {
        assert.equal((await ipTunnels(h1.netns)).length, 1);
        assert.equal((await ipSessions(h2.netns)).length, 1);
        await topo.ping(1, "10.99.0.1", { count: 3 });
        await topo.ping(2, "10.99.0.2", { count: 3 });
        assert.equal(await pppdCount(), 2, "one pppd per side");
        assert.match(lac.output(), /tunnel-up .*peerHostName=lns/);
        assert.match(lns.output(), /session-up /);

        const [first, second] = stopFirst === "LAC" ? [lac, lns] : [lns, lac];
        const st = await first.stop("SIGTERM");
        assert.equal(st.code, 0, `the first daemon exits cleanly:\n${first.output()}`);
        // The other side follows the StopCCN: its tunnel, session, pppd and interface go.
        const other = stopFirst === "LAC" ? 2 : 1;
        await waitFor(
          "the other side to follow the StopCCN",
          async () =>
            (await ipTunnels(topo.hosts[other - 1].netns)).length === 0 &&
            (await pppInterfaces(topo, other)).length === 0,
          20_000,
        );
        assert.equal(second.exited(), false, "the other daemon keeps running");
        await waitFor("every pppd to exit", async () => (await pppdCount()) === 0, 15_000);
      } finally {
        const statuses = await Promise.all(daemons.map((d) => d.stop("SIGTERM")));
        for (const [i, st] of statuses.entries()) {
          assert.equal(st.code, 0, `daemon exits cleanly:\n${daemons[i].output()}`);
        }
        await Deno.remove(dir, { recursive: true });
      }
      for (const h of topo.hosts) {
        assert.deepEqual(await ipTunnels(h.netns), [], `no tunnel left in ${h.netns}`);
        assert.deepEqual(await ipSessions(h.netns), [], `no session left in ${h.netns}`);
      }
      assert.deepEqual(await pppInterfaces(topo, 1), []);
      assert.deepEqual(await pppInterfaces(topo, 2), []);
      assert.equal(await pppdCount(), 0, "no pppd left");
    },
  });
}

kernelTest({
  name: "L2TPv2: a pppd that exits ends its session with a CDN; the tunnel stays",
  fn: async () => {
    await using topo = await Topology.create({ hosts: 2 });
    const [h1, h2] = topo.hosts;
    const dir = await Deno.makeTempDir({ prefix: "l2tpv2-cdn-" });
    const { lac, lns } = await bringUp(topo, dir);
    try {
      const inLac = (await sh(["ip", "netns", "pids", h1.netns])).stdout.split(/\s+/);
      const pppds = (await sh(["pgrep", "-x", "pppd"])).stdout.split(/\s+/).filter(Boolean);
      const lacPppd = pppds.filter((p) => inLac.includes(p));
      assert.equal(lacPppd.length, 1, "one pppd on the LAC side");
      await sh(["kill", "-KILL", lacPppd[0]]);
      await waitFor(
        "the CDN to remove the session at both ends",
        async () =>
          (await ipSessions(h1.netns)).length === 0 && (await ipSessions(h2.netns)).length === 0 &&
          (await pppdCount()) === 0,
        20_000,
      );
      assert.match(lac.output(), /pppd exited/);
      assert.match(lns.output(), /session-down /);
      assert.equal((await ipTunnels(h1.netns)).length, 1, "the LAC's tunnel stays up");
      assert.equal((await ipTunnels(h2.netns)).length, 1, "the LNS's tunnel stays up");
    } finally {
      for (const d of [lac, lns]) {
        const st = await d.stop("SIGTERM");
        assert.equal(st.code, 0, d.output());
      }
      await Deno.remove(dir, { recursive: true });
    }
    for (const h of topo.hosts) assert.deepEqual(await ipTunnels(h.netns), []);
  },
});
