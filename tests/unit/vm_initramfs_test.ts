import assert from "node:assert/strict";
import { ensureInitramfs, isStaticElf, VM_MODULES } from "../vm/initramfs.ts";
import { findKernel } from "../vm/modules.ts";

function fakeElf(programHeaderTypes: number[]): Uint8Array {
  const elf = new Uint8Array(64 + 56 * programHeaderTypes.length);
  const v = new DataView(elf.buffer);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1], 0); // ELF, 64-bit, little-endian
  v.setBigUint64(0x20, 64n, true); // e_phoff
  v.setUint16(0x36, 56, true); // e_phentsize
  v.setUint16(0x38, programHeaderTypes.length, true); // e_phnum
  programHeaderTypes.forEach((t, i) => v.setUint32(64 + 56 * i, t, true));
  return elf;
}

Deno.test("isStaticElf: a PT_INTERP program header means dynamically linked", async () => {
  assert.equal(isStaticElf(fakeElf([6, 1, 1])), true);
  assert.equal(isStaticElf(fakeElf([6, 3, 1])), false);
  assert.equal(isStaticElf(await Deno.readFile(Deno.execPath())), false); // deno is dynamic
  assert.throws(() => isStaticElf(new Uint8Array(100)), /not a 64-bit little-endian ELF/);
});

const kernel = await findKernel().catch(() => undefined);

Deno.test({
  name: "ensureInitramfs: builds a gzip'd cpio with init and modules, then reuses it",
  // Needs linux-image-amd64 and busybox-static installed (as the kernel tests do).
  ignore: kernel === undefined,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      const first = await ensureInitramfs({ cacheDir: dir });
      assert.equal(first.cached, false);
      assert.ok(first.path.startsWith(`${dir}/initramfs-${first.kernel.version}-`));
      const names = first.modules.map((m) => m.name);
      for (const m of VM_MODULES) assert.ok(names.includes(m.replaceAll("-", "_")), m);
      assert.ok(names.indexOf("udp_tunnel") < names.indexOf("l2tp_core"));
      assert.ok(names.indexOf("l2tp_core") < names.indexOf("l2tp_ppp"));

      const gz = await Deno.readFile(first.path);
      const cpio = new Uint8Array(
        await new Response(
          new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip")),
        ).arrayBuffer(),
      );
      const text = new TextDecoder("latin1").decode(cpio);
      for (
        const name of [
          "init\0",
          "bin/busybox\0",
          "etc/l2tpvm/stage2\0",
          "lib/modules/l2tp_core.ko\0",
        ]
      ) {
        assert.ok(text.includes(name), `archive should contain ${name}`);
      }
      assert.ok(text.includes("l2tp_ppp l2tp_ppp.ko\n"), "module list names l2tp_ppp");

      const second = await ensureInitramfs({ cacheDir: dir });
      assert.equal(second.cached, true);
      assert.equal(second.path, first.path);
      const files = [...Deno.readDirSync(dir)].map((e) => e.name);
      assert.deepEqual(files, [first.path.slice(dir.length + 1)]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
