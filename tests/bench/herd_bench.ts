/**
 * A herd: many LACs, one session each, dial one LNS at once on loopback (null data plane on our
 * side). Figures only, in one run:
 *
 * 1. our LAC -> our LNS: one LAC {@linkcode Daemon} with N dynamic tunnels (each its own socket,
 *    so its own source port), one PPP session each, against one LNS daemon; default N = 1000.
 * 2. xl2tpd LAC -> our LNS: one xl2tpd with N' `[lac]` sections (autodial, all from its one
 *    port), against our LNS daemon; default N' = 1000.
 * 3. xl2tpd LAC -> xl2tpd LNS: the same xl2tpd LAC against an xl2tpd LNS.
 *
 * Each prints tunnels up, sessions up (on the LNS), the time from the start to 100% (or that it
 * was not reached within the limit) and sessions per second (sessions up over the time to the
 * last one). xl2tpd runs a stand-in pppd per call where it can (root), else the system's.
 *
 * Run alone: `deno run -A tests/bench/herd_bench.ts [--quick] [--lacs N] [--xl2tpd-lacs N]
 * [--limit-s S]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Daemon } from "../../lib/daemon.ts";
import { namedTunnel, type SessionEntry, type TunnelEntry } from "../../lib/config.ts";
import type { Log } from "../../lib/log.ts";
import { NullDataPlane } from "../../dataplane/null.ts";
import type { SessionInfo, SessionSpec, TunnelSpec } from "../../dataplane/dataplane.ts";
import {
  canStubPppd,
  startXl2tpd,
  stopAllXl2tpd,
  xl2tpdInstalled,
  type Xl2tpdLac,
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

/** A null data plane that counts tunnels and sessions created and when the last came. */
class CountingDataPlane extends NullDataPlane {
  tunnels = 0;
  sessions = 0;
  lastSessionAt = 0;

  override async createTunnel(spec: TunnelSpec): Promise<void> {
    await super.createTunnel(spec);
    this.tunnels++;
  }

  override async createSession(spec: SessionSpec): Promise<SessionInfo> {
    const info = await super.createSession(spec);
    this.sessions++;
    this.lastSessionAt = performance.now();
    return info;
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

function daemon(tunnels: TunnelEntry[], dp: NullDataPlane): Daemon {
  return new Daemon({
    config: { file: "herd_bench.toml", tunnels: tunnels.map((t) => namedTunnel(t)) },
    dataPlane: dp,
    pppd: false,
    logger: QUIET,
  });
}

function lns(port: number, dp: NullDataPlane): Daemon {
  return daemon([{
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
  }], dp);
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
}

async function watch(
  lacs: number,
  t0: number,
  limitMs: number,
  probe: () => { tunnels: number; sessions: number; lastAt: number },
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
    const r = await watch(lacs, t0, limitMs, () => ({
      tunnels: lnsDp.tunnels,
      sessions: lnsDp.sessions,
      lastAt: lnsDp.lastSessionAt,
    }));
    await started;
    return r;
  } finally {
    await client.stop();
    await server.stop();
    lacDp.close();
    lnsDp.close();
  }
}

function xlLacs(lacs: number, lnsPort: number): Xl2tpdLac[] {
  return Array.from({ length: lacs }, (_, i) => ({
    name: `l${i}`,
    lns: `127.0.0.1:${lnsPort}`,
    autodial: true,
    hostname: `herd-xl${i}`,
  }));
}

async function runXl2tpdToOurs(lacs: number, limitMs: number): Promise<HerdResult> {
  const p = port();
  const lnsDp = new CountingDataPlane();
  const server = lns(p, lnsDp);
  await server.start();
  try {
    const t0 = performance.now();
    await startXl2tpd({
      config: { global: { listenAddr: "127.0.0.1", port: port() }, lac: xlLacs(lacs, p) },
      stubPppd: await canStubPppd(),
      readyTimeoutMs: 0,
    });
    return await watch(lacs, t0, limitMs, () => ({
      tunnels: lnsDp.tunnels,
      sessions: lnsDp.sessions,
      lastAt: lnsDp.lastSessionAt,
    }));
  } finally {
    await stopAllXl2tpd();
    await server.stop();
    lnsDp.close();
  }
}

async function runXl2tpdToXl2tpd(lacs: number, limitMs: number): Promise<HerdResult> {
  const p = port();
  const stub = await canStubPppd();
  try {
    const server = await startXl2tpd({
      config: {
        global: { listenAddr: "127.0.0.1", port: p },
        lns: [{ hostname: "xl2tpd-lns", assignIp: false }],
      },
      stubPppd: stub,
    });
    const t0 = performance.now();
    await startXl2tpd({
      config: { global: { listenAddr: "127.0.0.1", port: port() }, lac: xlLacs(lacs, p) },
      stubPppd: stub,
      readyTimeoutMs: 0,
    });
    let seen = 0;
    let lastAt = t0;
    return await watch(lacs, t0, limitMs, () => {
      const out = server.output();
      const calls = out.match(/Call established with/g)?.length ?? 0;
      const tunnels = out.match(/Connection established to/g)?.length ?? 0;
      if (calls > seen) {
        seen = calls;
        lastAt = performance.now();
      }
      return { tunnels, sessions: calls, lastAt };
    });
  } finally {
    await stopAllXl2tpd();
  }
}

function line(what: string, r: HerdResult, limitMs: number): string {
  const up = r.fullMs !== undefined
    ? `100% in ${(r.fullMs / 1000).toFixed(2)} s`
    : `100% not reached within ${(limitMs / 1000).toFixed(0)} s (last session at ` +
      `${(r.lastMs / 1000).toFixed(2)} s)`;
  const rate = r.lastMs > 0 ? r.sessions / (r.lastMs / 1000) : 0;
  return `${what}: ${r.lacs} LACs, one session each: tunnels up ${r.tunnels}/${r.lacs}, ` +
    `sessions up ${r.sessions}/${r.lacs}, ${up}, ${rate.toFixed(0)} sessions/s`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean", default: false },
      lacs: { type: "string" },
      "xl2tpd-lacs": { type: "string" },
      "limit-s": { type: "string" },
    },
  });
  const quick = values.quick;
  const n = Number(values.lacs ?? (quick ? 100 : 1000));
  const nx = Number(values["xl2tpd-lacs"] ?? (quick ? 100 : 1000));
  const limitMs = Number(values["limit-s"] ?? 30) * 1000;

  await runOurs(20, limitMs); // warm-up (JIT), not reported
  console.log(line("herd, our LAC -> our LNS", await runOurs(n, limitMs), limitMs));
  if (!xl2tpdInstalled()) {
    console.log("herd with xl2tpd: skipped (xl2tpd is not installed)");
  } else {
    console.log(
      line("herd, xl2tpd LAC -> our LNS", await runXl2tpdToOurs(nx, limitMs), limitMs),
    );
    console.log(
      line("herd, xl2tpd LAC -> xl2tpd LNS", await runXl2tpdToXl2tpd(nx, limitMs), limitMs),
    );
  }
}
