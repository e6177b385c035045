/**
 * `deno task test`: every test suite, unit first (no root), then the kernel suite in the VM.
 *
 * Each suite's output streams through; at the end one line sums what Deno reported for all of
 * them: `N passed, N failed` (and `, N ignored` when tests were ignored). The exit code is non-zero
 * if any suite failed or could not run. `--unit-only` runs the unit suite alone.
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

const unitOnly = Deno.args.includes("--unit-only");
const total: Counts = { passed: 0, failed: 0, ignored: 0 };
let failed = false;

const runs: [string, string[]][] = [
  ["unit tests", ["task", "test:unit"]],
];
if (!unitOnly) runs.push(["kernel tests (VM)", ["task", "test:kernel"]]);

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
