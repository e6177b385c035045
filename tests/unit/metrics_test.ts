/**
 * Prometheus metrics (lib/metrics.ts): the exposition of a context on the null data plane with
 * fake kernel counters, event-derived counters, retransmissions that outlive their connection,
 * label escaping, the HTTP endpoint, and `promtool check metrics` on the output.
 *
 * The promtool test is ignored, with the reason in its name, when promtool is not installed
 * (Debian: `apt-get install -y prometheus`).
 */

import assert from "node:assert/strict";
import {
  type ContextStatus,
  type KernelCounters,
  type L2tpEvent,
  NullDataPlane,
  type SessionConfig,
  type TunnelConfig,
  type TunnelStatus,
} from "../../lib/mod.ts";
import { Context } from "../../lib/context.ts";
import {
  emptyTotals,
  escapeLabelValue,
  METRICS_CONTENT_TYPE,
  MetricsCollector,
  type MetricsSource,
  parseMetricsAddress,
  renderMetrics,
  serveMetrics,
} from "../../lib/metrics.ts";

const staticV3 = (tid: number, peer = "192.0.2.2"): TunnelConfig => ({
  mode: "static",
  version: 3,
  encap: "ip",
  managed: false,
  local: { address: "192.0.2.1", port: 0 },
  peer: { address: peer, port: 0 },
  tid,
  ptid: tid + 1000,
});

const eth = (sid: number): SessionConfig => ({
  sid,
  psid: sid + 100,
  pseudowire: "eth",
  sendSeqnum: false,
  recvSeqnum: false,
  l2specType: "default",
});

/** Kernel counters whose every field is derived from `n`, so each series is recognisable. */
const kernel = (n: number): KernelCounters => ({
  rxPackets: n,
  rxBytes: n * 100,
  rxErrors: n + 1,
  rxDiscards: n + 2,
  txPackets: n + 3,
  txBytes: n * 200,
  txErrors: n + 4,
});

/**
 * A real context as a metrics source, its snapshot's kernel counters (zeros on the null data
 * plane) replaced: tunnel `tid` gets `kernel(tid)`, session `sid` gets `kernel(sid)`.
 */
function source(ctx: Context): MetricsSource {
  return {
    readStatus: async () => {
      const status = await ctx.readStatus();
      for (const t of status.tunnels) {
        assert.ok(t.kernel, "readStatus gives the kernel tunnel's counters");
        t.kernel = kernel(t.localTunnelId ?? 0);
        for (const s of t.sessions) {
          assert.ok(s.kernel, "readStatus gives the kernel session's counters");
          s.kernel = kernel(s.localSessionId ?? 0);
        }
      }
      return status;
    },
    onEvent: (l) => ctx.onEvent(l),
  };
}

/** The sample lines (no comments) of an exposition. */
function samples(text: string): string[] {
  return text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));
}

