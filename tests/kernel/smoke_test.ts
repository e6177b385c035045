/**
 * Smoke tests of the kernel test environment (the VM of `deno task test:kernel`, or a host with
 * L2TP run as root): the kernel's L2TP modules and generic netlink family are there, and the
 * namespace topology passes traffic.
 *
 * Without root or L2TP in the kernel the tests are ignored (see `kernelTest`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { Topology } from "../vm/topology.ts";
import { kernelTest, sh } from "./_helpers.ts";

/** Whether a module is loaded, or built into the kernel. */
function moduleThere(name: string): boolean {
  try {
    Deno.statSync(`/sys/module/${name}`);
    return true;
  } catch {
    // Not loaded; maybe built in.
  }
  const release = Deno.readTextFileSync("/proc/sys/kernel/osrelease").trim();
  try {
    const builtin = Deno.readTextFileSync(`/lib/modules/${release}/modules.builtin`);
    return new RegExp(`(^|/)${name}\\.ko`, "m").test(builtin);
  } catch {
    return false;
  }
}

kernelTest({
  name: "kernel: l2tp modules are loaded and the l2tp genl family answers",
  fn: async () => {
    // The VM loads them all at boot; on a host the kernel loads them when first used, so load
    // what is missing here (as root, from the installed modules).
    for (const m of ["l2tp_core", "l2tp_netlink", "l2tp_eth", "l2tp_ip", "l2tp_ppp"]) {
      if (!moduleThere(m)) await sh(["modprobe", m]);
      assert.ok(moduleThere(m), `kernel module ${m} should be loaded or built in`);
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

kernelTest({
  name: "kernel: two namespaces reach each other over veth with IPv4 and IPv6",
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

kernelTest({
  name: "kernel: three namespaces share a bridge, and destroy removes every namespace",
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
