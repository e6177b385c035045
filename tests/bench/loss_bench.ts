/**
 * Control-connection survival under packet loss: how often an L2TPv2 tunnel is lost at 20% loss
 * with each personality's default retransmission count. The l2tpd personality gives L2TPv2
 * tunnels RFC 2661 §5.8's 5 retransmissions; kl2tpd keeps go-l2tp's 3 (the peer figure). Both
 * come from `parseConfig` with each personality's options, not from constants here.
 *
 * The protocol code runs as it does in the daemon (ControlConnection: transport, tunnel and
 * session FSMs); the network is in memory and drops each datagram, in each direction, with the
 * given probability from a seeded generator, and the clock is a fake one stepped from timer to
 * timer, so a run of 10 minutes of tunnel life takes milliseconds and the figures repeat. Each
 * run: the LAC dials, opens one PPP session, and the tunnel lives for `--minutes` with HELLOs
 * every `hello_timeout` (60 s). A run is lost when the tunnel is not up with its session at the
 * end (setup failed, or the transport gave up on a message and the tunnel came down).
 *
 * Run alone: `deno run -A tests/bench/loss_bench.ts [--quick] [--runs N] [--loss P]
 * [--minutes M]`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { configOptionsFor } from "../../lib/cli.ts";
import { parseConfig } from "../../lib/config.ts";
import type { Personality } from "../../lib/cli.ts";
import { pair, pppSession } from "../unit/_control_rig.ts";
import { prng } from "../unit/_prng.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    runs: { type: "string" },
    loss: { type: "string", default: "0.2" },
    minutes: { type: "string", default: "10" },
  },
});

const runs = Number(values.runs ?? (values.quick ? 50 : 500));
const loss = Number(values.loss);
const minutes = Number(values.minutes);
if (!(Number.isInteger(runs) && runs > 0)) {
  throw new Error(`Cannot run: --runs ${values.runs} is not a positive integer`);
}
if (!(loss >= 0 && loss < 1)) throw new Error(`Cannot run: --loss ${values.loss} is not in [0, 1)`);
if (!(minutes > 0)) throw new Error(`Cannot run: --minutes ${values.minutes} is not positive`);

/** The control settings a personality gives a dynamic L2TPv2 LAC tunnel with HELLOs every 60 s. */
function settingsOf(personality: Personality): {
  maxRetries: number;
  receiveWindow?: number;
  retryTimeout?: number;
  helloInterval?: number;
} {
  const toml = `[tunnel.t]
peer = "192.0.2.2"
version = "l2tpv2"
hello_timeout = 60000
[tunnel.t.session.s]
pseudowire = "ppp"
`;
  const t = parseConfig(toml, "loss.toml", configOptionsFor(personality)).tunnels[0].config;
  if (t.maxRetries === undefined) {
    throw new Error(`Cannot run: the ${personality} personality gives no max_retries`);
  }
  return {
    maxRetries: t.maxRetries,
    receiveWindow: t.windowSize,
    retryTimeout: t.retryTimeoutMs,
    helloInterval: t.helloTimeoutMs,
  };
}

/**
 * Let every pending microtask run: the in-memory network delivers, and the connection's jobs
 * run, in microtasks; every timer is the fake clock's. (The rig's `tick`, a zero-delay
 * `setTimeout`, gives the same 8/500 and 85/500 in 93 s instead of 8 s.)
 */
async function drain(): Promise<void> {
  for (let i = 0; i < 64; i++) await Promise.resolve();
}

/** One run: true when the tunnel and its session are still up at the end. */
async function survives(
  settings: ReturnType<typeof settingsOf>,
  seed: number,
  lifeMs: number,
): Promise<boolean> {
  const s = pppSession("s");
  const p = pair({ version: 2, ...settings }, {}, { sessions: [s] });
  const rnd = prng(seed);
  p.net.filter = (d) => (rnd() < loss ? null : d.data);
  p.b.start();
  p.a.start();
  const opened = p.a.openSession(s);
  let up = false;
  opened.established.then((ok) => up = ok, () => up = false);
  // Step from timer to timer, letting every datagram and job run in between.
  const end = p.clock.now() + lifeMs;
  await drain();
  while (p.clock.now() < end) {
    const next = p.clock.nextDue;
    if (next === undefined) break;
    p.clock.advance(Math.max(0, Math.min(next, end) - p.clock.now()));
    await drain();
  }
  const alive = up && p.a.state === "established" && p.a.sessionCount === 1 &&
    p.ra.tunnelDowns.length === 0;
  await p.end();
  return alive;
}

/** Lost runs out of `runs`, seeds 1..runs (the same seeds for every personality). */
async function lostRuns(personality: Personality): Promise<{ lost: number; retries: number }> {
  const settings = settingsOf(personality);
  let lost = 0;
  for (let seed = 1; seed <= runs; seed++) {
    if (!await survives(settings, seed, minutes * 60_000)) lost++;
  }
  return { lost, retries: settings.maxRetries };
}

const t0 = performance.now();
const ours = await lostRuns("l2tpd");
const peer = await lostRuns("kl2tpd");
const pct = (n: number) => `${(100 * n / runs).toFixed(1)}%`;
const label = `${Math.round(loss * 100)}% loss each way, ${minutes} min of tunnel life ` +
  `(setup, 1 session, HELLO every 60 s), ${runs} seeded runs`;
console.log(
  `loss, l2tpd (${ours.retries} retransmissions, RFC 2661 §5.8): ${label}: tunnel lost in ` +
    `${ours.lost}/${runs} (${pct(ours.lost)})`,
);
console.log(
  `loss, kl2tpd (${peer.retries} retransmissions, go-l2tp's default), same runs: tunnel lost in ` +
    `${peer.lost}/${runs} (${pct(peer.lost)})`,
);
console.log(`loss: ${Math.round(performance.now() - t0)} ms for ${2 * runs} simulated runs`);