/** The value of the one sample whose line starts with `series` followed by a space. */
function value(text: string, series: string): number | undefined {
  const line = samples(text).find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** A source that answers the statuses it is given, in turn (the last one again and again). */
function fakeSource(...statuses: ContextStatus[]): MetricsSource & { emit(e: L2tpEvent): void } {
  const listeners = new Set<(e: L2tpEvent) => void>();
  let i = 0;
  return {
    readStatus: () =>
      Promise.resolve(structuredClone(statuses[Math.min(i++, statuses.length - 1)])),
    onEvent: (l) => {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    emit: (e) => {
      for (const l of listeners) l(e);
    },
  };
}

const counters = (retransmits: number): TunnelStatus["counters"] => ({
  sent: 10,
  retransmits,
  received: 10,
  acksSent: 1,
  acksReceived: 1,
  duplicates: 0,
  outOfOrder: 0,
  outOfWindow: 0,
  errors: 0,
});

/** A responder with two accepted peers (one up with a call, one connecting). */
function responder(retransmits: [number, number]): TunnelStatus {
  return {
    name: "lns",
    mode: "dynamic",
    version: 2,
    encap: "udp",
    role: "lns",
    state: "listening",
    local: { address: "0.0.0.0", port: 1701 },
    // The declared session reports the call that is also under peers[0]: not counted twice.
    sessions: [{ name: "ppp", state: "up", pseudowire: "ppp", localSessionId: 7 }],
    peers: [
      {
        state: "up",
        localTunnelId: 40,
        peerTunnelId: 4,
        peer: { address: "198.51.100.1", port: 1701 },
        counters: counters(retransmits[0]),
        kernel: kernel(40),
        sessions: [{
          name: "ppp",
          state: "up",
          pseudowire: "ppp",
          localSessionId: 7,
          kernel: kernel(7),
        }],
      },
      {
        state: "connecting",
        localTunnelId: 41,
        peer: { address: "198.51.100.2", port: 1701 },
        counters: counters(retransmits[1]),
        sessions: [],
      },
    ],
  };
}

function initiator(localTunnelId: number | undefined, retransmits?: number): TunnelStatus {
  return {
    name: "lac",
    mode: "dynamic",
    version: 2,
    encap: "udp",
    role: "lac",
    state: localTunnelId === undefined ? "down" : "up",
    localTunnelId,
    peer: { address: "203.0.113.9", port: 1701 },
    counters: retransmits === undefined ? undefined : counters(retransmits),
    sessions: [],
  };
}

const at = (tunnels: TunnelStatus[]): ContextStatus => ({
  time: new Date(0).toISOString(),
  tunnels,
});

Deno.test("metrics: kernel counters, gauges and setups of static tunnels on the null data plane", async () => {
  using dp = new NullDataPlane();
  await using ctx = new Context({ dataplane: dp });
  using metrics = new MetricsCollector({ source: source(ctx), version: "1.2.3" });
  const t1 = await ctx.newStaticTunnel("t1", staticV3(1));
  await t1.newSession("s10", eth(10));
  await t1.newSession("s11", eth(11));
  const t2 = await ctx.newStaticTunnel("t2", staticV3(2, "192.0.2.3"));
  await t2.newSession("s20", eth(20));
  const text = await metrics.scrape();

  assert.equal(value(text, 'l2tpd_build_info{version="1.2.3"}'), 1);
  assert.equal(value(text, "l2tpd_tunnels_up"), 2);
  assert.equal(value(text, "l2tpd_sessions_up"), 3);
  assert.equal(value(text, "l2tpd_tunnel_setups_total"), 2);
  assert.equal(value(text, "l2tpd_session_setups_total"), 3);
  const t2Labels = 'tunnel="t2",local_tunnel_id="2",peer="192.0.2.3"';
  assert.equal(value(text, `l2tpd_tunnel_rx_packets_total{${t2Labels}}`), 2);
  assert.equal(value(text, `l2tpd_tunnel_rx_bytes_total{${t2Labels}}`), 200);
  assert.equal(value(text, `l2tpd_tunnel_rx_errors_total{${t2Labels}}`), 3);
  assert.equal(value(text, `l2tpd_tunnel_rx_discards_total{${t2Labels}}`), 4);
  assert.equal(value(text, `l2tpd_tunnel_tx_packets_total{${t2Labels}}`), 5);
  assert.equal(value(text, `l2tpd_tunnel_tx_bytes_total{${t2Labels}}`), 400);
  assert.equal(value(text, `l2tpd_tunnel_tx_errors_total{${t2Labels}}`), 6);
  const s11 =
    'tunnel="t1",session="s11",local_tunnel_id="1",local_session_id="11",peer="192.0.2.2"';
  assert.equal(value(text, `l2tpd_session_rx_packets_total{${s11}}`), 11);
  assert.equal(value(text, `l2tpd_session_tx_bytes_total{${s11}}`), 2200);
  assert.equal(value(text, `l2tpd_session_rx_discards_total{${s11}}`), 13);
  for (const dir of ["rx", "tx"]) {
    for (const what of ["packets", "bytes", "errors"]) {
      const name = `l2tpd_session_${dir}_${what}_total`;
      assert.equal(samples(text).filter((l) => l.startsWith(`${name}{`)).length, 3, name);
    }
  }

  // Every family has HELP and TYPE, once, before its samples; counters end in _total.
  const lines = text.split("\n");
  const types = new Map<string, string>();
  for (const [i, l] of lines.entries()) {
    const m = /^# TYPE (\S+) (counter|gauge)$/.exec(l);
    if (!m) continue;
    assert.ok(!types.has(m[1]), `one TYPE for ${m[1]}`);
    types.set(m[1], m[2]);
    assert.ok(lines[i - 1].startsWith(`# HELP ${m[1]} `), `HELP before TYPE of ${m[1]}`);
    if (m[2] === "counter") assert.ok(m[1].endsWith("_total"), m[1]);
  }
  for (const l of samples(text)) {
    const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)?.[0] ?? "";
    assert.ok(types.has(name), `sample of a declared family: ${l}`);
  }
  assert.ok(text.endsWith("\n"));
});

Deno.test("metrics: a Context is a source as it is (the null data plane counts zeros)", async () => {
  using dp = new NullDataPlane();
  await using ctx = new Context({ dataplane: dp });
  using metrics = new MetricsCollector({ source: ctx, version: "x" });
  const t = await ctx.newStaticTunnel("t1", staticV3(1));
  await t.newSession("s10", eth(10));
  const text = await metrics.scrape();
  assert.equal(
    value(text, 'l2tpd_tunnel_tx_bytes_total{tunnel="t1",local_tunnel_id="1",peer="192.0.2.2"}'),
    0,
  );
  const s10 =
    'tunnel="t1",session="s10",local_tunnel_id="1",local_session_id="10",peer="192.0.2.2"';
  assert.equal(value(text, `l2tpd_session_rx_packets_total{${s10}}`), 0);
  assert.equal(value(text, "l2tpd_sessions_up"), 1);
  assert.equal(value(text, "l2tpd_session_setups_total"), 1);
});

Deno.test("metrics: setups, failures and downs by result code; HELLO timeouts; monotonic", async () => {
  using dp = new NullDataPlane();
  const ctx = new Context({ dataplane: dp });
  using metrics = new MetricsCollector({ source: source(ctx), version: "x" });
  const t = await ctx.newStaticTunnel("t1", staticV3(1));
  await t.newSession("s10", eth(10));
  const s = await t.newSession("s11", eth(11));
  await s.close();
  await ctx.close();
  let totals = metrics.totals();
  assert.equal(totals.tunnelSetups, 1);
  assert.equal(totals.sessionSetups, 2);
  assert.deepEqual(totals.tunnelDowns, { none: 1 }, "closed: no StopCCN");
  assert.deepEqual(totals.sessionDowns, { none: 2 });
  assert.deepEqual(totals.tunnelSetupFailures, {});

  const time = "";
  const events: L2tpEvent[] = [
    // Dynamic tunnels: refused, then one that comes up and whose peer falls silent.
    {
      type: "tunnel-down",
      time,
      tunnel: "d",
      localTunnelId: 5,
      reason: "StopCCN",
      resultCode: 2,
      wasUp: false,
    },
    {
      type: "tunnel-down",
      time,
      tunnel: "d",
      localTunnelId: 6,
      reason: "peer silent: no ack",
      wasUp: false,
    },
    {
      type: "tunnel-up",
      time,
      tunnel: "d",
      version: 2,
      encap: "udp",
      localTunnelId: 7,
      peerTunnelId: 1,
      peer: { address: "192.0.2.9", port: 1701 },
    },
    {
      type: "session-up",
      time,
      tunnel: "d",
      session: "p",
      localTunnelId: 7,
      peerTunnelId: 1,
      localSessionId: 3,
      peerSessionId: 4,
      peer: { address: "192.0.2.9", port: 1701 },
      pseudowire: "ppp",
    },
    // A call that never came up (CDN 2), and one with no session ID at all.
    {
      type: "session-down",
      time,
      tunnel: "d",
      session: "p",
      localTunnelId: 7,
      localSessionId: 9,
      reason: "CDN",
      resultCode: 2,
    },
    {
      type: "session-down",
      time,
      tunnel: "d",
      session: "p",
      localTunnelId: 7,
      localSessionId: 0,
      reason: "refused",
    },
    {
      type: "session-down",
      time,
      tunnel: "d",
      session: "p",
      localTunnelId: 7,
      localSessionId: 3,
      reason: "peer silent",
      resultCode: 1,
    },
    {
      type: "tunnel-down",
      time,
      tunnel: "d",
      localTunnelId: 7,
      reason: "peer silent: no ack for Ns 3",
      wasUp: true,
    },
    // A quiescent tunnel whose peer stopped answering HELLOs (wasUp true: static tunnels).
    {
      type: "tunnel-down",
      time,
      tunnel: "q",
      localTunnelId: 8,
      reason: "the peer stopped answering (no acknowledgement)",
      wasUp: true,
    },
    // Without wasUp the collector remembers the up event.
    {
      type: "tunnel-up",
      time,
      tunnel: "e",
      version: 3,
      encap: "ip",
      localTunnelId: 9,
      peerTunnelId: 1,
      peer: { address: "192.0.2.9", port: 0 },
    },
    {
      type: "tunnel-down",
      time,
      tunnel: "e",
      localTunnelId: 9,
      reason: "StopCCN from the peer",
      resultCode: 6,
    },
    { type: "tunnel-down", time, tunnel: "e", localTunnelId: 10, reason: "gave up", resultCode: 6 },
  ];
  for (const e of events) metrics.observe(e);
  totals = metrics.totals();
  assert.equal(totals.tunnelSetups, 3);
  assert.deepEqual(totals.tunnelSetupFailures, { "2": 1, none: 1, "6": 1 });
  assert.deepEqual(totals.tunnelDowns, { none: 3, "6": 1 });
  assert.equal(totals.sessionSetups, 3);
  assert.deepEqual(totals.sessionSetupFailures, { "2": 1, none: 1 });
  assert.deepEqual(totals.sessionDowns, { none: 2, "1": 1 });
  assert.equal(totals.helloTimeouts, 2, "only tunnels that were up: not the failed dial");

  const text = renderMetrics({ status: at([]), totals, version: "x" });
  assert.equal(value(text, 'l2tpd_tunnel_setup_failures_total{result_code="2"}'), 1);
  assert.equal(value(text, 'l2tpd_tunnel_setup_failures_total{result_code="none"}'), 1);
  assert.equal(value(text, 'l2tpd_tunnel_downs_total{result_code="6"}'), 1);
  assert.equal(value(text, 'l2tpd_session_setup_failures_total{result_code="2"}'), 1);
  assert.equal(value(text, 'l2tpd_session_downs_total{result_code="1"}'), 1);
  assert.equal(value(text, "l2tpd_hello_timeouts_total"), 2);
  const codes = samples(text).filter((l) => l.startsWith("l2tpd_tunnel_setup_failures_total"))
    .map((l) => /result_code="([^"]*)"/.exec(l)?.[1]);
  assert.deepEqual(codes, ["2", "6", "none"], "result codes in numeric order, none last");

  // totals() is a copy; closing stops counting.
  metrics.totals().tunnelDowns["6"] = 99;
  metrics.close();
  metrics.observe(events[2]);
  assert.equal(metrics.totals().tunnelSetups, 4, "observe still counts when called directly");
});

