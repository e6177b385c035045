/**
 * Session establishment through the dynamic control plane: an initiator (control/connection.ts)
 * and a listener with its responder (control/listener.ts), over UDP on 127.0.0.1 served by the
 * reactor (lib/reactor.ts), real clock and RFC timers. The hooks do nothing (a null data plane),
 * so the figures are those of the control protocol alone: ICRQ / ICRP / ICCN per session and
 * their acknowledgements.
 *
 * Figures:
 * - tunnel set-up time (SCCRQ .. both sides established);
 * - sessions per second: N sessions opened at once until both sides have all of them up;
 * - RSS and heap growth per session, both ends in this process (so per session *pair*), with N
 *   sessions up (10,000 by default);
 * - teardown time (StopCCN, every session and the tunnel down on both sides).
 *
 * Run alone: `deno run -A tests/bench/control_bench.ts [--version 2|3] [--sessions N]
 * [--window W] [--quick]`. {@linkcode runControlBench} is the same as a function.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ControlConnection, type SessionParams } from "../../control/connection.ts";
import { Listener } from "../../control/listener.ts";
import { Reactor } from "../../dataplane/reactor.ts";

/** Options of {@linkcode runControlBench}. */
export interface ControlBenchOptions {
  /** L2TP version (2: PPP sessions; 3: Ethernet sessions). */
  version: 2 | 3;
  /** Sessions to establish in the tunnel. */
  sessions: number;
  /** Receive window of both ends, in messages (default 64). */
  window?: number;
}

/** What {@linkcode runControlBench} measured. */
export interface ControlBenchResult {
  /** L2TP version. */
  version: 2 | 3;
  /** Sessions established. */
  sessions: number;
  /** Receive window used. */
  window: number;
  /** Tunnel set-up, milliseconds. */
  tunnelSetupMs: number;
  /** Time from opening the first session until all are up on both ends, milliseconds. */
  sessionSetupMs: number;
  /** Sessions established per second. */
  sessionsPerSecond: number;
  /** Resident set growth per session (both ends), bytes. */
  rssPerSession: number;
  /** V8 heap growth per session (both ends), bytes. */
  heapPerSession: number;
  /** Resident set with every session up, MiB. */
  rssMiB: number;
  /** Teardown (StopCCN until both ends are down), milliseconds. */
  teardownMs: number;
}

function session(version: 2 | 3, name: string): SessionParams {
  return {
    name,
    pseudowire: version === 2 ? "ppp" : "eth",
    sendSeqnum: false,
    recvSeqnum: false,
    l2specType: "none",
  };
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/**
 * Establish `sessions` sessions between an initiator and a listener on loopback, measure, and
 * tear everything down.
 *
 * @param options Version, session count, window.
 * @returns The figures.
 *
 * @example Usage
 * ```ts ignore
 * import { runControlBench } from "./control_bench.ts";
 * console.log(await runControlBench({ version: 2, sessions: 1000 }));
 * ```
 */
export async function runControlBench(options: ControlBenchOptions): Promise<ControlBenchResult> {
  const { version, sessions } = options;
  const window = options.window ?? 64;
  await using reactor = new Reactor();
  using listenSock = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
  const local = listenSock.local;
  let lnsUp = 0;
  let lnsDown = 0;
  let tunnelDowns = 0;
  const common = {
    receiveWindow: window,
    maxSessions: sessions + 1,
    transport: { stopHold: 50 },
    setupTimeout: 600_000,
  };
  const listener = new Listener({
    socket: listenSock,
    encap: "udp",
    local,
    tunnels: [{
      name: "lns",
      version,
      peer: { address: "127.0.0.1", port: 0 },
      connection: {
        ...common,
        hostName: "lns",
        sessions: [session(version, "any")],
        onEvent: () => {},
        hooks: {
          sessionUp: (): Promise<void> => {
            lnsUp++;
            return Promise.resolve();
          },
          sessionDown: (): Promise<void> => {
            lnsDown++;
            return Promise.resolve();
          },
          tunnelDown: (): Promise<void> => {
            tunnelDowns++;
            return Promise.resolve();
          },
        },
      },
    }],
    openSocket: (req) => reactor.udp({ local: req.local, peer: req.peer }),
  });
  listener.start();
  using lacSock = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });

  gc();
  const rss0 = Deno.memoryUsage().rss;
  const heap0 = Deno.memoryUsage().heapUsed;
  const t0 = performance.now();
  const lac = new ControlConnection({
    ...common,
    version,
    encap: "udp",
    role: "initiator",
    socket: lacSock,
    peer: local,
    hostName: "lac",
    onEvent: () => {},
    hooks: {
      tunnelDown: (): Promise<void> => {
        tunnelDowns++;
        return Promise.resolve();
      },
    },
  });
  lac.start();
  if (!await lac.established) throw new Error("Cannot benchmark: the tunnel did not come up");
  const t1 = performance.now();
  const opened = [];
  for (let i = 0; i < sessions; i++) opened.push(lac.openSession(session(version, `s${i}`)));
  const up = await Promise.all(opened.map((s) => s.established));
  if (up.some((u) => !u)) throw new Error("Cannot benchmark: a session was refused");
  while (lnsUp < sessions) await new Promise((resolve) => setTimeout(resolve, 1));
  const t2 = performance.now();
  gc();
  const { rss, heapUsed } = Deno.memoryUsage();

  const t3 = performance.now();
  await lac.close();
  while (tunnelDowns < 2 || lnsDown < sessions) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  const t4 = performance.now();
  await lac.done;
  await Promise.all(listener.connections.map((c) => c.done));
  return {
    version,
    sessions,
    window,
    tunnelSetupMs: t1 - t0,
    sessionSetupMs: t2 - t1,
    sessionsPerSecond: sessions / ((t2 - t1) / 1000),
    rssPerSession: (rss - rss0) / sessions,
    heapPerSession: (heapUsed - heap0) / sessions,
    rssMiB: rss / 2 ** 20,
    teardownMs: t4 - t3,
  };
}

function report(r: ControlBenchResult): string {
  return `L2TPv${r.version}: ${r.sessions} sessions (window ${r.window}): ` +
    `tunnel up in ${r.tunnelSetupMs.toFixed(0)} ms; sessions up in ` +
    `${r.sessionSetupMs.toFixed(0)} ms = ${r.sessionsPerSecond.toFixed(0)} sessions/s; ` +
    `RSS +${(r.rssPerSession / 1024).toFixed(1)} KiB/session, heap +${
      (r.heapPerSession / 1024).toFixed(1)
    } KiB/session (both ends), RSS ${r.rssMiB.toFixed(0)} MiB; ` +
    `teardown ${r.teardownMs.toFixed(0)} ms`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      version: { type: "string" },
      sessions: { type: "string" },
      window: { type: "string" },
      quick: { type: "boolean", default: false },
    },
  });
  const sessions = Number(values.sessions ?? (values.quick ? 500 : 10_000));
  if (values.version) {
    const version = Number(values.version) === 3 ? 3 : 2;
    const window = values.window ? Number(values.window) : undefined;
    console.log(report(await runControlBench({ version, sessions, window })));
  } else {
    // One process per version, with a collectable heap, so that memory figures are its own.
    for (const version of ["2", "3"]) {
      const args = ["run", "--allow-all", "--v8-flags=--expose-gc", import.meta.filename ?? ""];
      args.push("--version", version, "--sessions", String(sessions));
      if (values.window) args.push("--window", values.window);
      const { code } = await new Deno.Command(Deno.execPath(), { args }).spawn().status;
      if (code !== 0) Deno.exit(code);
    }
  }
}
