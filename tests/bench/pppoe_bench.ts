/**
 * PPPoE sessions established per second on kpppoed's access concentrator
 * ({@linkcode AccessConcentrator}, lib/kpppoed/service.ts), null data plane on both ends: what
 * is measured is the control plane only — PPPoE discovery (PADI/PADO/PADR/PADS, one AC-Cookie
 * HMAC per PADI and per PADR) through a fake discovery port, and the L2TPv2 call setup
 * (ICRQ/ICRP/ICCN) over loopback UDP — no kernel session, no PPPoE socket, no bridge, no pppd.
 * Figures only; nothing is asserted on time.
 *
 * - The LNS is ours (a responder `Context`, `role = "lns"`, one declared PPP session "any" that
 *   every call binds to) in a child process of its own, so the CPU it spends is not this
 *   process's; it reports its session count and CPU time on request.
 * - PPPoE: N simulated subscribers (default 1,000, distinct MACs) all start at once: each sends
 *   a PADI, answers the PADO with a PADR carrying its cookie and waits for its PADS. The clock
 *   runs from the first PADI until the AC's context has reported `session-up` for all N calls
 *   (the AC marks a PPPoE session `up` on that event; checked once in `ac.status()` afterwards).
 *   Then every subscriber sends a PADT at once (each is a CDN; the last session's end closes the
 *   tunnel, StopCCN); the teardown is timed until every call is down on the AC's side
 *   (`session-down` events) and until its context has no tunnel left. The latter includes the
 *   context's wait at tunnel close (`Context` `stopGraceMs`, 1000 ms by default: the StopCCN
 *   hold is 31 s, so the whole grace is waited), a constant that hides the per-session cost;
 *   both are printed. The LNS is polled (every 50 ms, in parallel) until it has no call left.
 * - Reference, same run, same LNS, same tunnel settings (kpppoed's defaults): a plain L2TPv2 LAC
 *   (a `Context` dynamic LAC tunnel) with N PPP sessions, no PPPoE: timed from dialling until
 *   all N are up; teardown: every session closed at once (N CDNs), then the tunnel (StopCCN),
 *   timed the same ways. The ratio PPPoE / plain is the PPPoE overhead on the control plane.
 *
 * Each is run `--rounds` times (default 5, alternating which goes first) after a warm-up round
 * of 100 sessions each (JIT; not reported); the rounds' figures are printed and the medians
 * compared. CPU time is this process's (the AC or plain LAC, plus the simulated subscribers and
 * fake port for PPPoE) and the LNS child's, over the setup window.
 *
 * Run alone: `deno run -A tests/bench/pppoe_bench.ts [--sessions N] [--rounds R] [--quick]`.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import {
  decodePppoe,
  encodePppoe,
  findTag,
  PppoeCode,
  type PppoePacket,
  PppoeTagType,
  tag,
} from "../../control/pppoe/codec.ts";
import { NullDataPlane } from "../../dataplane/null.ts";
import type { SessionConfig, TunnelConfig } from "../../lib/config.ts";
import { Context } from "../../lib/context.ts";
import type { L2tpEvent } from "../../lib/events.ts";
import { parseKpppoedConfig } from "../../lib/kpppoed/config.ts";
import type { KpppoedConfig } from "../../lib/kpppoed/keys.ts";
import { AccessConcentrator } from "../../lib/kpppoed/service.ts";
import type { Log } from "../../lib/log.ts";
import type { Session } from "../../lib/tunnel.ts";
import { QueuePort } from "../unit/_pppoe_subscriber.ts";
import { lines, median, sleep } from "./_util.ts";

/** A Log that drops everything (the AC and the contexts log every session at info level). */
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

const PPP: SessionConfig = {
  pseudowire: "ppp",
  sendSeqnum: false,
  recvSeqnum: false,
  l2specType: "none",
};

const SERVICE = "internet";
/** How long one phase may take before the run is reported as stuck. */
const PHASE_TIMEOUT_MS = 60_000;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sessions: { type: "string" },
    rounds: { type: "string" },
    quick: { type: "boolean", default: false },
    "lns-port": { type: "string" },
  },
});

// --- The LNS child -------------------------------------------------------------------------------

/** What the LNS child reports on `stat`. */
interface LnsStat {
  /** Control connections (peers) it has. */
  peers: number;
  /** Calls bound to its declared session, over every peer. */
  sessions: number;
  /** Its CPU time so far (user + system), ms. */
  cpuMs: number;
}

