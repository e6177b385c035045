/**
 * LAC <-> LNS session establishment on loopback, daemon level, null data plane (no kernel, no
 * pppd on our side): ours against ours, and ours against xl2tpd, in one run. Figures only.
 *
 * 1. Ours: two {@linkcode Daemon}s in this process, an LNS (`role = "lns"`) and a LAC whose one
 *    tunnel has N PPP sessions (default 1000); each has its own {@linkcode NullDataPlane}. The
 *    clock starts before the LAC starts; "tunnel up" is the LAC's kernel tunnel being created
 *    (its SCCCN acknowledged); "sessions up" is the moment both data planes have created all N
 *    sessions (the LAC's on ICRP, the LNS's on ICCN). Then the LAC stops (StopCCN) and the time
 *    until the LNS has removed everything is the teardown.
 * 2. Ours against xl2tpd: the same LAC daemon against an xl2tpd LNS (1.3.x, tests/kernel/
 *    _xl2tpd.ts) with N' sessions (default 1000). What is measured is what our LAC sees: from
 *    its start until its data plane has created all N' sessions, i.e. each session's ICRP from
 *    xl2tpd arrived and our ICCN went out, before any CDN ("CDN-free establishment": sessions
 *    removed again before the last one came up are counted and printed). Then the time until
 *    xl2tpd has logged "Call established" for all N' (it processed every ICCN and started a pppd
 *    for each). xl2tpd starts a pppd per call: where a mount namespace can be made (root), it gets
 *    a stand-in that just holds the call's pty (so no CDNs); elsewhere the system's pppd, which
 *    on a host without /dev/ppp exits at once and makes xl2tpd send a CDN per call (which our
 *    figure excludes). The line says which. Skipped when xl2tpd is not installed.
 * 3. Memory: a child process (`--v8-flags=--expose-gc`) runs case 1 with 10,000 sessions
 *    (1,000 with `--quick`) and prints the RSS and V8 heap growth per session with both daemons
 *    in the process (so per session *pair*: one LAC session and one LNS session), measured
 *    after a GC with every session up, against the same before the LAC started.
 *
 * Run alone: `deno run -A tests/bench/lac_lns_bench.ts [--quick] [--sessions N]
 * [--xl2tpd-sessions N] [--rss-sessions N]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Daemon } from "../../lib/daemon.ts";
import { namedTunnel, type SessionEntry, type TunnelEntry } from "../../lib/config.ts";
import type { Log } from "../../lib/log.ts";
import { NullDataPlane } from "../../dataplane/null.ts";
import type { SessionInfo, SessionSpec } from "../../dataplane/dataplane.ts";
import { canStubPppd, startXl2tpd, stopAllXl2tpd, xl2tpdInstalled } from "../kernel/_xl2tpd.ts";

/** A Log that drops everything (the daemons log every session at info level). */
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

/** A null data plane that counts sessions created and deleted. */
class CountingDataPlane extends NullDataPlane {
  created = 0;
  deleted = 0;
  tunnelAt = 0;
  /** Sessions created with a peer session ID another session of the tunnel already had. */
  duplicatePeerIds = 0;
  #peerIds = new Set<number>();
  /** When the count of created sessions reached each of these (ms, performance.now()). */
  #waiters: { n: number; resolve: () => void }[] = [];

  override async createTunnel(spec: Parameters<NullDataPlane["createTunnel"]>[0]): Promise<void> {
    await super.createTunnel(spec);
    this.tunnelAt ||= performance.now();
  }

  override async createSession(spec: SessionSpec): Promise<SessionInfo> {
    const info = await super.createSession(spec);
    this.created++;
    if (this.#peerIds.has(spec.peerSessionId)) this.duplicatePeerIds++;
    this.#peerIds.add(spec.peerSessionId);
    this.#waiters = this.#waiters.filter((w) => {
      if (this.created < w.n) return true;
      w.resolve();
      return false;
    });
    return info;
  }

  override async deleteSession(tunnelId: number, sessionId: number): Promise<void> {
    await super.deleteSession(tunnelId, sessionId);
    this.deleted++;
  }

  /** Resolves once `n` sessions have been created. */
  sessionsCreated(n: number): Promise<void> {
    if (this.created >= n) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ n, resolve }));
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

function lacTunnel(peer: { address: string; port: number }, sessions: number): TunnelEntry {
  return {
    name: "lac",
    mode: "dynamic",
    role: "lac",
    version: 2,
    encap: "udp",
    managed: true,
    hostName: "bench-lac",
    peer,
    sessions: Array.from({ length: sessions }, (_, i) => session(i)),
  };
}

function daemon(tunnel: TunnelEntry, dp: NullDataPlane): Daemon {
  return new Daemon({
    config: { file: "lac_lns_bench.toml", tunnels: [namedTunnel(tunnel)] },
    dataPlane: dp,
    pppd: false,
    logger: QUIET,
  });
}

