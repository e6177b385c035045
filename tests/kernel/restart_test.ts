/**
 * Restart reconciliation (lib/reconcile.ts) against the real kernel: a daemon killed with
 * SIGKILL leaves its unmanaged L2TPv3 tunnel and Ethernet session behind; the next start adopts
 * them when they match the configuration (same kernel IDs, same interface), replaces them when
 * they do not, and never fails with "File exists".
 */

import assert from "node:assert/strict";
import { Topology } from "../vm/topology.ts";
import { ipSessions, ipTunnels, kernelTest, startDaemon, waitFor } from "./_helpers.ts";

function config(topo: Topology, ptid: number): string {
  const [me, other] = topo.hosts;
  return `[tunnel.t1]
version = "l2tpv3"
encap = "ip"
managed = false
local = "${me.ipv4}"
peer = "${other.ipv4}"
tid = 71
ptid = ${ptid}

[tunnel.t1.session.s1]
pseudowire = "eth"
sid = 81
psid = 91
interface_name = "pwr0"
`;
}

async function ifindex(topo: Topology, name: string): Promise<number> {
  const out = await topo.exec(1, ["ip", "-j", "link", "show", name]);
  return JSON.parse(out.stdout)[0].ifindex;
}

kernelTest({
  name: "restart: after SIGKILL the next daemon adopts the matching tunnel, replaces a changed one",
  fn: async () => {
    await using topo = await Topology.create({ hosts: 2 });
    const ns = topo.hosts[0].netns;
    const file = await Deno.makeTempFile({ suffix: ".toml" });
    try {
      await Deno.writeTextFile(file, config(topo, 72));
      const first = startDaemon(topo, 1, file);
      await waitFor("the first daemon's session", async () => (await ipSessions(ns)).length === 1);
      const index = await ifindex(topo, "pwr0");
      await first.stop("SIGKILL");
      assert.equal((await ipTunnels(ns)).length, 1, "SIGKILL left the unmanaged tunnel behind");

      // Same configuration: adopted, the interface is the same one.
      const second = startDaemon(topo, 1, file);
      await waitFor(
        "the adopted session",
        () => Promise.resolve(/session-up /.test(second.output())),
      );
      assert.doesNotMatch(second.output(), /File exists|errno 17/);
      assert.match(second.output(), /Adopting kernel tunnel 71/);
      assert.equal(await ifindex(topo, "pwr0"), index, "the adopted interface is untouched");
      await second.stop("SIGKILL");

      // A changed peer tunnel ID: the leftover is replaced.
      await Deno.writeTextFile(file, config(topo, 73));
      const third = startDaemon(topo, 1, file);
      await waitFor(
        "the replacing session",
        () => Promise.resolve(/session-up /.test(third.output())),
      );
      assert.match(third.output(), /Replacing kernel tunnel 71/);
      const [t] = await ipTunnels(ns);
      assert.equal(t.peer_tunnel, 73);
      const status = await third.stop("SIGTERM");
      assert.equal(status.code, 0, third.output());
      assert.equal((await ipTunnels(ns)).length, 0, "SIGTERM leaves the kernel clean");
    } finally {
      await Deno.remove(file);
    }
  },
});