/** The child: our LNS on 127.0.0.1:port; answers `stat` and `quit` on stdin. */
async function runLns(port: number): Promise<void> {
  const ctx = new Context({ dataplane: new NullDataPlane(), logger: QUIET });
  const tunnel = await ctx.newDynamicTunnel("lns", {
    mode: "dynamic",
    version: 2,
    encap: "udp",
    managed: true,
    role: "lns",
    hostName: "bench-lns",
    local: { address: "127.0.0.1", port },
    peer: { address: "127.0.0.1", port: 0 },
  });
  await tunnel.newSession("any", PPP);
  const out = (line: string) => Deno.stdout.write(new TextEncoder().encode(`${line}\n`));
  await out("ready");
  for await (const line of lines(Deno.stdin.readable)) {
    if (line === "stat") {
      const peers = ctx.status().tunnels.flatMap((t) => t.peers ?? []);
      const cpu = process.cpuUsage();
      const stat: LnsStat = {
        peers: peers.length,
        sessions: peers.reduce((sum, p) => sum + p.sessions.length, 0),
        cpuMs: (cpu.user + cpu.system) / 1000,
      };
      await out(JSON.stringify(stat));
    } else if (line === "quit") {
      break;
    }
  }
  await ctx.close();
}

/** The parent's handle on the LNS child. */
interface LnsChild {
  port: number;
  stat(): Promise<LnsStat>;
  /** Polls (every 50 ms) until `ok` holds for its stat; returns that stat. */
  waitFor(what: string, ok: (s: LnsStat) => boolean): Promise<LnsStat>;
  stop(): Promise<void>;
}

async function startLns(): Promise<LnsChild> {
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", import.meta.filename ?? "", "--lns-port", String(port)],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const replies = lines(child.stdout)[Symbol.asyncIterator]();
  const next = async (): Promise<string> => {
    const r = await replies.next();
    if (r.done) throw new Error("Cannot benchmark: the LNS process ended");
    return r.value;
  };
  const kill = async (): Promise<void> => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
  };
  if (await next() !== "ready") {
    await kill();
    throw new Error("Cannot benchmark: the LNS did not start");
  }
  const stat = async (): Promise<LnsStat> => {
    await writer.write(new TextEncoder().encode("stat\n"));
    return JSON.parse(await next()) as LnsStat;
  };
  return {
    port,
    stat,
    async waitFor(what, ok): Promise<LnsStat> {
      const deadline = performance.now() + PHASE_TIMEOUT_MS;
      for (;;) {
        const s = await stat();
        if (ok(s)) return s;
        if (performance.now() > deadline) {
          throw new Error(`Cannot benchmark: timed out waiting for the LNS: ${what} (${str(s)})`);
        }
        await sleep(50);
      }
    },
    async stop(): Promise<void> {
      try {
        await writer.write(new TextEncoder().encode("quit\n"));
        await writer.close();
        const timer = setTimeout(() => void kill(), 5_000);
        await child.status;
        clearTimeout(timer);
      } catch {
        await kill();
      }
    },
  };
}

// --- Subscribers through a fake discovery port ---------------------------------------------------

/**
 * A discovery port for many subscribers at once: frames delivered are read by the AC in order;
 * what the AC sends is decoded and handed to the subscriber waiting for it (by MAC and code),
 * so no subscriber scans the frames sent to the others.
 */
class BenchPort extends QueuePort {
  /** PADTs the AC sent to subscribers. */
  padtsOut = 0;
  /** Frames the AC sent that no subscriber was waiting for (other than PADTs). */
  unexpected = 0;
  readonly #waiters = new Map<string, (packet: PppoePacket) => void>();

