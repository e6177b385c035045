/**
 * A herd: many LACs, one session each, dial one LNS at once on loopback (null data plane on our
 * side). Figures only, in one run:
 *
 * 1. our LAC -> our LNS: one LAC {@linkcode Daemon} with N dynamic tunnels (each its own socket,
 *    so its own source port), one PPP session each, against one LNS daemon; default N = 1000.
 * 2. xl2tpd LAC -> our LNS: N' `[lac]` sections (autodial) shared by a few xl2tpd processes
 *    (`--xl2tpd-procs`, default 4; each sends all its tunnels from its one port), against our
 *    LNS daemon; default N' = 1000.
 * 3. xl2tpd LAC -> xl2tpd LNS: the same xl2tpd LACs against one xl2tpd LNS.
 *
 * Each prints tunnels up and sessions up, the time from the start to 100% (or that it was not
 * reached within the limit) and sessions per second (sessions up over the time to the last one).
 * Up means up now, on both ends: on the LNS (our data plane's tunnels and sessions made and not
 * deleted since, or xl2tpd's log) and on the xl2tpd LACs (their logs), the fewer of the two; a
 * LAC that redialled counts once, and what was made in all is printed when it is more. xl2tpd
 * runs a stand-in pppd per call where it can (root), else the system's.
 *
 * Why several xl2tpd processes, and why they redial (`--xl2tpd-plain`, `--xl2tpd-procs 1`: as
 * before): xl2tpd picks each tunnel's ID at random (16 bits, xl2tpd.c `new_tunnel`) without
 * checking that no other tunnel of its has it, and tells its tunnels apart by that ID (and the
 * peer's address and port, the same for all of them here). One process with 1,000 tunnels has
 * about 7.6 pairs sharing an ID (1000 * 999 / 2 / 65536); of each pair one never gets its SCCRP
 * (what comes for the ID goes to the other) and, with xl2tpd's defaults, retransmits its SCCRQ
 * at 1, 3, 7, 15 and 31 s and never redials. Real LACs are separate hosts, each with IDs of its
 * own; 4 processes make about 1.9 such pairs, spread xl2tpd's per-datagram cost (one select loop
 * over every tunnel and call) over 4 loops, and `max retries = 3`, `redial = yes`, `redial
 * timeout = 1` give a tunnel up after 7 s (its StopCCN another 7 s) and dial it again under a new
 * random ID.
 *
 * Run alone: `deno run -A tests/bench/herd_bench.ts [--quick] [--lacs N] [--xl2tpd-lacs N]
 * [--limit-s S] [--cases 1,2,3] [--xl2tpd-procs K] [--xl2tpd-plain] [--xl2tpd-max-retries R]
 * [--log-dir DIR]`. `--cases` picks the cases to run (`2,3`: the xl2tpd ones only); `--log-dir`
 * writes xl2tpd's output and our LNS's log (info and up) of cases 2 and 3 there.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Daemon } from "../../lib/daemon.ts";
import { namedTunnel, type SessionEntry, type TunnelEntry } from "../../lib/config.ts";
import { getLog, type Log, setupLogging } from "../../lib/log.ts";
import { NullDataPlane } from "../../dataplane/null.ts";
import type { SessionInfo, SessionSpec, TunnelSpec } from "../../dataplane/dataplane.ts";
import {
  canStubPppd,
  startXl2tpd,
  stopAllXl2tpd,
  type Xl2tpd,
  type Xl2tpdConfig,
  xl2tpdInstalled,
} from "../kernel/_xl2tpd.ts";

const QUIET: Log = {
  category: ["l2tpd", "bench"],
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  fatal: () => {},
  with: () => QUIET,
};

/** Where `--log-dir` writes each case's logs (undefined: no logs kept). */
let logDir: string | undefined;

/**
 * Our LNS's logger: quiet, or with `--log-dir` the daemon's own text format (info and up) into
 * `lines`.
 */