Deno.test("metrics: the collector stops listening when closed", async () => {
  const src = fakeSource(at([]));
  const metrics = new MetricsCollector({ source: src, version: "x" });
  const up: L2tpEvent = {
    type: "tunnel-up",
    time: "",
    tunnel: "t",
    version: 3,
    encap: "ip",
    localTunnelId: 1,
    peerTunnelId: 2,
    peer: { address: "192.0.2.2", port: 0 },
  };
  src.emit(up);
  metrics.close();
  metrics.close();
  src.emit(up);
  assert.equal(metrics.totals().tunnelSetups, 1);
  assert.equal(value(await metrics.scrape(), "l2tpd_tunnel_setups_total"), 1);
});

Deno.test("metrics: retransmissions add up over scrapes and outlive their connections", async () => {
  const src = fakeSource(
    at([initiator(100, 2), responder([1, 0])]),
    at([initiator(100, 5), responder([1, 3])]),
    // The initiator is between dials; the responder's second peer is gone.
    at([initiator(undefined), {
      ...responder([4, 0]),
      peers: responder([4, 0]).peers?.slice(0, 1),
    }]),
    // Redialled: a new connection (new ID) and one that reused the ID with a fresh counter.
    at([initiator(101, 1), responder([4, 0])]),
    at([initiator(101, 0), responder([4, 0])]),
  );
  using metrics = new MetricsCollector({ source: src, version: "x" });
  const seen: number[] = [];
  for (let i = 0; i < 5; i++) {
    seen.push(value(await metrics.scrape(), "l2tpd_control_retransmits_total") ?? NaN);
  }
  // 3; +3 +3 = 9; +3 (peer 40: 1 -> 4) = 12; +1 (lac 101) +0 (peer 41 is new again) = 13;
  // 13 + 0 (lac 101 went back to 0: a reset, its 0 is added).
  assert.deepEqual(seen, [3, 9, 12, 13, 13]);
});