async function until(probe: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await probe())) {
    if (performance.now() > deadline) throw new Error(`Cannot benchmark: timed out`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function port(): number {
  return 20000 + Math.floor(Math.random() * 20000);
}

/** What {@linkcode runOurs} measured. */
export interface OursResult {
  /** Sessions established. */
  sessions: number;
  /** LAC start until its kernel tunnel was created, ms. */
  tunnelMs: number;
  /** LAC start until both data planes had every session, ms. */
  upMs: number;
  /** Sessions per second over `upMs - tunnelMs`. */
  perSecond: number;
  /** LAC stop (StopCCN) until the LNS removed everything, ms. */
  teardownMs: number;
  /** RSS growth per session pair, bytes (with `--expose-gc`, else rough). */
  rssPerSession: number;
  /** V8 heap growth per session pair, bytes. */
  heapPerSession: number;
  /** RSS with every session up, MiB. */
  rssMiB: number;
}

/**
 * Our LAC and our LNS daemons in this process, `sessions` sessions in one tunnel.
 *
 * @param sessions How many sessions the LAC opens.
 * @returns The figures.
 *
 * @example Usage
 * ```ts ignore
 * import { runOurs } from "./lac_lns_bench.ts";
 * console.log(await runOurs(1000));
 * ```
 */
export async function runOurs(sessions: number): Promise<OursResult> {
  const p = port();
  const lnsDp = new CountingDataPlane();
  const lacDp = new CountingDataPlane();
  const lns = daemon({
    name: "lns",
    mode: "dynamic",
    role: "lns",
    version: 2,
    encap: "udp",
    managed: true,
    hostName: "bench-lns",
    local: { address: "127.0.0.1", port: p },
    peer: { address: "127.0.0.1", port: 0 },
    sessions: [session(0)],
  }, lnsDp);
  await lns.start();
  const lac = daemon(lacTunnel({ address: "127.0.0.1", port: p }, sessions), lacDp);
  try {
    gc();
    const before = Deno.memoryUsage();
    const t0 = performance.now();
    await lac.start();
    await Promise.all([lacDp.sessionsCreated(sessions), lnsDp.sessionsCreated(sessions)]);
    const t1 = performance.now();
    gc();
    const after = Deno.memoryUsage();
    const t2 = performance.now();
    const stopping = lac.stop(); // StopCCN now; the daemon then waits for its acknowledgement
    await until(async () => (await lnsDp.listTunnels()).length === 0, 60_000);
    const t3 = performance.now();
    await stopping;
    const tunnelMs = lacDp.tunnelAt - t0;
    return {
      sessions,
      tunnelMs,
      upMs: t1 - t0,
      perSecond: sessions / ((t1 - t0 - tunnelMs) / 1000),
      teardownMs: t3 - t2,
      rssPerSession: (after.rss - before.rss) / sessions,
      heapPerSession: (after.heapUsed - before.heapUsed) / sessions,
      rssMiB: after.rss / 2 ** 20,
    };
  } finally {
    await lac.stop();
    await lns.stop();
    lacDp.close();
    lnsDp.close();
  }
}

/** What {@linkcode runAgainstXl2tpd} measured. */
export interface Xl2tpdResult {
  /** Sessions our LAC opened. */
  sessions: number;
  /** Which pppd xl2tpd ran: the stand-in that holds the pty, or the system's. */
  pppd: "stand-in" | "system";
  /** LAC start until its kernel tunnel was created, ms. */
  tunnelMs: number;
  /** LAC start until our data plane had created every session, ms. */
  upMs: number;
  /** Sessions per second over `upMs - tunnelMs`. */
  perSecond: number;
  /** Sessions our data plane removed again (CDNs) before the last one came up. */
  cdnBeforeUp: number;
  /** Sessions to which xl2tpd gave a call ID it had already given another live call. */
  duplicateIds: number;
  /** LAC start until xl2tpd had logged "Call established" for every session, ms. */
  xl2tpdMs: number;
  /** LAC stop (StopCCN) until xl2tpd logged the tunnel closed, ms. */
  teardownMs: number;
}

/**
 * Our LAC daemon against an xl2tpd LNS on loopback, `sessions` sessions in one tunnel.
 *
 * @param sessions How many sessions our LAC opens.
 * @returns The figures.
 *
 * @example Usage
 * ```ts ignore
 * import { runAgainstXl2tpd } from "./lac_lns_bench.ts";
 * console.log(await runAgainstXl2tpd(1000));
 * ```
 */
export async function runAgainstXl2tpd(sessions: number): Promise<Xl2tpdResult> {
  const p = port();
  const stub = await canStubPppd();
  const lacDp = new CountingDataPlane();
  try {
    const xl = await startXl2tpd({
      config: {
        global: { listenAddr: "127.0.0.1", port: p },
        lns: [{ hostname: "xl2tpd", assignIp: false }],
      },
      stubPppd: stub,
    });
    const lac = daemon(lacTunnel({ address: "127.0.0.1", port: p }, sessions), lacDp);
    try {
      const t0 = performance.now();
      await lac.start();
      await lacDp.sessionsCreated(sessions);
      const t1 = performance.now();
      const cdnBeforeUp = lacDp.deleted;
      const calls = (): number => xl.output().match(/Call established with/g)?.length ?? 0;
      // xl2tpd picks its call IDs at random without checking them against the calls it has, so
      // among many calls a few get an ID already in use (our LAC sees the same peer session ID
      // twice); each such pair ends up as one call established on its side.
      const dup = lacDp.duplicatePeerIds;
      await until(() => calls() >= sessions - dup || xl.exited(), 120_000);
      const t2 = performance.now();
      const mark = xl.output().length;
      const stopping = lac.stop();
      await xl.waitFor(/Connection closed to/, 60_000, mark);
      const t3 = performance.now();
      await stopping;
      const tunnelMs = lacDp.tunnelAt - t0;
      return {
        sessions,
        pppd: stub ? "stand-in" : "system",
        tunnelMs,
        upMs: t1 - t0,
        perSecond: sessions / ((t1 - t0 - tunnelMs) / 1000),
        cdnBeforeUp,
        duplicateIds: dup,
        xl2tpdMs: t2 - t0,
        teardownMs: t3 - t2,
      };
    } finally {
      await lac.stop();
    }
  } finally {
    await stopAllXl2tpd();
    lacDp.close();
  }
}

function kib(bytes: number): string {
  return `${(bytes / 1024).toFixed(1)} KiB`;
}

function ms(v: number): string {
  return `${v.toFixed(0)} ms`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      sessions: { type: "string" },
      "xl2tpd-sessions": { type: "string" },
      "rss-sessions": { type: "string" },
      "rss-only": { type: "string" },
    },
  });
  if (values["rss-only"] !== undefined) {
    const r = await runOurs(Number(values["rss-only"]));
    console.log(
      `memory, ours <-> ours, ${r.sessions} sessions up: RSS +${kib(r.rssPerSession)}/session ` +
        `pair, V8 heap +${kib(r.heapPerSession)}/session pair, RSS ${r.rssMiB.toFixed(0)} MiB ` +
        `(both daemons in one process; sessions up in ${ms(r.upMs)} = ` +
        `${r.perSecond.toFixed(0)}/s)`,
    );
    Deno.exit(0);
  }
  const quick = values.quick;
  const n = Number(values.sessions ?? (quick ? 200 : 1000));
  const nx = Number(values["xl2tpd-sessions"] ?? (quick ? 100 : 1000));
  const nrss = Number(values["rss-sessions"] ?? (quick ? 1000 : 10_000));

  await runOurs(50); // warm-up (JIT), not reported
  const ours = await runOurs(n);
  console.log(
    `ours <-> ours: ${ours.sessions} sessions in one L2TPv2 tunnel, null data plane: tunnel up ` +
      `in ${ms(ours.tunnelMs)}, all sessions up on both ends ${ms(ours.upMs)} after start = ` +
      `${ours.perSecond.toFixed(0)} sessions/s; teardown (StopCCN until the LNS is empty) ` +
      `${ms(ours.teardownMs)}`,
  );

  if (!xl2tpdInstalled()) {
    console.log("ours -> xl2tpd: skipped (xl2tpd is not installed)");
  } else {
    const x = await runAgainstXl2tpd(nx);
    console.log(
      `ours (LAC) -> xl2tpd (LNS): ${x.sessions} sessions in one tunnel, xl2tpd running the ` +
        `${x.pppd} pppd: tunnel up in ${ms(x.tunnelMs)}, all sessions up as our LAC sees them ` +
        `(ICRP in, ICCN out) ${ms(x.upMs)} after start = ${x.perSecond.toFixed(0)} sessions/s ` +
        `(${x.cdnBeforeUp} CDNs before the last was up); xl2tpd logged its calls established ` +
        `${ms(x.xl2tpdMs)} after start; teardown (StopCCN until xl2tpd closed the tunnel) ` +
        `${ms(x.teardownMs)}` +
        (x.duplicateIds > 0
          ? `; xl2tpd gave ${x.duplicateIds} call(s) an ID another live call had (its call IDs ` +
            `are random and unchecked): those calls are not usable on its side`
          : ""),
    );
  }

  const args = [
    "run",
    "--allow-all",
    "--v8-flags=--expose-gc",
    import.meta.filename ?? "",
    "--rss-only",
    String(nrss),
  ];
  const { code } = await new Deno.Command(Deno.execPath(), { args }).spawn().status;
  if (code !== 0) Deno.exit(code);
}