function lnsLog(lines: string[]): Log {
  if (logDir === undefined) return QUIET;
  setupLogging({ level: "info", format: "text", write: (line) => lines.push(line) });
  return getLog("herd-lns");
}

/** Write `text` to `name` in `--log-dir`, if given. */
async function keepLog(name: string, text: string): Promise<void> {
  if (logDir === undefined) return;
  await Deno.mkdir(logDir, { recursive: true });
  await Deno.writeTextFile(`${logDir}/${name}`, text);
}

/**
 * A null data plane that counts the tunnels and sessions up (made and not deleted since: a LAC
 * that redials is counted once), those made in all, and when the last session came.
 */
class CountingDataPlane extends NullDataPlane {
  readonly #tunnels = new Set<number>();
  readonly #sessions = new Set<string>();
  tunnelsMade = 0;
  sessionsMade = 0;
  lastSessionAt = 0;

  get tunnels(): number {
    return this.#tunnels.size;
  }

  get sessions(): number {
    return this.#sessions.size;
  }

  override async createTunnel(spec: TunnelSpec): Promise<void> {
    await super.createTunnel(spec);
    this.#tunnels.add(spec.tunnelId);
    this.tunnelsMade++;
  }

  override async deleteTunnel(tunnelId: number): Promise<void> {
    await super.deleteTunnel(tunnelId);
    this.#tunnels.delete(tunnelId);
    for (const k of this.#sessions) if (k.startsWith(`${tunnelId}/`)) this.#sessions.delete(k);
  }

  override async createSession(spec: SessionSpec): Promise<SessionInfo> {
    const info = await super.createSession(spec);
    this.#sessions.add(`${spec.tunnelId}/${spec.sessionId}`);
    this.sessionsMade++;
    this.lastSessionAt = performance.now();
    return info;
  }

  override async deleteSession(tunnelId: number, sessionId: number): Promise<void> {
    await super.deleteSession(tunnelId, sessionId);
    this.#sessions.delete(`${tunnelId}/${sessionId}`);
  }
}

function session(i: number): SessionEntry {
  return {
    name: `s${i}`,
    pseudowire: "ppp",
    sendSeqnum: false,
    recvSeqnum: false,
    l2specType: "none",
  };
}

function daemon(tunnels: TunnelEntry[], dp: NullDataPlane, logger: Log = QUIET): Daemon {
  return new Daemon({
    config: { file: "herd_bench.toml", tunnels: tunnels.map((t) => namedTunnel(t)) },
    dataPlane: dp,
    pppd: false,
    logger,
  });
}

function lns(port: number, dp: NullDataPlane, logger: Log = QUIET): Daemon {
  return daemon(
    [{
      name: "lns",
      mode: "dynamic",
      role: "lns",
      version: 2,
      encap: "udp",
      managed: true,
      hostName: "herd-lns",
      local: { address: "127.0.0.1", port },
      peer: { address: "127.0.0.1", port: 0 },
      sessions: [session(0)],
    }],
    dp,
    logger,
  );
}

function port(): number {
  return 20000 + Math.floor(Math.random() * 20000);
}

/** What one herd run saw. */
interface HerdResult {
  lacs: number;
  tunnels: number;
  sessions: number;
  /** Start until every session was up, ms; undefined if not within the limit. */
  fullMs: number | undefined;
  /** Start until the last session seen, ms. */
  lastMs: number;
  /** Tunnels and sessions made in all (more than those up when LACs redialled). */
  made?: { tunnels: number; sessions: number };
}

/** What is up at one moment, and when the last session came. */
interface Probe {
  tunnels: number;
  sessions: number;
  lastAt: number;
  /** Made in all, where known. */
  made?: { tunnels: number; sessions: number };
}

async function watch(
  lacs: number,
  t0: number,
  limitMs: number,
  probe: () => Probe,
): Promise<HerdResult> {
  for (;;) {
    const p = probe();
    const now = performance.now();
    if (p.sessions >= lacs && p.tunnels >= lacs) {
      return { lacs, ...p, fullMs: p.lastAt - t0, lastMs: p.lastAt - t0 };
    }
    if (now - t0 > limitMs) return { lacs, ...p, fullMs: undefined, lastMs: p.lastAt - t0 };
    await new Promise((r) => setTimeout(r, 20));
  }
}

function probeDp(dp: CountingDataPlane): Probe {
  return {
    tunnels: dp.tunnels,
    sessions: dp.sessions,
    lastAt: dp.lastSessionAt,
    made: { tunnels: dp.tunnelsMade, sessions: dp.sessionsMade },
  };
}

async function runOurs(lacs: number, limitMs: number): Promise<HerdResult> {
  const p = port();
  const lnsDp = new CountingDataPlane();
  const lacDp = new NullDataPlane();
  const server = lns(p, lnsDp);
  await server.start();
  const tunnels: TunnelEntry[] = Array.from({ length: lacs }, (_, i) => ({
    name: `lac${i}`,
    mode: "dynamic",
    role: "lac",
    version: 2,
    encap: "udp",
    managed: true,
    hostName: `herd-lac${i}`,
    peer: { address: "127.0.0.1", port: p },
    sessions: [session(0)],
  }));
  const client = daemon(tunnels, lacDp);
  try {
    const t0 = performance.now();
    const started = client.start();
    const r = await watch(lacs, t0, limitMs, () => probeDp(lnsDp));
    await started;
    return r;
  } finally {
    await client.stop();
    await server.stop();
    lacDp.close();
    lnsDp.close();
  }
}

/** Whether the xl2tpd LACs give a tunnel up soon and redial (see the module documentation). */
let xl2tpdRedial = true;
/** The xl2tpd LAC's `max retries` when it redials (`--xl2tpd-max-retries`). */
let xl2tpdMaxRetries = 3;

/** The xl2tpd LAC's `[global]` and `[lac]` sections. */
function xlLac(lacs: number, lnsPort: number, first = 0): Xl2tpdConfig {
  return {
    global: {
      listenAddr: "127.0.0.1",
      port: port(),
      ...(xl2tpdRedial ? { maxRetries: xl2tpdMaxRetries } : {}),
    },
    lac: Array.from({ length: lacs }, (_, j) => first + j).map((i) => ({
      name: `l${i}`,
      lns: `127.0.0.1:${lnsPort}`,
      autodial: true,
      hostname: `herd-xl${i}`,
      ...(xl2tpdRedial ? { redial: true, redialTimeout: 1, maxRedials: 10 } : {}),
    })),
  };
}

/** How many xl2tpd processes share the LACs (`--xl2tpd-procs`). */
let xl2tpdProcs = 4;

/** Start the xl2tpd LAC processes, the LACs shared among them, and count what each says. */
async function startLacs(
  lacs: number,
  lnsPort: number,
): Promise<{ procs: Xl2tpd[]; probe: () => Probe }> {
  const stub = await canStubPppd();
  const procs: Xl2tpd[] = [];
  for (let k = 0; k < xl2tpdProcs; k++) {
    const first = Math.floor((lacs * k) / xl2tpdProcs);
    const next = Math.floor((lacs * (k + 1)) / xl2tpdProcs);
    procs.push(
      await startXl2tpd({
        config: xlLac(next - first, lnsPort, first),
        stubPppd: stub,
        readyTimeoutMs: 0,
      }),
    );
  }
  const counts = procs.map(() => new Xl2tpdCount());
  return {
    procs,
    probe: () => {
      const all = counts.map((c, k) => c.probe(procs[k].output()));
      return {
        tunnels: all.reduce((n, a) => n + a.tunnels, 0),
        sessions: all.reduce((n, a) => n + a.sessions, 0),
        lastAt: Math.max(...all.map((a) => a.lastAt)),
      };
    },
  };
}

async function runXl2tpdToOurs(lacs: number, limitMs: number): Promise<HerdResult> {
  const p = port();
  const lnsDp = new CountingDataPlane();
  const logLines: string[] = [];
  const server = lns(p, lnsDp, lnsLog(logLines));
  await server.start();
  let lac: Awaited<ReturnType<typeof startLacs>> | undefined;
  try {
    const t0 = performance.now();
    lac = await startLacs(lacs, p);
    const client = lac;
    return await watch(lacs, t0, limitMs, () => both(probeDp(lnsDp), client.probe()));
  } finally {
    const out = lac?.procs.map((x) => x.output()).join("") ?? "";
    await stopAllXl2tpd();
    await server.stop();
    lnsDp.close();
    await keepLog("xl2tpd_to_ours.lac.log", out);
    await keepLog("xl2tpd_to_ours.lns.log", logLines.join(""));
  }
}

/**
 * The tunnels and calls up on one xl2tpd, from its log (read as it grows): tunnels established
 * and not closed since ("Connection established ... Local: L, Remote: R" less "Connection
 * closed ... Local: L, Remote: R" or "Connection R closed"), calls established and not ended
 * since (their pppd terminated), and when the last call came.
 */
class Xl2tpdCount {
  #read = 0;
  /** `L/R` -> how many tunnels up with those IDs (xl2tpd's IDs may repeat). */
  readonly #tunnels = new Map<string, number>();
  #tunnelsUp = 0;
  #tunnelsMade = 0;
  #callsMade = 0;
  #callsEnded = 0;
  #lastAt = 0;