  /** The next frame with `code` the AC sends to `mac`. */
  expect(mac: string, code: number): Promise<PppoePacket> {
    return new Promise((resolve) => this.#waiters.set(`${mac}/${code}`, resolve));
  }

  send(payload: Uint8Array, to: string): boolean {
    const packet = decodePppoe(payload);
    const key = `${to}/${packet.code}`;
    const waiter = this.#waiters.get(key);
    if (waiter) {
      this.#waiters.delete(key);
      waiter(packet);
    } else if (packet.code === PppoeCode.PADT) {
      this.padtsOut++;
    } else {
      this.unexpected++;
    }
    return true;
  }
}

/** The i-th subscriber's MAC (locally administered, distinct for i < 2^24). */
function subscriberMac(i: number): string {
  const b = [2, 0, 0x10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff];
  return b.map((x) => x.toString(16).padStart(2, "0")).join(":");
}

/** One subscriber's discovery: PADI, PADO, PADR with the cookie, PADS; its SESSION_ID. */
async function discover(port: BenchPort, mac: string): Promise<number> {
  const serviceTag = tag(PppoeTagType.SERVICE_NAME, SERVICE);
  const offer = port.expect(mac, PppoeCode.PADO);
  port.deliver({
    source: mac,
    packetType: "broadcast",
    payload: encodePppoe({ code: PppoeCode.PADI, sessionId: 0, tags: [serviceTag] }),
  });
  const cookie = findTag(await offer, PppoeTagType.AC_COOKIE);
  if (cookie === undefined) throw new Error(`Cannot benchmark: the PADO to ${mac} has no cookie`);
  const confirm = port.expect(mac, PppoeCode.PADS);
  port.deliver({
    source: mac,
    packetType: "host",
    payload: encodePppoe({
      code: PppoeCode.PADR,
      sessionId: 0,
      tags: [serviceTag, tag(PppoeTagType.AC_COOKIE, cookie)],
    }),
  });
  const pads = await confirm;
  if (pads.sessionId === 0) throw new Error(`Cannot benchmark: the AC refused ${mac} (PADS 0)`);
  return pads.sessionId;
}

function hangUp(port: BenchPort, mac: string, sessionId: number): void {
  port.deliver({
    source: mac,
    packetType: "host",
    payload: encodePppoe({ code: PppoeCode.PADT, sessionId, tags: [] }),
  });
}

// --- Runs ---------------------------------------------------------------------------------------

/** What one run (PPPoE or plain) measured. */
interface RunResult {
  sessions: number;
  /** First PADI (plain: dialling) until every call is up on our side, ms. */
  setupMs: number;
  /** PPPoE only: first PADI until the last PADS arrived, ms. */
  discoveryMs?: number;
  /** This process's CPU time over the setup, ms. */
  cpuMs: number;
  /** The LNS child's CPU time over the setup (and until it had every call), ms. */
  lnsCpuMs: number;
  /** Tunnels the calls went into (from the session-up events). */
  tunnels: number;
  /**
   * First PADT (plain: first session closed) until every call is down on our side (its
   * `session-down` event: CDN sent), ms.
   */
  callsDownMs: number;
  /**
   * First PADT (plain: first session closed) until no tunnel remains on our side, ms: the
   * calls, then the StopCCN and the context's wait for the end of its hold (at most
   * `stopGraceMs`, 1000 ms by default; the hold itself is 31 s, so the full grace is waited).
   */
  teardownMs: number;
  /** First PADT (plain: first session closed) until the LNS had no call left (polled every 50 ms, in parallel), ms. */
  lnsEmptyMs: number;
  /** PPPoE only: discovery counters after setup. */
  pado?: number;
  pads?: number;
  /** PPPoE only: sessions `up` in one `ac.status()` after setup. */
  statusUp?: number;
  /** PPPoE only: PADTs the AC sent back during the subscriber-initiated teardown (expect 0). */
  padtsBack?: number;
  /** Calls that went down while the others were being set up (expect 0). */
  downDuringSetup: number;
}

/** Counts a context's `session-up` and `session-down` events; resolves when `n` are seen. */
class SessionCounter {
  up = 0;
  down = 0;
  readonly tunnels = new Set<string>();
  #kind: "up" | "down" = "up";
  #target = Infinity;
  #resolve?: () => void;

  listen = (e: L2tpEvent): void => {
    if (e.type === "session-up") {
      this.up++;
      this.tunnels.add(e.tunnel);
    } else if (e.type === "session-down") {
      this.down++;
    } else {
      return;
    }
    if (this[this.#kind] >= this.#target) this.#resolve?.();
  };

  /**
   * Resolves once `n` sessions came up (or went down) in all; rejects after the phase timeout,
   * with `detail()`.
   */
  reach(kind: "up" | "down", n: number, detail: () => string): Promise<void> {
    this.#kind = kind;
    this.#target = n;
    if (this[kind] >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#resolve = undefined;
        reject(
          new Error(
            `Cannot benchmark: ${this[kind]} of ${n} sessions ${kind} after ` +
              `${PHASE_TIMEOUT_MS} ms (up ${this.up}, down ${this.down}): ${detail()}`,
          ),
        );
      }, PHASE_TIMEOUT_MS);
      this.#resolve = () => {
        clearTimeout(timer);
        this.#resolve = undefined;
        resolve();
      };
    });
  }
}

