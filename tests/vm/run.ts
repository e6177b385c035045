/**
 * CLI: run one command as root in the test VM, in the current directory, and exit with its
 * exit status.
 *
 * ```sh
 * deno run -A tests/vm/run.ts [--timeout SECONDS] [--memory MIB] [--env NAME=VALUE]... -- cmd args...
 * ```
 *
 * A single argument after `--` that contains spaces is run as a shell command line.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { runInVm } from "./vm.ts";

function usage(): string {
  return "usage: deno run -A tests/vm/run.ts [--timeout S] [--memory MIB] [--env K=V]... -- cmd...";
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: {
      timeout: { type: "string", default: "600" },
      memory: { type: "string", default: "2048" },
      env: { type: "string", multiple: true, default: [] },
      quiet: { type: "boolean", short: "q", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: true,
  });
  if (values.help || positionals.length === 0) {
    console.error(usage());
    Deno.exit(values.help ? 0 : 2);
  }
  const timeout = Number(values.timeout);
  const memory = Number(values.memory);
  if (!(timeout > 0) || !(memory >= 256)) {
    console.error(`Cannot run: bad --timeout or --memory\n${usage()}`);
    Deno.exit(2);
  }
  const env: Record<string, string> = {};
  for (const kv of values.env) {
    const eq = kv.indexOf("=");
    if (eq <= 0) {
      console.error(`Cannot run: --env expects NAME=VALUE, got "${kv}"`);
      Deno.exit(2);
    }
    env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  if (!Deno.stdout.isTerminal()) env.NO_COLOR = "1";
  const command = positionals.length === 1 && /\s/.test(positionals[0])
    ? positionals[0]
    : positionals;
  try {
    const r = await runInVm({
      command,
      env,
      timeoutMs: timeout * 1000,
      memoryMb: memory,
      onOutput: (chunk) => {
        let off = 0;
        while (off < chunk.length) off += Deno.stdout.writeSync(chunk.subarray(off));
      },
    });
    if (!values.quiet) {
      console.error(
        `[vm] exit ${r.code}${r.timedOut ? " (timed out)" : ""}; boot ${r.bootMs} ms, ` +
          `total ${r.totalMs} ms; kernel console: ${r.consoleLog}`,
      );
    }
    Deno.exit(r.code);
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(1);
  }
}