Deno.test("metrics: a responder counts its peers and their calls, not its declarations", () => {
  const text = renderMetrics({
    status: at([responder([0, 0]), initiator(undefined)]),
    totals: emptyTotals(),
    version: "x",
  });
  assert.equal(value(text, "l2tpd_tunnels_up"), 1);
  assert.equal(value(text, "l2tpd_sessions_up"), 1);
  const peer = 'tunnel="lns",local_tunnel_id="40",peer="198.51.100.1"';
  assert.equal(value(text, `l2tpd_tunnel_tx_packets_total{${peer}}`), 43);
  const call =
    'tunnel="lns",session="ppp",local_tunnel_id="40",local_session_id="7",peer="198.51.100.1"';
  assert.equal(value(text, `l2tpd_session_rx_bytes_total{${call}}`), 700);
  assert.equal(samples(text).filter((l) => l.startsWith("l2tpd_session_rx_bytes_total")).length, 1);
  assert.equal(samples(text).filter((l) => l.startsWith("l2tpd_tunnel_rx_bytes_total")).length, 1);
});

Deno.test("metrics: label values are escaped; a repeated series is written once", () => {
  assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  const t: TunnelStatus = {
    ...initiator(1, 0),
    name: 'we"ird\\name\nx',
    kernel: kernel(1),
    sessions: [
      { name: "s", state: "up", pseudowire: "eth", localSessionId: 2, kernel: kernel(2) },
      { name: "s", state: "up", pseudowire: "eth", localSessionId: 2, kernel: kernel(3) },
    ],
  };
  const text = renderMetrics({ status: at([t]), totals: emptyTotals(), version: 'v"1' });
  assert.ok(text.includes('l2tpd_build_info{version="v\\"1"} 1\n'));
  assert.ok(
    text.includes(
      'l2tpd_tunnel_rx_packets_total{tunnel="we\\"ird\\\\name\\nx",local_tunnel_id="1",peer="203.0.113.9"} 1\n',
    ),
    text,
  );
  const rx = samples(text).filter((l) => l.startsWith("l2tpd_session_rx_packets_total"));
  assert.equal(rx.length, 1);
  assert.ok(rx[0].endsWith(" 2"), "the first of two equal series");
  assert.equal(text.split("\n").filter((l) => l.includes("\r")).length, 0);
  // Pure: the same input, the same text.
  assert.equal(renderMetrics({ status: at([t]), totals: emptyTotals(), version: 'v"1' }), text);
});