/** Polls `ctx.tunnels` (cheap: no status built) every 5 ms until it is empty. */
async function noTunnelLeft(ctx: Context, detail: () => string): Promise<void> {
  const deadline = performance.now() + PHASE_TIMEOUT_MS;
  while (ctx.tunnels.length > 0) {
    if (performance.now() > deadline) {
      throw new Error(`Cannot benchmark: a tunnel is still there after teardown: ${detail()}`);
    }
    await sleep(5);
  }
}

function kpppoedConfig(lnsPort: number, n: number): KpppoedConfig {
  return parseKpppoedConfig(
    `ac_name = "bench-ac"\ninterface_name = "bench0"\nservices = ["${SERVICE}"]\n` +
      `lns_ipaddr = "127.0.0.1:${lnsPort}"\nhost_name = "bench-ac"\n` +
      `max_sessions = ${Math.max(n, 4096)}\n`,
    "pppoe_bench.toml",
  );
}

/** The AC's settings for its tunnel to the LNS, for the plain LAC (the same as the AC's). */
function plainTunnel(config: KpppoedConfig): TunnelConfig {
  const s = config.services[0];
  return {
    mode: "dynamic",
    version: 2,
    encap: "udp",
    managed: true,
    role: "lac",
    peer: s.lns[0],
    secret: s.secret,
    hideAvps: s.hideAvps,
    hostName: s.hostName,
    helloTimeoutMs: s.helloTimeoutMs,
    retryTimeoutMs: s.retryTimeoutMs,
    maxRetries: s.maxRetries,
    windowSize: s.windowSize,
  };
}

function cpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

/** N subscribers through the AC: discovery, calls up, PADTs, tunnel gone. */
async function runPppoe(lns: LnsChild, n: number): Promise<RunResult> {
  const ctx = new Context({ dataplane: new NullDataPlane(), logger: QUIET });
  const port = new BenchPort();
  const ac = new AccessConcentrator({
    config: kpppoedConfig(lns.port, n),
    context: ctx,
    port,
    log: QUIET,
  });
  const counter = new SessionCounter();
  const stopCounting = ctx.onEvent(counter.listen); // after the AC's own listener
  const running = ac.run();
  const acDetail = (): string => {
    const s = ac.status();
    const states = s.pppoe.sessions.reduce<Record<string, number>>((m, x) => {
      m[x.state] = (m[x.state] ?? 0) + 1;
      return m;
    }, {});
    return str({
      pppoeSessions: states,
      tunnels: s.tunnels.map((t) => ({
        name: t.name,
        state: t.state,
        sessions: t.sessions.reduce<Record<string, number>>((m, x) => {
          m[x.state] = (m[x.state] ?? 0) + 1;
          return m;
        }, {}),
      })),
      counters: s.pppoe.counters,
      padtsToSubscribers: port.padtsOut,
      unexpectedFrames: port.unexpected,
    });
  };
  try {
    const lnsBefore = await lns.stat();
    const cpu0 = cpuMs();
    const t0 = performance.now();
    let lastPads = t0;
    const macs = Array.from({ length: n }, (_, i) => subscriberMac(i));
    const dialled = Promise.all(macs.map(async (mac) => {
      const id = await discover(port, mac);
      lastPads = performance.now();
      return id;
    }));
    const allUp = counter.reach("up", n, acDetail);
    const ids = await dialled;
    await allUp;
    const t1 = performance.now();
    const cpu1 = cpuMs();
    const lnsUp = await lns.waitFor(`${n} calls bound`, (s) => s.sessions >= n);
    const status = ac.status();
    const downDuringSetup = counter.down;

    const padts0 = port.padtsOut;
    const t2 = performance.now();
    const callsDown = counter.reach("down", downDuringSetup + n, acDetail);
    const lnsEmpty = lns.waitFor("no call left", (s) => s.sessions === 0).then(() =>
      performance.now()
    );
    for (const [i, mac] of macs.entries()) hangUp(port, mac, ids[i]);
    await callsDown;
    const tDown = performance.now();
    await noTunnelLeft(ctx, acDetail);
    const t3 = performance.now();
    const tLns = await lnsEmpty;
    return {
      sessions: n,
      setupMs: t1 - t0,
      discoveryMs: lastPads - t0,
      cpuMs: cpu1 - cpu0,
      lnsCpuMs: lnsUp.cpuMs - lnsBefore.cpuMs,
      tunnels: counter.tunnels.size,
      callsDownMs: tDown - t2,
      teardownMs: t3 - t2,
      lnsEmptyMs: tLns - t2,
      pado: Number(status.pppoe.counters.pado),
      pads: Number(status.pppoe.counters.pads),
      statusUp: status.pppoe.sessions.filter((s) => s.state === "up").length,
      padtsBack: port.padtsOut - padts0,
      downDuringSetup,
    };
  } finally {
    await ac.close();
    await running;
    stopCounting();
    await ctx.close();
  }
}

