/**
 * Setup CPU of the LNS daemon as operators run it: `main.ts --null-dataplane` in a process of its
 * own, logging at its default level (info, text) to a pipe this process drains, as journald
 * would. This process is the LAC (a bare control connection) and opens N sessions in one tunnel
 * (default 1 × 1,000), round after round. Figures, per round and as medians:
 *
 * - the LNS's CPU time for the N sessions (the sum over its threads of `/proc/PID/task/N/schedstat`,
 *   in nanoseconds), as sessions per CPU second;
 * - the sessions per wall-clock second as the LAC sees them (first ICRQ to the last ICCN sent);
 * - the log the LNS wrote for them, lines and bytes.
 *
 * With `--baseline REV` (default: `132feaf`, the tree before the issue-10 work) the same rounds
 * run, alternating, against a git worktree of that revision, and the ratio is printed. The
 * baseline line is skipped when the revision is not in this clone's history. `--baseline-dir DIR`
 * compares against a source tree already on disk instead (an experiment's copy, say).
 *
 * Run alone: `deno run -A tests/bench/setup_bench.ts [--quick] [--sessions N] [--rounds R]
 * [--baseline REV | --baseline-dir DIR | --no-baseline] [--window N]`. The LNS runs with each
 * tree's default `window_size` (l2tpd's 16 here, go-l2tp's 4 in `132feaf`); `--window N` sets
 * it in both, to compare the code alone. `SETUP_BENCH_V8_FLAGS` passes V8 flags to the LNS (e.g.
 * `--prof,--logfile=/tmp/v8.log,--no-logfile-per-isolate`, read with `node --prof-process`);
 * `SETUP_BENCH_DEBUG=1` prints each round's figures as JSON on stderr.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Reactor } from "../../dataplane/reactor.ts";
import { dialSessions, lnsToml, median, sleep } from "./_util.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    sessions: { type: "string" },
    rounds: { type: "string" },
    baseline: { type: "string" },
    "baseline-dir": { type: "string" },
    "no-baseline": { type: "boolean", default: false },
    window: { type: "string" },
  },
});

/** `--window N`: both trees' LNS get `window_size = N` (default: each tree's own default). */
const windowSize = values.window === undefined ? undefined : Number(values.window);
if (windowSize !== undefined && !(Number.isInteger(windowSize) && windowSize > 0)) {
  throw new Error(`Cannot run: --window ${values.window} is not a positive integer`);
}

const HERE = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** One round's figures. */
interface Round {
  cpuNs: number;
  wallMs: number;
  logLines: number;
  logBytes: number;
}

/** Per source tree: whether its CLI takes `--socket` (asked once, from its `--help`). */
const socketOption = new Map<string, Promise<boolean>>();

/** Trees from before the control socket have no `--socket` (and open none). */
function hasSocketOption(root: string, run: string[]): Promise<boolean> {
  let known = socketOption.get(root);
  if (known === undefined) {
    known = new Deno.Command(Deno.execPath(), {
      args: [...run, "--help"],
      stdout: "piped",
      stderr: "null",
    }).output().then((help) => new TextDecoder().decode(help.stdout).includes("--socket"));
    socketOption.set(root, known);
  }
  return known;
}

/** An LNS daemon process from one source tree, with its log drained and counted. */
class LnsProcess {
  readonly #child: Deno.ChildProcess;
  readonly #config: string;
  logLines = 0;
  logBytes = 0;
  #drained: Promise<void>;

  private constructor(child: Deno.ChildProcess, config: string) {
    this.#child = child;
    this.#config = config;
    this.#drained = this.#drain();
  }

  static async start(root: string, port: number): Promise<LnsProcess> {
    const config = await Deno.makeTempFile({ prefix: "setup_bench.", suffix: ".toml" });
    const toml = lnsToml(port);
    await Deno.writeTextFile(
      config,
      windowSize === undefined
        ? toml
        : `${toml.replace("\n[", `\nwindow_size = ${windowSize}\n\n[`)}`,
    );
    // SETUP_BENCH_V8_FLAGS (e.g. "--prof") profiles the LNS.
    const v8 = Deno.env.get("SETUP_BENCH_V8_FLAGS");
    const run = [
      "run",
      "--allow-all",
      ...(v8 ? [`--v8-flags=${v8}`] : []),
      "--config",
      `${root}/deno.json`,
      `${root}/main.ts`,
    ];
    const socket = await hasSocketOption(root, run) ? ["--socket", `${config}.sock`] : [];
    const child = new Deno.Command(Deno.execPath(), {
      args: [...run, "--config", config, "--null-dataplane", ...socket],
      cwd: root,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    return new LnsProcess(child, config);
  }

  get pid(): number {
    return this.#child.pid;
  }

  async #drain(): Promise<void> {
    for await (const chunk of this.#child.stderr) {
      this.logBytes += chunk.length;
      for (const b of chunk) if (b === 10) this.logLines++;
    }
  }

  /** CPU time of every thread of the process so far, ns. */
  cpuNs(): number {
    let sum = 0;
    for (const t of Deno.readDirSync(`/proc/${this.pid}/task`)) {
      try {
        sum += Number(
          Deno.readTextFileSync(`/proc/${this.pid}/task/${t.name}/schedstat`)
            .split(" ")[0],
        );
      } catch {
        // The thread ended.
      }
    }
    return sum;
  }

  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await this.#child.status;
    await this.#drained;
    await Deno.remove(this.#config).catch(() => {});
    await Deno.remove(`${this.#config}.sock`).catch(() => {});
  }
}

/** Wait until the LNS answers on its port: dial tunnels until one comes up. */
async function waitReady(
  reactor: Reactor,
  lns: { address: string; port: number },
): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      const lac = await Promise.race([
        dialSessions(reactor, 2, lns, 1),
        sleep(1_000).then(() => undefined),
      ]);
      if (lac) {
        await lac.close();
        await lac.done;
        return;
      }
    } catch {
      // Not listening yet.
    }
  }
  throw new Error("Cannot measure: the LNS did not start within 30 s");
}