function promtoolAvailable(): boolean {
  try {
    return new Deno.Command("promtool", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const HAVE_PROMTOOL = promtoolAvailable();

async function promtool(text: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test({
  name: `metrics: promtool check metrics passes on every family, with samples${
    HAVE_PROMTOOL ? "" : " (ignored: promtool not installed; apt-get install -y prometheus)"
  }`,
  ignore: !HAVE_PROMTOOL,
  async fn(): Promise<void> {
    using dp = new NullDataPlane();
    await using ctx = new Context({ dataplane: dp });
    const src = source(ctx);
    using metrics = new MetricsCollector({
      source: {
        readStatus: async () => {
          const s = await src.readStatus();
          return { ...s, tunnels: [...s.tunnels, responder([2, 1]), initiator(100, 3)] };
        },
        onEvent: src.onEvent,
      },
      version: "0.1.0",
    });
    const t = await ctx.newStaticTunnel('odd "name"\\', staticV3(1));
    await t.newSession("s\n1", eth(10));
    const gone = await ctx.newStaticTunnel("gone", staticV3(2));
    await gone.newSession("s20", eth(20));
    await gone.close();
    for (
      const e of [
        {
          type: "tunnel-down",
          time: "",
          tunnel: "d",
          localTunnelId: 5,
          reason: "x",
          resultCode: 2,
          wasUp: false,
        },
        {
          type: "session-down",
          time: "",
          tunnel: "d",
          session: "p",
          localTunnelId: 7,
          localSessionId: 9,
          reason: "CDN",
          resultCode: 2,
        },
        {
          type: "tunnel-down",
          time: "",
          tunnel: "q",
          localTunnelId: 8,
          reason: "the peer stopped answering (x)",
          wasUp: true,
        },
      ] as L2tpEvent[]
    ) metrics.observe(e);
    const text = await metrics.scrape();
    const withSamples = new Set(samples(text).map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)?.[0]));
    assert.equal(withSamples.size, 25, "every family has at least one sample");
    const r = await promtool(text);
    assert.equal(r.output.trim(), "", `promtool says:\n${r.output}`);
    assert.equal(r.code, 0);
    // And it does catch a broken exposition (the check is real).
    const bad = await promtool("# TYPE l2tpd_x counter\nl2tpd_x 1\n");
    assert.notEqual(bad.code, 0);
    assert.match(bad.output, /_total/);
  },
});

Deno.test("metrics server: GET and HEAD /metrics, 404 elsewhere, 405 for other methods", async () => {
  using dp = new NullDataPlane();
  await using ctx = new Context({ dataplane: dp });
  await using server = serveMetrics({
    hostname: "127.0.0.1",
    port: 0,
    source: source(ctx),
    version: "0.1.0",
  });
  await ctx.newStaticTunnel("t1", staticV3(1));
  const base = `http://127.0.0.1:${server.address.port}`;
  const get = await fetch(`${base}/metrics`);
  assert.equal(get.status, 200);
  assert.equal(get.headers.get("content-type"), METRICS_CONTENT_TYPE);
  const text = await get.text();
  assert.equal(value(text, "l2tpd_tunnels_up"), 1);
  assert.equal(value(text, "l2tpd_tunnel_setups_total"), 1, "events counted from the start");

  const head = await fetch(`${base}/metrics`, { method: "HEAD" });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get("content-type"), METRICS_CONTENT_TYPE);
  assert.equal(await head.text(), "");

  const post = await fetch(`${base}/metrics`, { method: "POST", body: "x" });
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET, HEAD");
  await post.body?.cancel();
  for (const path of ["/", "/metrics/", "/metric", "/favicon.ico"]) {
    const res = await fetch(`${base}${path}`);
    assert.equal(res.status, 404, path);
    await res.body?.cancel();
  }
  assert.equal(server.collector.totals().tunnelSetups, 1);
});

Deno.test("metrics server: a failing or hanging source answers 500 and the server goes on", async () => {
  let mode: "fail" | "hang" | "ok" = "fail";
  const src: MetricsSource = {
    readStatus: () =>
      mode === "fail"
        ? Promise.reject(new Error("netlink\nboom"))
        : mode === "hang"
        ? new Promise<ContextStatus>(() => {})
        : Promise.resolve(at([])),
    onEvent: () => () => {},
  };
  await using server = serveMetrics({
    hostname: "127.0.0.1",
    port: 0,
    source: src,
    version: "x",
    timeoutMs: 100,
  });
  const url = `http://127.0.0.1:${server.address.port}/metrics`;
  let res = await fetch(url);
  assert.equal(res.status, 500);
  assert.equal(await res.text(), "Cannot render metrics: Cannot read the status: netlink boom\n");
  mode = "hang";
  res = await fetch(url);
  assert.equal(res.status, 500);
  assert.match(
    await res.text(),
    /^Cannot render metrics: Cannot read the status: no answer in 100 ms\n$/,
  );
  mode = "ok";
  res = await fetch(url);
  assert.equal(res.status, 200);
  assert.equal(value(await res.text(), "l2tpd_tunnels_up"), 0);
});

Deno.test("metrics server: concurrent scrapes share one snapshot read", async () => {
  let reads = 0;
  const src: MetricsSource = {
    readStatus: async () => {
      reads++;
      await new Promise((r) => setTimeout(r, 20));
      return at([initiator(1, 4)]);
    },
    onEvent: () => () => {},
  };
  await using server = serveMetrics({ hostname: "127.0.0.1", port: 0, source: src, version: "x" });
  const url = `http://127.0.0.1:${server.address.port}/metrics`;
  const texts = await Promise.all([1, 2, 3].map(async () => await (await fetch(url)).text()));
  assert.equal(reads, 1);
  for (const t of texts) assert.equal(value(t, "l2tpd_control_retransmits_total"), 4);
});

Deno.test("metrics server: stops on close and on its signal; a busy port is an error", async () => {
  let listening = 0;
  const src: MetricsSource = {
    readStatus: () => Promise.resolve(at([])),
    onEvent: () => {
      listening++;
      return () => listening--;
    },
  };
  const ac = new AbortController();
  const server = serveMetrics({
    hostname: "127.0.0.1",
    port: 0,
    source: src,
    version: "x",
    signal: ac.signal,
  });
  assert.equal(listening, 1);
  assert.throws(
    () =>
      serveMetrics({ hostname: "127.0.0.1", port: server.address.port, source: src, version: "x" }),
    (e: Error) =>
      e.message.startsWith(`Cannot serve metrics on 127.0.0.1:${server.address.port}: `),
  );
  assert.equal(listening, 1, "the failed server's collector stopped listening");
  ac.abort();
  await server.close();
  await server.close();
  assert.equal(listening, 0);
  await assert.rejects(fetch(`http://127.0.0.1:${server.address.port}/metrics`));

  const aborted = new AbortController();
  aborted.abort();
  const never = serveMetrics({
    hostname: "127.0.0.1",
    port: 0,
    source: src,
    version: "x",
    signal: aborted.signal,
  });
  await never.close();
  assert.equal(listening, 0);
});

Deno.test("metrics: parseMetricsAddress", () => {
  assert.deepEqual(parseMetricsAddress("127.0.0.1:9101"), { hostname: "127.0.0.1", port: 9101 });
  assert.deepEqual(parseMetricsAddress("localhost:80"), { hostname: "localhost", port: 80 });
  assert.deepEqual(parseMetricsAddress("[::1]:9101"), { hostname: "::1", port: 9101 });
  assert.deepEqual(parseMetricsAddress(":9101"), { hostname: "0.0.0.0", port: 9101 });
  for (
    const bad of ["9101", "::1:9101", "[]:1", "host:0", "host:65536", "host:", "host:x", "[::1]"]
  ) {
    assert.throws(
      () => parseMetricsAddress(bad),
      (e: Error) => e.message.startsWith(`Cannot parse the metrics address "${bad}": `),
      bad,
    );
  }
});
