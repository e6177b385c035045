/**
 * A real Prometheus server scrapes {@linkcode serveMetrics}: a context on the null data plane
 * (static tunnels, fake kernel counters) is served on a free port, `prometheus` runs as a child
 * with a temporary configuration (one static target, `scrape_interval: 1s`) and storage, and the
 * test waits until its HTTP API answers the expected values — the target `up`, the gauges, a
 * session's kernel counter — then changes the context and waits for Prometheus to see it.
 *
 * Ignored, with the reason in its name, when `prometheus` is not installed (Debian:
 * `apt-get install -y prometheus`).
 */

import assert from "node:assert/strict";
import type { KernelCounters } from "../../lib/tunnel.ts";
import { NullDataPlane } from "../../dataplane/null.ts";
import { Context } from "../../lib/context.ts";
import { type MetricsSource, serveMetrics } from "../../lib/metrics.ts";

function prometheusAvailable(): boolean {
  try {
    return new Deno.Command("prometheus", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const HAVE_PROMETHEUS = prometheusAvailable();

/** Everything must be seen within this; Prometheus starts in about a second. */
const DEADLINE_MS = 20_000;

const kernel = (n: number): KernelCounters => ({
  rxPackets: n,
  rxBytes: n * 100,
  rxErrors: 0,
  rxDiscards: 0,
  txPackets: n,
  txBytes: n * 100,
  txErrors: 0,
});

function source(ctx: Context): MetricsSource {
  return {
    readStatus: async () => {
      const status = await ctx.readStatus();
      for (const t of status.tunnels) {
        t.kernel = kernel(t.localTunnelId ?? 0);
        for (const s of t.sessions) s.kernel = kernel(s.localSessionId ?? 0);
      }
      return status;
    },
    onEvent: (l) => ctx.onEvent(l),
  };
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

interface QueryResult {
  status: string;
  data?: {
    resultType: string;
    result: { metric: Record<string, string>; value: [number, string] }[];
  };
}

/** The values of an instant query, or undefined while Prometheus is not answering. */
async function query(api: string, promql: string): Promise<string[] | undefined> {
  try {
    const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`);
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    const body = await res.json() as QueryResult;
    return body.status === "success" ? body.data?.result.map((r) => r.value[1]) : undefined;
  } catch {
    return undefined;
  }
}

Deno.test({
  name: `prometheus scrapes /metrics and sees the tunnels${
    HAVE_PROMETHEUS ? "" : " (ignored: prometheus not installed; apt-get install -y prometheus)"
  }`,
  ignore: !HAVE_PROMETHEUS,
  async fn(): Promise<void> {
    const start = Date.now();
    using dp = new NullDataPlane();
    await using ctx = new Context({ dataplane: dp });
    await using server = serveMetrics({
      hostname: "127.0.0.1",
      port: 0,
      source: source(ctx),
      version: "9.9.9-test",
    });
    const t1 = await ctx.newStaticTunnel("t1", {
      mode: "static",
      version: 3,
      encap: "ip",
      managed: false,
      local: { address: "192.0.2.1", port: 0 },
      peer: { address: "192.0.2.2", port: 0 },
      tid: 1,
      ptid: 2,
    });
    await t1.newSession("s10", {
      sid: 10,
      psid: 20,
      pseudowire: "eth",
      sendSeqnum: false,
      recvSeqnum: false,
      l2specType: "default",
    });
    await ctx.newStaticTunnel("t2", {
      mode: "static",
      version: 3,
      encap: "udp",
      managed: false,
      local: { address: "192.0.2.1", port: 1701 },
      peer: { address: "192.0.2.3", port: 1701 },
      tid: 3,
      ptid: 4,
    });

    const dir = await Deno.makeTempDir({ prefix: "l2tpd-prometheus-" });
    const target = `127.0.0.1:${server.address.port}`;
    await Deno.writeTextFile(
      `${dir}/prometheus.yml`,
      [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "  evaluation_interval: 1s",
        "scrape_configs:",
        "  - job_name: l2tpd",
        "    static_configs:",
        `      - targets: ["${target}"]`,
        "",
      ].join("\n"),
    );
    const webPort = freePort();
    const api = `http://127.0.0.1:${webPort}`;
    const child = new Deno.Command("prometheus", {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/data`,
        `--web.listen-address=127.0.0.1:${webPort}`,
        "--log.level=warn",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Drain its output (kept to explain a failure).
    const output = Promise.all([child.stdout, child.stderr].map((s) => new Response(s).text()));
    let exited = false;
    const status = child.status.then((s) => {
      exited = true;
      return s;
    });

    /** Poll until `promql` answers exactly `expected` (one series each), or fail. */
    const waitFor = async (promql: string, expected: string[]): Promise<void> => {
      let last: string[] | undefined;
      while (Date.now() - start < DEADLINE_MS) {
        if (exited) throw new Error(`prometheus exited: ${(await status).code}`);
        last = await query(api, promql);
        if (last !== undefined && JSON.stringify(last) === JSON.stringify(expected)) return;
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(
        `${promql}: expected ${JSON.stringify(expected)}, last ${JSON.stringify(last)}`,
      );
    };

    try {
      await waitFor(`up{job="l2tpd",instance="${target}"}`, ["1"]);
      await waitFor("l2tpd_tunnels_up", ["2"]);
      await waitFor("l2tpd_sessions_up", ["1"]);
      await waitFor('l2tpd_build_info{version="9.9.9-test"}', ["1"]);
      await waitFor(
        'l2tpd_session_rx_bytes_total{tunnel="t1",session="s10",local_session_id="10",peer="192.0.2.2"}',
        ["1000"],
      );
      await waitFor('l2tpd_tunnel_tx_packets_total{tunnel="t2",local_tunnel_id="3"}', ["3"]);
      await waitFor("l2tpd_tunnel_setups_total", ["2"]);
      // A change in the context shows at the next scrape.
      await t1.close();
      await waitFor("l2tpd_tunnels_up", ["1"]);
      await waitFor('l2tpd_tunnel_downs_total{result_code="none"}', ["1"]);
      await waitFor("l2tpd_sessions_up", ["0"]);
      // No scrape failed on the way (a 500 or a parse error would have made `up` 0).
      await waitFor(`min_over_time(up{job="l2tpd"}[1m])`, ["1"]);
    } catch (error) {
      child.kill("SIGKILL");
      await status;
      const [stdout, stderr] = await output;
      throw new Error(`${(error as Error).message}\nprometheus said:\n${stdout}${stderr}`);
    } finally {
      if (!exited) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => exited || child.kill("SIGKILL"), 5000);
        await status;
        clearTimeout(timer);
      }
      await output;
      await Deno.remove(dir, { recursive: true });
    }
    assert.ok(Date.now() - start < DEADLINE_MS + 6000);
  },
});
