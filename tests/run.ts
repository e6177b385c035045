/**
 * `deno task test`: every test suite, in this order: the unit tests (`deno task test:unit`, no
 * root), the documentation examples (`deno task test:doc`: every JSDoc example of the package,
 * the tools and the VM harness, type-checked and run), then the kernel suite in the VM
 * (`deno task test:kernel`).
 *
 * Each suite's output streams through; at the end one line sums what Deno reported for all of
 * them: `N passed, N failed` (and `, N skipped` when tests were ignored). The exit code is non-zero
 * if any suite failed or could not run. `--unit-only` runs the unit suite alone; `--no-vm` runs
 * every suite but the kernel one.
 *
 * @module
 */

interface Counts {
  passed: number;
  failed: number;
  ignored: number;
}

const SUMMARY =
  /^(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \(\d+ steps?\))?(?: \| (\d+) ignored)?/;

/** Run a command, stream its output, and add up the Deno test summaries it prints. */
async function suite(name: string, args: string[]): Promise<{ code: number; counts?: Counts }> {
  console.log(`\n=== ${name}: deno ${args.join(" ")}\n`);
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "inherit",
    env: { NO_COLOR: "1" },
  }).spawn();
  let counts: Counts | undefined;
  let pending = "";
  const decoder = new TextDecoder();
  const onLine = (line: string): void => {
    const m = SUMMARY.exec(line.trim());
    if (!m) return;
    counts ??= { passed: 0, failed: 0, ignored: 0 };
    counts.passed += Number(m[1]);
    counts.failed += Number(m[2]);
    counts.ignored += Number(m[3] ?? 0);
  };
  for await (const chunk of child.stdout) {
    await Deno.stdout.write(chunk);
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    lines.forEach(onLine);
  }
  onLine(pending);
  const { code } = await child.status;
  return { code, counts };
}

const OPTIONS = ["--unit-only", "--no-vm"];
const unknown = Deno.args.filter((a) => !OPTIONS.includes(a));
if (unknown.length > 0) {
  // Refuse rather than run everything (the VM suite takes minutes) on a mistyped option.
  console.error(
    `Cannot run the tests: unknown argument ${unknown.join(" ")} ` +
      `(usage: deno task test [--unit-only | --no-vm])`,
  );
  Deno.exit(2);
}
const unitOnly = Deno.args.includes("--unit-only");
const noVm = Deno.args.includes("--no-vm");
const total: Counts = { passed: 0, failed: 0, ignored: 0 };
let failed = false;

const runs: [string, string[]][] = [
  ["unit tests", ["task", "test:unit"]],
];
if (!unitOnly) runs.push(["doc tests", ["task", "test:doc"]]);
if (!unitOnly && !noVm) runs.push(["kernel tests (VM)", ["task", "test:kernel"]]);

for (const [name, args] of runs) {
  const { code, counts } = await suite(name, args);
  if (counts) {
    total.passed += counts.passed;
    total.failed += counts.failed;
    total.ignored += counts.ignored;
  }
  if (code !== 0) {
    failed = true;
    if (!counts || counts.failed === 0) {
      console.error(`${name}: exited with ${code} before reporting a failing test`);
      total.failed += 1;
    }
  }
}

console.log(
  `\n${total.passed} passed, ${total.failed} failed` +
    (total.ignored ? `, ${total.ignored} skipped` : ""),
);
Deno.exit(failed ? 1 : 0);
