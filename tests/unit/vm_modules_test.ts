import assert from "node:assert/strict";
import {
  compareKernelVersions,
  findKernel,
  moduleName,
  parseModulesBuiltin,
  parseModulesDep,
  resolveModules,
} from "../vm/modules.ts";

const DEP =
  `kernel/net/l2tp/l2tp_ppp.ko: kernel/net/l2tp/l2tp_netlink.ko kernel/net/l2tp/l2tp_core.ko kernel/drivers/net/ppp/pppox.ko kernel/drivers/net/ppp/ppp_generic.ko kernel/drivers/net/slip/slhc.ko kernel/net/ipv6/ip6_udp_tunnel.ko kernel/net/ipv4/udp_tunnel.ko
kernel/net/l2tp/l2tp_netlink.ko: kernel/net/l2tp/l2tp_core.ko kernel/net/ipv6/ip6_udp_tunnel.ko kernel/net/ipv4/udp_tunnel.ko
kernel/net/l2tp/l2tp_core.ko: kernel/net/ipv6/ip6_udp_tunnel.ko kernel/net/ipv4/udp_tunnel.ko
kernel/drivers/net/ppp/pppox.ko: kernel/drivers/net/ppp/ppp_generic.ko kernel/drivers/net/slip/slhc.ko
kernel/drivers/net/ppp/ppp_generic.ko: kernel/drivers/net/slip/slhc.ko
kernel/drivers/net/slip/slhc.ko:
kernel/net/ipv4/udp_tunnel.ko:
kernel/net/ipv6/ip6_udp_tunnel.ko:
kernel/fs/9p/9p-fs.ko.zst: kernel/net/9p/9pnet.ko.xz
kernel/net/9p/9pnet.ko.xz:
`;

Deno.test("moduleName: strips directories and compression suffixes, maps - to _", () => {
  assert.equal(moduleName("kernel/net/l2tp/l2tp_core.ko"), "l2tp_core");
  assert.equal(moduleName("kernel/fs/9p/9p-fs.ko.zst"), "9p_fs");
  assert.equal(moduleName("a.ko.xz"), "a");
  assert.equal(moduleName("b.ko.gz"), "b");
});

Deno.test("resolveModules: every module comes after all of its dependencies, once", () => {
  const dep = parseModulesDep(DEP);
  const order = resolveModules(["l2tp_ppp", "l2tp-core", "pppox"], dep, new Set());
  const names = order.map((m) => m.name);
  assert.equal(new Set(names).size, names.length);
  assert.equal(names.length, 8);
  for (const [i, name] of names.entries()) {
    for (const d of dep.get(name)?.deps ?? []) {
      assert.ok(names.indexOf(d) < i, `${d} should load before ${name}`);
    }
  }
  assert.equal(order.at(-1)?.path, "kernel/net/l2tp/l2tp_ppp.ko");
});

Deno.test("resolveModules: built-in modules are skipped, compressed paths kept", () => {
  const dep = parseModulesDep(DEP);
  const order = resolveModules(["9p_fs", "l2tp_core"], dep, new Set(["udp_tunnel"]));
  assert.deepEqual(order.map((m) => m.path), [
    "kernel/net/9p/9pnet.ko.xz",
    "kernel/fs/9p/9p-fs.ko.zst",
    "kernel/net/ipv6/ip6_udp_tunnel.ko",
    "kernel/net/l2tp/l2tp_core.ko",
  ]);
  assert.deepEqual(order.map((m) => m.name), ["9pnet", "9p_fs", "ip6_udp_tunnel", "l2tp_core"]);
});

Deno.test("resolveModules: unknown modules and cycles are errors naming the module", () => {
  const dep = parseModulesDep("k/a.ko: k/b.ko\nk/b.ko: k/a.ko\nk/c.ko: k/missing.ko\n");
  assert.throws(
    () => resolveModules(["nope"], dep, new Set()),
    /Cannot resolve kernel module nope/,
  );
  assert.throws(() => resolveModules(["a"], dep, new Set()), /dependency cycle/);
  assert.throws(() => resolveModules(["c"], dep, new Set()), /missing \(needed by c\)/);
});

Deno.test("parseModulesBuiltin: lists canonical names", () => {
  const b = parseModulesBuiltin("kernel/fs/ext4/ext4.ko\n\nkernel/net/unix/unix-x.ko\n");
  assert.deepEqual([...b], ["ext4", "unix_x"]);
});

Deno.test("compareKernelVersions: compares numeric parts as numbers", () => {
  const v = ["6.1.0-10-amd64", "5.10.0-9-amd64", "6.1.0-9-amd64", "6.10.1-1-amd64"];
  v.sort(compareKernelVersions);
  assert.deepEqual(v, ["5.10.0-9-amd64", "6.1.0-9-amd64", "6.1.0-10-amd64", "6.10.1-1-amd64"]);
});

Deno.test("findKernel: picks the newest image that has a module tree", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/boot`);
    for (const v of ["6.1.0-9-amd64", "6.1.0-10-amd64", "6.2.0-1-amd64"]) {
      await Deno.writeTextFile(`${dir}/boot/vmlinuz-${v}`, "");
    }
    for (const v of ["6.1.0-9-amd64", "6.1.0-10-amd64"]) {
      await Deno.mkdir(`${dir}/modules/${v}`, { recursive: true });
      await Deno.writeTextFile(`${dir}/modules/${v}/modules.dep`, "");
    }
    const k = await findKernel(`${dir}/boot`, `${dir}/modules`);
    assert.equal(k.version, "6.1.0-10-amd64");
    assert.equal(k.image, `${dir}/boot/vmlinuz-6.1.0-10-amd64`);
    assert.equal(k.modulesDir, `${dir}/modules/6.1.0-10-amd64`);
    await assert.rejects(
      findKernel(`${dir}/nothing`, `${dir}/modules`),
      /Cannot boot VM: .*linux-image-amd64/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