  probe(log: string): Probe {
    const end = log.lastIndexOf("\n") + 1;
    if (end > this.#read) {
      for (const l of log.slice(this.#read, end).split("\n")) this.#line(l);
      this.#read = end;
    }
    return {
      tunnels: this.#tunnelsUp,
      sessions: this.#callsMade - this.#callsEnded,
      lastAt: this.#lastAt,
      made: { tunnels: this.#tunnelsMade, sessions: this.#callsMade },
    };
  }

  #close(match: (key: string) => boolean): void {
    for (const [k, n] of this.#tunnels) {
      if (n > 0 && match(k)) {
        this.#tunnels.set(k, n - 1);
        this.#tunnelsUp--;
        return;
      }
    }
  }

  #line(l: string): void {
    let m = l.match(/Connection established to .*Local: (\d+), Remote: (\d+)/);
    if (m) {
      const k = `${m[1]}/${m[2]}`;
      this.#tunnels.set(k, (this.#tunnels.get(k) ?? 0) + 1);
      this.#tunnelsUp++;
      this.#tunnelsMade++;
      return;
    }
    m = l.match(/Connection closed to .*Local: (\d+), Remote: (\d+)/);
    if (m) {
      const k = `${m[1]}/${m[2]}`;
      this.#close((key) => key === k);
      return;
    }
    m = l.match(/Connection (\d+) closed to /);
    if (m) {
      const r = `/${m[1]}`;
      this.#close((key) => key.endsWith(r));
      return;
    }
    if (l.includes("Call established with")) {
      this.#callsMade++;
      this.#lastAt = performance.now();
    } else if (l.includes("Terminating pppd")) {
      this.#callsEnded++;
    }
  }
}

/**
 * What both ends agree is up: the fewer tunnels and sessions of the two (a tunnel one end gave
 * up while the other does not know yet counts on neither).
 */
function both(
  a: Probe,
  b: Probe,
): Probe {
  return {
    tunnels: Math.min(a.tunnels, b.tunnels),
    sessions: Math.min(a.sessions, b.sessions),
    lastAt: Math.max(a.lastAt, b.lastAt),
    ...(a.made ? { made: a.made } : {}),
  };
}

async function runXl2tpdToXl2tpd(lacs: number, limitMs: number): Promise<HerdResult> {
  const p = port();
  const stub = await canStubPppd();
  let server: Xl2tpd | undefined;
  let lac: Awaited<ReturnType<typeof startLacs>> | undefined;
  try {
    server = await startXl2tpd({
      config: {
        global: { listenAddr: "127.0.0.1", port: p },
        lns: [{ hostname: "xl2tpd-lns", assignIp: false }],
      },
      stubPppd: stub,
    });
    const t0 = performance.now();
    lac = await startLacs(lacs, p);
    const lns = server;
    const lnsCount = new Xl2tpdCount();
    const client = lac;
    return await watch(
      lacs,
      t0,
      limitMs,
      () => both(lnsCount.probe(lns.output()), client.probe()),
    );
  } finally {
    const outs = [lac?.procs.map((x) => x.output()).join("") ?? "", server?.output() ?? ""];
    await stopAllXl2tpd();
    await keepLog("xl2tpd_to_xl2tpd.lac.log", outs[0]);
    await keepLog("xl2tpd_to_xl2tpd.lns.log", outs[1]);
  }
}

function line(what: string, r: HerdResult, limitMs: number): string {
  const up = r.fullMs !== undefined
    ? `100% in ${(r.fullMs / 1000).toFixed(2)} s`
    : `100% not reached within ${(limitMs / 1000).toFixed(0)} s (last session at ` +
      `${(r.lastMs / 1000).toFixed(2)} s)`;
  const rate = r.lastMs > 0 ? r.sessions / (r.lastMs / 1000) : 0;
  const made = r.made !== undefined &&
      (r.made.tunnels !== r.tunnels || r.made.sessions !== r.sessions)
    ? ` (made in all: ${r.made.tunnels} tunnels, ${r.made.sessions} sessions)`
    : "";
  return `${what}: ${r.lacs} LACs, one session each: tunnels up ${r.tunnels}/${r.lacs}, ` +
    `sessions up ${r.sessions}/${r.lacs}${made}, ${up}, ${rate.toFixed(0)} sessions/s`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      lacs: { type: "string" },
      "xl2tpd-lacs": { type: "string" },
      "limit-s": { type: "string" },
      cases: { type: "string", default: "1,2,3" },
      "xl2tpd-plain": { type: "boolean", default: false },
      "xl2tpd-max-retries": { type: "string" },
      "xl2tpd-procs": { type: "string" },
      "log-dir": { type: "string" },
    },
  });
  const quick = values.quick;
  const n = Number(values.lacs ?? (quick ? 100 : 1000));
  const nx = Number(values["xl2tpd-lacs"] ?? (quick ? 100 : 1000));
  const limitMs = Number(values["limit-s"] ?? 30) * 1000;

  logDir = values["log-dir"];
  xl2tpdRedial = !values["xl2tpd-plain"];
  xl2tpdProcs = Number(values["xl2tpd-procs"] ?? xl2tpdProcs);
  xl2tpdMaxRetries = Number(values["xl2tpd-max-retries"] ?? xl2tpdMaxRetries);

  const cases = new Set(values.cases.split(",").map((c) => c.trim()));
  if (cases.has("1")) {
    await runOurs(20, limitMs); // warm-up (JIT), not reported
    console.log(line("herd, our LAC -> our LNS", await runOurs(n, limitMs), limitMs));
  }
  if (!cases.has("2") && !cases.has("3")) {
    // no xl2tpd case asked for
  } else if (!xl2tpdInstalled()) {
    console.log("herd with xl2tpd: skipped (xl2tpd is not installed)");
  } else {
    if (cases.has("2")) {
      console.log(
        line("herd, xl2tpd LAC -> our LNS", await runXl2tpdToOurs(nx, limitMs), limitMs),
      );
    }
    if (cases.has("3")) {
      console.log(
        line("herd, xl2tpd LAC -> xl2tpd LNS", await runXl2tpdToXl2tpd(nx, limitMs), limitMs),
      );
    }
  }
}
