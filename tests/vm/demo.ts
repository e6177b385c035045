/**
 * `deno task demo`: run the static-tunnel demo (tests/vm/demo_static.ts) on this kernel if it
 * has L2TP, otherwise inside the test VM with the Debian kernel.
 *
 * @module
 */

import { runInVm } from "./vm.ts";

const inner = [
  Deno.execPath(),
  "run",
  "--allow-all",
  new URL("./demo_static.ts", import.meta.url).pathname,
];

async function hostHasL2tp(): Promise<boolean> {
  if (Deno.uid?.() !== 0) return false;
  try {
    const modprobe = await new Deno.Command("modprobe", {
      args: ["-q", "l2tp_eth"],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!modprobe.success) return false;
    await Deno.stat("/sys/module/l2tp_netlink");
    return true;
  } catch {
    return false;
  }
}

if (await hostHasL2tp()) {
  console.log("demo: this kernel has L2TP; running here");
  const { code } = await new Deno.Command(inner[0], { args: inner.slice(1) }).spawn().status;
  Deno.exit(code);
} else {
  console.log("demo: this kernel has no L2TP; booting the Debian kernel under qemu (about 10 s)");
  const r = await runInVm({
    command: inner,
    cwd: Deno.cwd(),
    onOutput: (chunk) => Deno.stdout.writeSync(chunk),
  });
  console.log(`\ndemo: VM exit ${r.code}; boot ${r.bootMs} ms, total ${r.totalMs} ms`);
  Deno.exit(r.code);
}
