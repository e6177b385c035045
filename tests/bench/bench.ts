/**
 * `deno task bench`: every benchmark, with figures printed; nothing is asserted.
 *
 * Host benchmarks run as child processes one after another (so one's memory does not colour
 * another's RSS); kernel benchmarks run inside the VM. `--quick` shrinks the counts for a smoke
 * run; `--only NAME` (repeatable) picks benches by name.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { runInVm } from "../vm/vm.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string", multiple: true },
  },
});
const quick = values.quick;
const dir = new URL(".", import.meta.url).pathname;

interface Bench {
  name: string;
  /** Script in tests/bench and its arguments. */
  script: string;
  args: string[];
  /** Run inside the VM (needs the kernel's L2TP modules). */
  vm?: boolean;
}

const benches: Bench[] = [
  {
    name: "fuzz",
    script: "fuzz.ts",
    args: ["--iterations", quick ? "20000" : "1000000"],
  },
  { name: "reactor", script: "reactor_bench.ts", args: quick ? ["--quick"] : [] },
  { name: "transport", script: "transport_bench.ts", args: quick ? ["--quick"] : [] },
  { name: "control", script: "control_bench.ts", args: quick ? ["--quick"] : [] },
  { name: "loss", script: "loss_bench.ts", args: quick ? ["--quick"] : [] },
  { name: "memory", script: "memory_bench.ts", args: quick ? ["--quick"] : [] },
  { name: "setup", script: "setup_bench.ts", args: quick ? ["--quick"] : [] },
  { name: "lac-lns", script: "lac_lns_bench.ts", args: quick ? ["--quick"] : [] },
  { name: "pppoe", script: "pppoe_bench.ts", args: quick ? ["--quick"] : [] },
  { name: "flood", script: "flood_bench.ts", args: quick ? ["--quick"] : [] },
  { name: "herd", script: "herd_bench.ts", args: quick ? ["--quick"] : [] },
  {
    name: "kernel",
    script: "kernel_bench.ts",
    args: ["--sessions", quick ? "50" : "500", "--rounds", quick ? "1" : "3"],
    vm: true,
  },
];

let failed = 0;
for (const b of benches) {
  if (values.only && !values.only.includes(b.name)) continue;
  const path = `${dir}${b.script}`;
  try {
    await Deno.stat(path);
  } catch {
    console.log(`\n=== ${b.name}: not present (${b.script})`);
    continue;
  }
  console.log(`\n=== ${b.name}${b.vm ? " (in the VM)" : ""}`);
  const argv = [Deno.execPath(), "run", "--allow-all", path, ...b.args];
  let code: number;
  if (b.vm) {
    const r = await runInVm({
      command: argv,
      cwd: Deno.cwd(),
      onOutput: (chunk) => Deno.stdout.writeSync(chunk),
    });
    code = r.code;
    console.log(`(VM boot ${r.bootMs} ms, total ${r.totalMs} ms)`);
  } else {
    code = (await new Deno.Command(argv[0], { args: argv.slice(1) }).spawn().status).code;
  }
  if (code !== 0) {
    console.log(`=== ${b.name}: exited with ${code}`);
    failed++;
  }
}
Deno.exit(failed ? 1 : 0);
