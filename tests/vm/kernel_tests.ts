/**
 * `deno task test:kernel`: run the kernel test suite (`tests/kernel/`) as root inside the VM.
 *
 * On the host it first fills the Deno cache (`deno install`) and type-checks the tests, so the
 * slow emulated guest neither needs the network nor spends time type-checking; then it boots
 * the VM, runs `deno test --allow-all --no-check` there, streams the output, and exits with the
 * suite's exit status.
 *
 * ```sh
 * deno task test:kernel                           # all of tests/kernel/
 * deno task test:kernel --filter l2tp             # extra arguments go to `deno test`
 * deno task test:kernel tests/kernel/smoke_test.ts
 * deno task test:kernel --vm-timeout=900 ...      # VM time limit in seconds (default 1200)
 * ```
 *
 * @module
 */

import { runInVm } from "./vm.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const DEFAULT_PATH = "tests/kernel/";

/** Split our own `--vm-*` options from the arguments meant for `deno test`. */
function splitArgs(args: readonly string[]): { timeoutS: number; testArgs: string[] } {
  let timeoutS = 1200;
  const testArgs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--vm-timeout" || a.startsWith("--vm-timeout=")) {
      const v = a.includes("=") ? a.slice(a.indexOf("=") + 1) : args[++i];
      timeoutS = Number(v);
      if (!(timeoutS > 0)) throw new RangeError(`Cannot run kernel tests: bad --vm-timeout ${v}`);
    } else {
      testArgs.push(a);
    }
  }
  return { timeoutS, testArgs };
}

/** Paths among the `deno test` arguments (anything not an option that exists on disk). */
async function testPaths(testArgs: readonly string[]): Promise<string[]> {
  const paths: string[] = [];
  for (const a of testArgs) {
    if (a.startsWith("-")) continue;
    try {
      await Deno.stat(a.startsWith("/") ? a : `${ROOT}/${a}`);
      paths.push(a);
    } catch {
      // A value of an option (e.g. the pattern after --filter), not a path.
    }
  }
  return paths;
}

async function hostDeno(args: string[], what: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`Cannot run kernel tests: ${what} failed on the host`);
}

async function main(): Promise<number> {
  const { timeoutS, testArgs } = splitArgs(Deno.args);
  const paths = await testPaths(testArgs);
  if (paths.length === 0) testArgs.push(DEFAULT_PATH);
  const checkPaths = paths.length === 0 ? [DEFAULT_PATH] : paths;

  const prep = performance.now();
  await hostDeno(["install", "--quiet"], "deno install (filling the Deno cache)");
  await hostDeno(["check", "--quiet", ...checkPaths], "type-checking the kernel tests");
  const prepMs = Math.round(performance.now() - prep);

  const env: Record<string, string> = {};
  if (!Deno.stdout.isTerminal()) env.NO_COLOR = "1";
  const r = await runInVm({
    command: [Deno.execPath(), "test", "--allow-all", "--no-check", ...testArgs],
    cwd: ROOT,
    env,
    timeoutMs: timeoutS * 1000,
    onOutput: (chunk) => {
      let off = 0;
      while (off < chunk.length) off += Deno.stdout.writeSync(chunk.subarray(off));
    },
  });
  console.error(
    `[vm] kernel tests exited with ${r.code}${r.timedOut ? " (timed out)" : ""}; ` +
      `host prep ${prepMs} ms, VM boot ${r.bootMs} ms, VM total ${r.totalMs} ms; ` +
      `kernel console: ${r.consoleLog}`,
  );
  return r.code;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(1);
  }
}