/** The reference: a plain LAC tunnel with N PPP sessions against the same LNS. */
async function runPlain(lns: LnsChild, n: number): Promise<RunResult> {
  const ctx = new Context({ dataplane: new NullDataPlane(), logger: QUIET });
  const counter = new SessionCounter();
  const stopCounting = ctx.onEvent(counter.listen);
  const detail = (): string => {
    const t = ctx.status().tunnels[0];
    return t === undefined ? "no tunnel" : str({
      state: t.state,
      sessions: t.sessions.reduce<Record<string, number>>((m, x) => {
        m[x.state] = (m[x.state] ?? 0) + 1;
        return m;
      }, {}),
    });
  };
  try {
    const lnsBefore = await lns.stat();
    const cpu0 = cpuMs();
    const t0 = performance.now();
    const tunnel = await ctx.newDynamicTunnel("plain", plainTunnel(kpppoedConfig(lns.port, n)));
    const sessions: Session[] = await Promise.all(
      Array.from({ length: n }, (_, i) => tunnel.newSession(`s${i}`, PPP)),
    );
    await counter.reach("up", n, detail);
    const t1 = performance.now();
    const cpu1 = cpuMs();
    const lnsUp = await lns.waitFor(`${n} calls bound`, (s) => s.sessions >= n);
    const downDuringSetup = counter.down;

    const t2 = performance.now();
    const callsDown = counter.reach("down", downDuringSetup + n, detail);
    const lnsEmpty = lns.waitFor("no call left", (s) => s.sessions === 0).then(() =>
      performance.now()
    );
    await Promise.all(sessions.map((s) => s.close()));
    await callsDown;
    const tDown = performance.now();
    await tunnel.close();
    await noTunnelLeft(ctx, detail);
    const t3 = performance.now();
    const tLns = await lnsEmpty;
    return {
      sessions: n,
      setupMs: t1 - t0,
      cpuMs: cpu1 - cpu0,
      lnsCpuMs: lnsUp.cpuMs - lnsBefore.cpuMs,
      tunnels: counter.tunnels.size,
      callsDownMs: tDown - t2,
      teardownMs: t3 - t2,
      lnsEmptyMs: tLns - t2,
      downDuringSetup,
    };
  } finally {
    stopCounting();
    await ctx.close();
  }
}

// --- Report -------------------------------------------------------------------------------------