/** Rounds against one LNS process: one warm-up round, then `rounds` measured ones. */
async function measure(root: string, n: number, rounds: number): Promise<Round[]> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const lnsProc = await LnsProcess.start(root, port);
  const lns = { address: "127.0.0.1", port };
  await using reactor = new Reactor();
  const out: Round[] = [];
  try {
    await waitReady(reactor, lns);
    for (let r = -1; r < rounds; r++) {
      await sleep(300);
      const cpu0 = lnsProc.cpuNs();
      const lines0 = lnsProc.logLines, bytes0 = lnsProc.logBytes;
      const t0 = performance.now();
      const lac = await dialSessions(reactor, 2, lns, n, n);
      const wallMs = performance.now() - t0;
      await sleep(200);
      const round = {
        cpuNs: lnsProc.cpuNs() - cpu0,
        wallMs,
        logLines: lnsProc.logLines - lines0,
        logBytes: lnsProc.logBytes - bytes0,
      };
      await lac.close();
      await lac.done;
      if (r >= 0) out.push(round);
      if (Deno.env.get("SETUP_BENCH_DEBUG")) console.error(root, r, JSON.stringify(round));
    }
  } finally {
    await lnsProc.stop();
  }
  return out;
}

/** A detached worktree of `rev` in a temporary directory, or undefined if `rev` is unknown. */
async function worktree(rev: string): Promise<string | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "setup_bench." });
  const r = await new Deno.Command("git", {
    args: ["-C", HERE, "worktree", "add", "--detach", dir, rev],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (r.success) return dir;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  return undefined;
}

async function removeWorktree(dir: string): Promise<void> {
  await new Deno.Command("git", {
    args: ["-C", HERE, "worktree", "remove", "--force", dir],
    stdout: "null",
    stderr: "null",
  }).output();
}

function summary(what: string, n: number, rounds: Round[]): { perCpuS: number; perS: number } {
  const perCpuS = median(rounds.map((r) => n / (r.cpuNs / 1e9)));
  const perS = median(rounds.map((r) => n / (r.wallMs / 1000)));
  const lines = median(rounds.map((r) => r.logLines));
  const bytes = median(rounds.map((r) => r.logBytes));
  console.log(
    `${what}: 1 tunnel x ${n} sessions, ${rounds.length} rounds: LNS ${perCpuS.toFixed(0)} ` +
      `sessions per CPU second (${
        (median(rounds.map((r) => r.cpuNs)) / 1e6).toFixed(0)
      } ms CPU), ` +
      `${perS.toFixed(0)} sessions/s wall; log ${lines} lines, ${(bytes / 1024).toFixed(0)} KiB`,
  );
  return { perCpuS, perS };
}

if (import.meta.main) {
  const n = Number(values.sessions ?? 1_000);
  const rounds = Number(values.rounds ?? (values.quick ? 3 : 7));
  const dir = values["baseline-dir"];
  const rev = dir ?? values.baseline ?? "132feaf";
  const base = values["no-baseline"] ? undefined : dir ?? await worktree(rev);
  try {
    const ours: Round[] = [];
    const theirs: Round[] = [];
    // Alternate whole processes, so both trees see the same machine over the same minutes.
    const passes = base ? 3 : 1;
    const perPass = Math.max(1, Math.ceil(rounds / passes));
    for (let p = 0; p < passes; p++) {
      ours.push(...await measure(HERE, n, perPass));
      if (base) theirs.push(...await measure(base, n, perPass));
    }
    const a = summary("setup, this tree", n, ours);
    if (base) {
      const b = summary(`setup, baseline ${rev}`, n, theirs);
      console.log(
        `setup: this tree / baseline ${rev}: ${(a.perCpuS / b.perCpuS).toFixed(2)}x sessions ` +
          `per LNS CPU second, ${(a.perS / b.perS).toFixed(2)}x sessions/s wall`,
      );
    } else if (!values["no-baseline"]) {
      console.log(`setup, baseline ${rev}: skipped (not in this clone's history)`);
    }
  } finally {
    if (base && dir === undefined) await removeWorktree(base);
  }
}
