/**
 * Smoke tests of the VM itself (run inside it by `deno task test:kernel`): the kernel's L2TP
 * modules and generic netlink family are there, and the namespace topology passes traffic.
 *
 * Outside the VM (no `L2TPVM=1` in the environment) the tests are ignored.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Topology } from "../vm/topology.ts";

const inVm = Deno.env.get("L2TPVM") === "1";

Deno.test({
  name: "kernel: l2tp modules are loaded and the l2tp genl family answers",
  ignore: !inVm,
  fn: async () => {
    for (const m of ["l2tp_core", "l2tp_netlink", "l2tp_eth", "l2tp_ip", "l2tp_ppp"]) {
      const st = await Deno.stat(`/sys/module/${m}`);
      assert.ok(st.isDirectory, `/sys/module/${m} should be a directory`);
    }
    const out = await new Deno.Command("ip", {
      args: ["l2tp", "show", "tunnel"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const ppp = await Deno.stat("/dev/ppp");
    assert.ok(ppp.isCharDevice, "/dev/ppp should be a character device");
  },
});

Deno.test({
  name: "kernel: two namespaces reach each other over veth with IPv4 and IPv6",
  ignore: !inVm,
  fn: async () => {
    await using topo = await Topology.create({ hosts: 2 });
    const [h1, h2] = topo.hosts;
    const v4 = await topo.ping(h1, h2.ipv4);
    assert.match(v4.stdout, /1 packets received/);
    const v6 = await topo.ping(h2, h1.ipv6);
    assert.match(v6.stdout, /1 packets received/);
    const addrs = await topo.exec(h1, ["ip", "-br", "addr", "show", "dev", h1.ifname]);
    assert.match(addrs.stdout, /10\.0\.0\.1\/24/);
    assert.match(addrs.stdout, /fd00::1\/64/);
  },
});

Deno.test({
  name: "kernel: three namespaces share a bridge, and destroy removes every namespace",
  ignore: !inVm,
  fn: async () => {
    const topo = await Topology.create({ hosts: 3 });
    const names = [...topo.hosts.map((h) => h.netns), topo.switchNetns];
    try {
      await topo.ping(1, topo.host(3).ipv4);
      await topo.ping(3, topo.host(2).ipv6);
    } finally {
      await topo.destroy();
    }
    const list = await new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped" })
      .output();
    const left = new TextDecoder().decode(list.stdout);
    for (const n of names) assert.ok(n !== undefined && !left.includes(n), `${n} still exists`);
  },
});