async function main(n: number, rounds: number): Promise<void> {
  const lns = await startLns();
  try {
    const settings = kpppoedConfig(lns.port, n).services[0];
    console.log(
      `PPPoE sessions established per second on kpppoed's AC: null data plane on both ends, so ` +
        `this is the control plane only (PPPoE discovery through a fake port + L2TPv2 call ` +
        `setup over loopback UDP; no kernel session, no bridge, no pppd); our LNS in a child ` +
        `process; tunnel settings kpppoed's defaults (window ${settings.windowSize}, retry ` +
        `${settings.retryTimeoutMs} ms); ${n} sessions, ${rounds} round(s)`,
    );
    // Warm-up (JIT), not reported.
    await runPlain(lns, 100);
    await runPppoe(lns, 100);
    const pppoe: RunResult[] = [];
    const plain: RunResult[] = [];
    for (let r = 0; r < rounds; r++) {
      if (r % 2 === 0) {
        plain.push(await runPlain(lns, n));
        pppoe.push(await runPppoe(lns, n));
      } else {
        pppoe.push(await runPppoe(lns, n));
        plain.push(await runPlain(lns, n));
      }
      const p = pppoe[r], q = plain[r];
      const countersOk = p.pado === n && p.pads === n;
      console.log(
        `round ${r + 1}: PPPoE: last PADS ${ms(p.discoveryMs ?? 0)} after the first PADI, all ` +
          `${n} up ${ms(p.setupMs)} after it = ${rate(n, p.setupMs)} sessions/s (CPU: ours ` +
          `${ms(p.cpuMs)}, LNS ${ms(p.lnsCpuMs)}); teardown: all calls down ${ms(p.callsDownMs)} ` +
          `after the first PADT = ${rate(n, p.callsDownMs)} sessions/s, no tunnel left at ` +
          `${ms(p.teardownMs)} = ${rate(n, p.teardownMs)} sessions/s, LNS empty at ` +
          `~${ms(p.lnsEmptyMs)}; tunnels used ${p.tunnels}; pado ${p.pado}, pads ${p.pads} ` +
          `(${countersOk ? "= N, ok" : `N = ${n}: WRONG`}); up in ac.status() ${p.statusUp}; ` +
          `PADTs back ${p.padtsBack}; calls down during setup ${p.downDuringSetup}`,
      );
      console.log(
        `round ${r + 1}: plain LAC: all ${n} up ${ms(q.setupMs)} after dialling = ` +
          `${rate(n, q.setupMs)} sessions/s (CPU: ours ${ms(q.cpuMs)}, LNS ${ms(q.lnsCpuMs)}); ` +
          `teardown: all calls down ${ms(q.callsDownMs)} after the first close = ` +
          `${rate(n, q.callsDownMs)} sessions/s, no tunnel left at ${ms(q.teardownMs)} = ` +
          `${rate(n, q.teardownMs)} sessions/s, LNS empty at ~${ms(q.lnsEmptyMs)}; tunnels ` +
          `used ${q.tunnels}; calls down during setup ${q.downDuringSetup}`,
      );
    }
    const med = (rs: RunResult[], f: (r: RunResult) => number): number => median(rs.map(f));
    const pSetup = med(pppoe, (x) => x.setupMs), qSetup = med(plain, (x) => x.setupMs);
    const pCalls = med(pppoe, (x) => x.callsDownMs), qCalls = med(plain, (x) => x.callsDownMs);
    const pDown = med(pppoe, (x) => x.teardownMs), qDown = med(plain, (x) => x.teardownMs);
    const pCpu = med(pppoe, (x) => x.cpuMs), qCpu = med(plain, (x) => x.cpuMs);
    const pLns = med(pppoe, (x) => x.lnsCpuMs), qLns = med(plain, (x) => x.lnsCpuMs);
    const tunnels = [...new Set(pppoe.map((x) => x.tunnels))].join("/");
    const countersOk = pppoe.every((x) => x.pado === n && x.pads === n);
    console.log(
      `PPPoE on the AC (median of ${rounds}): ${n} sessions set up at ${rate(n, pSetup)}/s ` +
        `(${ms(pSetup)}); torn down (PADT until every call is down) at ${rate(n, pCalls)}/s ` +
        `(${ms(pCalls)}), until no tunnel remains ${rate(n, pDown)}/s (${ms(pDown)}, which ` +
        `includes the context's StopCCN grace of up to 1000 ms); tunnels used ${tunnels}` +
        `${tunnels === "1" ? "" : " (expected 1)"}; discovery counters ` +
        `${countersOk ? "pado = pads = N" : "WRONG (see the rounds)"}`,
    );
    console.log(
      `plain L2TPv2 LAC, same LNS and settings (median of ${rounds}): ${n} sessions set up at ` +
        `${rate(n, qSetup)}/s (${ms(qSetup)}); torn down at ${rate(n, qCalls)}/s ` +
        `(${ms(qCalls)}), until no tunnel remains ${rate(n, qDown)}/s (${ms(qDown)})`,
    );
    console.log(
      `PPPoE overhead (PPPoE / plain LAC, medians): setup time ${ratio(pSetup, qSetup)}, ` +
        `calls-down time ${ratio(pCalls, qCalls)}, until-no-tunnel time ${ratio(pDown, qDown)}; ` +
        `CPU over setup: ours ${ratio(pCpu, qCpu)} (PPPoE's includes the simulated subscribers ` +
        `and the fake port), LNS ${ratio(pLns, qLns)}`,
    );
  } finally {
    await lns.stop();
  }
}

function ratio(a: number, b: number): string {
  return `${(a / b).toFixed(2)}x`;
}

function ms(v: number): string {
  return `${v.toFixed(0)} ms`;
}

function rate(n: number, ms: number): string {
  return (n / (ms / 1000)).toFixed(0);
}

function str(v: unknown): string {
  return JSON.stringify(v);
}

// At the end: the classes above must be initialised before the run starts.
if (values["lns-port"] !== undefined) {
  await runLns(Number(values["lns-port"]));
} else if (import.meta.main) {
  const n = Number(values.sessions ?? (values.quick ? 200 : 1000));
  const rounds = Number(values.rounds ?? (values.quick ? 1 : 5));
  await main(n, rounds);
}
