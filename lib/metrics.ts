/**
 * Prometheus metrics: a context's tunnels, sessions and events in the text exposition format
 * (version 0.0.4), served at `/metrics` by {@linkcode serveMetrics}.
 *
 * | metric | type | labels |
 * | --- | --- | --- |
 * | `l2tpd_build_info` | gauge (always 1) | `version` |
 * | `l2tpd_tunnels_up`, `l2tpd_sessions_up` | gauge | |
 * | `l2tpd_tunnel_{rx,tx}_{packets,bytes,errors}_total`, `l2tpd_tunnel_rx_discards_total` | counter | `tunnel`, `local_tunnel_id`, `peer` |
 * | `l2tpd_session_{rx,tx}_{packets,bytes,errors}_total`, `l2tpd_session_rx_discards_total` | counter | `tunnel`, `session`, `local_tunnel_id`, `local_session_id`, `peer` |
 * | `l2tpd_tunnel_setups_total`, `l2tpd_session_setups_total` | counter | |
 * | `l2tpd_tunnel_setup_failures_total`, `l2tpd_session_setup_failures_total` | counter | `result_code` |
 * | `l2tpd_tunnel_downs_total`, `l2tpd_session_downs_total` | counter | `result_code` |
 * | `l2tpd_hello_timeouts_total` | counter | |
 * | `l2tpd_control_retransmits_total` | counter | |
 *
 * The kernel counters are those of the live tunnels and sessions (a responder's: of each
 * accepted peer and its calls); `peer` is the peer's address. The event counters
 * ({@linkcode MetricsCollector.observe}) count from the collector's start: a setup is an up
 * event, a setup failure a down event of a tunnel or session that never came up, a down the end
 * of one that had; `result_code` is the StopCCN or CDN Result Code, or `none`. A HELLO timeout
 * is a tunnel that was up going down because its peer stopped answering. Retransmissions are
 * summed over every control connection seen, including those that have gone away since.
 *
 * @example Render a context's metrics
 * ```ts
 * import { MetricsCollector } from "./metrics.ts";
 * import { Context } from "./context.ts";
 * import { NullDataPlane } from "../dataplane/null.ts";
 * await using ctx = new Context({ dataplane: new NullDataPlane() });
 * using metrics = new MetricsCollector({ source: ctx, version: "0.1.0" });
 * await ctx.newStaticTunnel("t1", {
 *   mode: "static", version: 3, encap: "ip", managed: false,
 *   local: { address: "192.0.2.1", port: 0 }, peer: { address: "192.0.2.2", port: 0 },
 *   tid: 1, ptid: 2,
 * });
 * const text = await metrics.scrape();
 * console.log(text.split("\n").filter((l) => l.startsWith("l2tpd_tunnel")));
 * // [ "l2tpd_tunnels_up 1", 'l2tpd_tunnel_rx_packets_total{tunnel="t1",local_tunnel_id="1",peer="192.0.2.2"} 0', ... ]
 * ```
 *
 * @module
 */

import type { L2tpEvent } from "./events.ts";
import type {
  ConnectionStatus,
  ContextStatus,
  KernelCounters,
  SessionStatus,
  TunnelStatus,
} from "./tunnel.ts";

/**
 * What metrics are read from: a `Context`, or anything shaped like one (tests).
 *
 * @example Usage
 * ```ts
 * import type { MetricsSource } from "./metrics.ts";
 * const source: MetricsSource = {
 *   readStatus: () => Promise.resolve({ time: new Date(0).toISOString(), tunnels: [] }),
 *   onEvent: () => () => {},
 * };
 * console.log((await source.readStatus()).tunnels.length); // 0
 * ```
 */
export interface MetricsSource {
  /** A snapshot with the kernel counters of tunnels and sessions (`kernel`), where known. */
  readStatus(): Promise<ContextStatus>;
  /**
   * Call `listener` synchronously for every event.
   *
   * @param listener The function.
   * @returns A function that removes it.
   */
  onEvent(listener: (event: L2tpEvent) => void): () => void;
}

/**
 * The counters a {@linkcode MetricsCollector} keeps over its life: plain data. The maps are by
 * Result Code (`"none"` for a down event without one).
 *
 * @example Usage
 * ```ts
 * import { emptyTotals } from "./metrics.ts";
 * const totals = emptyTotals();
 * totals.tunnelDowns["6"] = 1;
 * console.log(totals.tunnelSetups, totals.tunnelDowns); // 0 { "6": 1 }
 * ```
 */
export interface MetricsTotals {
  /** Tunnels that came up. */
  tunnelSetups: number;
  /** Tunnels that went down without having come up, by Result Code. */
  tunnelSetupFailures: Record<string, number>;
  /** Tunnels that went down after having come up, by Result Code. */
  tunnelDowns: Record<string, number>;
  /** Sessions that came up. */
  sessionSetups: number;
  /** Sessions that went down without having come up, by Result Code. */
  sessionSetupFailures: Record<string, number>;
  /** Sessions that went down after having come up, by Result Code. */
  sessionDowns: Record<string, number>;
  /** Tunnels that were up and went down because the peer stopped answering. */
  helloTimeouts: number;
  /** Control-message retransmissions over every control connection seen. */
  controlRetransmits: number;
}

/**
 * Totals with every counter at zero.
 *
 * @example Usage
 * ```ts
 * import { emptyTotals } from "./metrics.ts";
 * console.log(emptyTotals().controlRetransmits); // 0
 * ```
 *
 * @returns Fresh totals.
 */
export function emptyTotals(): MetricsTotals {
  return {
    tunnelSetups: 0,
    tunnelSetupFailures: {},
    tunnelDowns: {},
    sessionSetups: 0,
    sessionSetupFailures: {},
    sessionDowns: {},
    helloTimeouts: 0,
    controlRetransmits: 0,
  };
}

/**
 * What {@linkcode renderMetrics} renders.
 *
 * @example Usage
 * ```ts
 * import { emptyTotals, type MetricsInput } from "./metrics.ts";
 * const input: MetricsInput = {
 *   status: { time: new Date(0).toISOString(), tunnels: [] }, totals: emptyTotals(),
 *   version: "0.1.0",
 * };
 * console.log(input.version); // 0.1.0
 * ```
 */
export interface MetricsInput {
  /** The snapshot: gauges and kernel counters. */
  status: ContextStatus;
  /** The counters kept over time. */
  totals: MetricsTotals;
  /** The daemon's version (`l2tpd_build_info`). */
  version: string;
}

/** The content type of the text exposition format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Labels = ReadonlyArray<readonly [string, string | number | undefined]>;

interface Family {
  name: string;
  type: "counter" | "gauge";
  help: string;
  samples: { labels: Labels; value: number }[];
}

const KERNEL: ReadonlyArray<readonly [keyof KernelCounters, string, string]> = [
  ["rxPackets", "rx_packets_total", "Packets received"],
  ["rxBytes", "rx_bytes_total", "Bytes received"],
  ["rxErrors", "rx_errors_total", "Receive errors"],
  ["rxDiscards", "rx_discards_total", "Received packets discarded (sequence, cookie, invalid)"],
  ["txPackets", "tx_packets_total", "Packets sent"],
  ["txBytes", "tx_bytes_total", "Bytes sent"],
  ["txErrors", "tx_errors_total", "Send errors"],
];

/** One live control connection (or static tunnel) of a snapshot, with its tunnel. */
interface Live {
  tunnel: TunnelStatus;
  conn: ConnectionStatus | TunnelStatus;
  /** Key for per-connection state: the tunnel's name and our tunnel ID. */
  key: string;
}

/** Every live connection: a responder's peers, every other tunnel itself. */
function liveConnections(status: ContextStatus): Live[] {
  const out: Live[] = [];
  for (const t of status.tunnels) {
    const conns: (ConnectionStatus | TunnelStatus)[] = t.peers ?? [t];
    for (const c of conns) {
      out.push({ tunnel: t, conn: c, key: `${t.name}\u0000${c.localTunnelId ?? ""}` });
    }
  }
  return out;
}

/**
 * The Prometheus text exposition of a snapshot and the counters kept over time (pure: the same
 * input gives the same text). See the module documentation for the metrics.
 *
 * @example Usage
 * ```ts
 * import { emptyTotals, renderMetrics } from "./metrics.ts";
 * const text = renderMetrics({
 *   status: { time: new Date(0).toISOString(), tunnels: [] }, totals: emptyTotals(),
 *   version: "0.1.0",
 * });
 * console.log(text.split("\n").slice(0, 3));
 * // [ "# HELP l2tpd_build_info ...", "# TYPE l2tpd_build_info gauge", 'l2tpd_build_info{version="0.1.0"} 1' ]
 * ```
 *
 * @param input The snapshot, the totals and the version.
 * @returns The exposition, ending in a newline.
 */
export function renderMetrics(input: MetricsInput): string {
  const { status, totals, version } = input;
  const live = liveConnections(status);
  const families: Family[] = [];
  const family = (name: string, type: Family["type"], help: string): Family => {
    const f: Family = { name, type, help, samples: [] };
    families.push(f);
    return f;
  };
  family("l2tpd_build_info", "gauge", "The l2tpd version; the value is always 1.").samples
    .push({ labels: [["version", version]], value: 1 });

  let tunnelsUp = 0;
  let sessionsUp = 0;
  for (const { conn } of live) {
    if (conn.state === "up") tunnelsUp++;
    sessionsUp += conn.sessions.filter((s) => s.state === "up").length;
  }
  family("l2tpd_tunnels_up", "gauge", "Tunnels up (a responder's: its accepted peers).")
    .samples.push({ labels: [], value: tunnelsUp });
  family("l2tpd_sessions_up", "gauge", "Sessions up.").samples.push({
    labels: [],
    value: sessionsUp,
  });

  const tunnelLabels = (l: Live): Labels => [
    ["tunnel", l.tunnel.name],
    ["local_tunnel_id", l.conn.localTunnelId],
    ["peer", l.conn.peer?.address],
  ];
  const sessionLabels = (l: Live, s: SessionStatus): Labels => [
    ["tunnel", l.tunnel.name],
    ["session", s.name],
    ["local_tunnel_id", l.conn.localTunnelId],
    ["local_session_id", s.localSessionId],
    ["peer", l.conn.peer?.address],
    // A pppac session's PPPoE side (absent labels are left out).
    ["pppoe_session_id", s.pppoeSessionId],
    ["pppoe_peer_mac", s.pppoePeerMac],
  ];
  for (const [field, suffix, help] of KERNEL) {
    const f = family(`l2tpd_tunnel_${suffix}`, "counter", `${help} by the kernel tunnel.`);
    for (const l of live) {
      if (l.conn.kernel) f.samples.push({ labels: tunnelLabels(l), value: l.conn.kernel[field] });
    }
  }
  for (const [field, suffix, help] of KERNEL) {
    const f = family(`l2tpd_session_${suffix}`, "counter", `${help} by the kernel session.`);
    for (const l of live) {
      for (const s of l.conn.sessions) {
        if (s.kernel) f.samples.push({ labels: sessionLabels(l, s), value: s.kernel[field] });
      }
    }
  }

  const byCode = (name: string, help: string, counts: Record<string, number>): void => {
    const f = family(name, "counter", help);
    const codes = Object.keys(counts).sort((a, b) =>
      (Number(a) || Infinity) - (Number(b) || Infinity) || a.localeCompare(b)
    );
    for (const code of codes) {
      f.samples.push({ labels: [["result_code", code]], value: counts[code] });
    }
  };
  family("l2tpd_tunnel_setups_total", "counter", "Tunnels that came up.").samples.push({
    labels: [],
    value: totals.tunnelSetups,
  });
  byCode(
    "l2tpd_tunnel_setup_failures_total",
    "Tunnels that went down without having come up, by StopCCN Result Code.",
    totals.tunnelSetupFailures,
  );
  byCode(
    "l2tpd_tunnel_downs_total",
    "Tunnels that went down after having come up, by StopCCN Result Code.",
    totals.tunnelDowns,
  );
  family("l2tpd_session_setups_total", "counter", "Sessions that came up.").samples.push({
    labels: [],
    value: totals.sessionSetups,
  });
  byCode(
    "l2tpd_session_setup_failures_total",
    "Sessions that went down without having come up, by CDN Result Code.",
    totals.sessionSetupFailures,
  );
  byCode(
    "l2tpd_session_downs_total",
    "Sessions that went down after having come up, by CDN Result Code.",
    totals.sessionDowns,
  );
  family(
    "l2tpd_hello_timeouts_total",
    "counter",
    "Tunnels that were up and went down because the peer stopped answering.",
  ).samples.push({ labels: [], value: totals.helloTimeouts });
  family(
    "l2tpd_control_retransmits_total",
    "counter",
    "Control-message retransmissions, over every control connection since the start.",
  ).samples.push({ labels: [], value: totals.controlRetransmits });

  return families.map(renderFamily).join("");
}

function renderFamily(f: Family): string {
  let out = `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
  const seen = new Set<string>();
  for (const s of f.samples) {
    const labels = s.labels
      .filter(([, v]) => v !== undefined && v !== "")
      .map(([k, v]) => `${k}="${escapeLabelValue(String(v))}"`)
      .join(",");
    // A series may appear once per exposition; a snapshot that repeats one keeps the first.
    if (seen.has(labels)) continue;
    seen.add(labels);
    out += `${f.name}${labels ? `{${labels}}` : ""} ${formatValue(s.value)}\n`;
  }
  return out;
}

/**
 * A label value escaped for the text exposition format: backslash, double quote and line feed.
 *
 * @example Usage
 * ```ts
 * import { escapeLabelValue } from "./metrics.ts";
 * console.log(escapeLabelValue('a"b\\c\nd')); // a\"b\\c\nd
 * ```
 *
 * @param value The raw value.
 * @returns The value to put between the double quotes.
 */
export function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/** Whether a tunnel-down's reason says the peer went silent (dynamic or quiescent tunnels). */
function peerWentSilent(reason: string): boolean {
  return reason.startsWith("peer silent") || reason.startsWith("the peer stopped answering");
}

function codeLabel(resultCode: number | undefined): string {
  return resultCode === undefined ? "none" : String(resultCode);
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/**
 * Options of {@linkcode MetricsCollector}.
 *
 * @example Usage
 * ```ts
 * import type { MetricsCollectorOptions } from "./metrics.ts";
 * const options: MetricsCollectorOptions = {
 *   source: {
 *     readStatus: () => Promise.resolve({ time: "", tunnels: [] }), onEvent: () => () => {},
 *   },
 *   version: "0.1.0",
 * };
 * console.log(options.timeoutMs); // undefined
 * ```
 */
export interface MetricsCollectorOptions {
  /** Where the snapshots and events come from. */
  source: MetricsSource;
  /** The daemon's version (`l2tpd_build_info`). */
  version: string;
  /** Most time a scrape waits for the snapshot (default 5000 ms). */
  timeoutMs?: number;
}

/**
 * Keeps the counters that outlive snapshots — setups, failures and downs from the source's
 * events, HELLO timeouts, retransmissions — and renders them with a fresh snapshot. It listens
 * from construction until {@linkcode MetricsCollector.close}.
 *
 * @example Usage
 * ```ts
 * import { MetricsCollector } from "./metrics.ts";
 * using metrics = new MetricsCollector({
 *   source: {
 *     readStatus: () => Promise.resolve({ time: "", tunnels: [] }), onEvent: () => () => {},
 *   },
 *   version: "0.1.0",
 * });
 * metrics.observe({
 *   type: "tunnel-down", time: "", tunnel: "t1", localTunnelId: 0, reason: "refused",
 *   resultCode: 2, wasUp: false,
 * });
 * console.log(metrics.totals().tunnelSetupFailures); // { "2": 1 }
 * ```
 */
export class MetricsCollector implements Disposable {
  readonly #source: MetricsSource;
  readonly #version: string;
  readonly #timeoutMs: number;
  readonly #totals = emptyTotals();
  /** Retransmissions last seen per live control connection. */
  #retransmits = new Map<string, number>();
  /** Tunnels (name, local ID) and sessions (name, local tunnel ID, local session ID) up. */
  readonly #tunnelsUp = new Set<string>();
  readonly #sessionsUp = new Set<string>();
  #reading?: Promise<ContextStatus>;
  #unlisten?: () => void;

  /**
   * A collector listening to `options.source`'s events.
   *
   * @param options The source, the version and the scrape timeout.
   */
  constructor(options: MetricsCollectorOptions) {
    this.#source = options.source;
    this.#version = options.version;
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#unlisten = options.source.onEvent((e) => this.observe(e));
  }

  /**
   * Count an event (the source's listener calls this; tests may too). Never throws.
   *
   * @param e The event.
   */
  observe(e: L2tpEvent): void {
    const t = this.#totals;
    switch (e.type) {
      case "tunnel-up":
        t.tunnelSetups++;
        this.#tunnelsUp.add(`${e.tunnel}\u0000${e.localTunnelId}`);
        break;
      case "tunnel-down": {
        const key = `${e.tunnel}\u0000${e.localTunnelId}`;
        const wasUp = e.wasUp ?? this.#tunnelsUp.has(key);
        this.#tunnelsUp.delete(key);
        bump(wasUp ? t.tunnelDowns : t.tunnelSetupFailures, codeLabel(e.resultCode));
        if (wasUp && peerWentSilent(e.reason)) t.helloTimeouts++;
        break;
      }
      case "session-up":
        t.sessionSetups++;
        this.#sessionsUp.add(`${e.tunnel}\u0000${e.localTunnelId}\u0000${e.localSessionId}`);
        break;
      case "session-down": {
        const key = `${e.tunnel}\u0000${e.localTunnelId}\u0000${e.localSessionId}`;
        const wasUp = this.#sessionsUp.delete(key);
        bump(wasUp ? t.sessionDowns : t.sessionSetupFailures, codeLabel(e.resultCode));
        break;
      }
    }
  }

  /**
   * Add the retransmissions a snapshot shows since the previous one: per control connection, the
   * growth of its counter (all of it for a connection not seen before, or one whose counter went
   * back). A connection that is gone keeps what it added.
   *
   * @param status The snapshot.
   */
  observeStatus(status: ContextStatus): void {
    const next = new Map<string, number>();
    for (const { conn, key } of liveConnections(status)) {
      const now = conn.counters?.retransmits;
      if (now === undefined || !Number.isFinite(now)) continue;
      const before = this.#retransmits.get(key) ?? 0;
      this.#totals.controlRetransmits += now >= before ? now - before : now;
      next.set(key, now);
    }
    this.#retransmits = next;
  }

  /**
   * A copy of the counters kept so far.
   *
   * @returns The totals.
   */
  totals(): MetricsTotals {
    return structuredClone(this.#totals);
  }

  /**
   * Read a snapshot (scrapes at the same moment share one), account its retransmissions and
   * render everything.
   *
   * @returns The exposition.
   * @throws {Error} "Cannot read the status: ..." when the source fails or takes longer than the
   *   timeout.
   */
  async scrape(): Promise<string> {
    const status = await this.#read();
    this.observeStatus(status);
    return renderMetrics({ status, totals: this.#totals, version: this.#version });
  }

  #read(): Promise<ContextStatus> {
    this.#reading ??= (async () => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`Cannot read the status: no answer in ${this.#timeoutMs} ms`)),
            this.#timeoutMs,
          );
        });
        return await Promise.race([
          this.#source.readStatus().catch((error: unknown) => {
            throw new Error(`Cannot read the status: ${errorText(error)}`);
          }),
          timeout,
        ]);
      } finally {
        clearTimeout(timer);
        this.#reading = undefined;
      }
    })();
    return this.#reading;
  }

  /** Stop listening to the source's events. Idempotent. */
  close(): void {
    this.#unlisten?.();
    this.#unlisten = undefined;
  }

  /** {@linkcode MetricsCollector.close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Options of {@linkcode serveMetrics}.
 *
 * @example Usage
 * ```ts
 * import type { ServeMetricsOptions } from "./metrics.ts";
 * const options: ServeMetricsOptions = {
 *   hostname: "127.0.0.1", port: 9101, version: "0.1.0",
 *   source: {
 *     readStatus: () => Promise.resolve({ time: "", tunnels: [] }), onEvent: () => () => {},
 *   },
 * };
 * console.log(options.port); // 9101
 * ```
 */
export interface ServeMetricsOptions {
  /** Address to listen on, e.g. `127.0.0.1`, `::` or `0.0.0.0`. */
  hostname: string;
  /** TCP port (0: any free one; read it in `address`). */
  port: number;
  /** Where the snapshots and events come from (a `Context`). */
  source: MetricsSource;
  /** The daemon's version (`l2tpd_build_info`). */
  version: string;
  /** Stops the server when aborted (as `close()`). */
  signal?: AbortSignal;
  /** Most time a scrape waits for the snapshot (default 5000 ms). */
  timeoutMs?: number;
}

/**
 * A running metrics endpoint.
 *
 * @example Usage
 * ```ts
 * import { serveMetrics } from "./metrics.ts";
 * const server = serveMetrics({
 *   hostname: "127.0.0.1", port: 0, version: "0.1.0",
 *   source: {
 *     readStatus: () => Promise.resolve({ time: "", tunnels: [] }), onEvent: () => () => {},
 *   },
 * });
 * console.log(server.address.port > 0); // true
 * await server.close();
 * ```
 */
export interface MetricsServer extends AsyncDisposable {
  /** Where it listens (the port chosen when 0 was asked for). */
  readonly address: Deno.NetAddr;
  /** The collector behind it (its counters count from the server's start). */
  readonly collector: MetricsCollector;
  /** Stop listening and stop counting events; resolves once the server is down. Idempotent. */
  close(): Promise<void>;
}

/**
 * Serve a source's metrics over HTTP: `GET` or `HEAD /metrics` answers the text exposition
 * (`HEAD` without a body), other methods 405, other paths 404. A scrape never throws into the
 * caller: when the snapshot cannot be read the answer is a 500 with a one-line reason. The
 * event counters count from this call on, so call it before the first tunnel is made.
 *
 * @example Serve, scrape, stop
 * ```ts
 * import { serveMetrics } from "./metrics.ts";
 * import { Context } from "./context.ts";
 * import { NullDataPlane } from "../dataplane/null.ts";
 * await using ctx = new Context({ dataplane: new NullDataPlane() });
 * await using server = serveMetrics({ hostname: "127.0.0.1", port: 0, source: ctx, version: "0.1.0" });
 * const res = await fetch(`http://127.0.0.1:${server.address.port}/metrics`);
 * const text = await res.text();
 * console.log(res.status, text.includes("l2tpd_tunnels_up 0")); // 200 true
 * ```
 *
 * @param options Where to listen, the source, the version, an abort signal.
 * @returns The server, listening.
 * @throws {Error} "Cannot serve metrics on ADDR:PORT: ..." when it cannot listen.
 */
export function serveMetrics(options: ServeMetricsOptions): MetricsServer {
  const collector = new MetricsCollector(options);
  const abort = new AbortController();
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: options.hostname,
      port: options.port,
      signal: abort.signal,
      onListen: () => {},
      onError: (error) => textResponse(500, `Cannot render metrics: ${errorText(error)}`),
    }, (request) => handle(collector, request));
  } catch (error) {
    collector.close();
    const where = options.hostname.includes(":")
      ? `[${options.hostname}]:${options.port}`
      : `${options.hostname}:${options.port}`;
    throw new Error(`Cannot serve metrics on ${where}: ${errorText(error)}`);
  }
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      collector.close();
      abort.abort();
      await server.finished;
    })();
    return closing;
  };
  if (options.signal?.aborted) void close();
  else options.signal?.addEventListener("abort", () => void close(), { once: true });
  return {
    address: server.addr,
    collector,
    close,
    [Symbol.asyncDispose]: close,
  };
}

async function handle(collector: MetricsCollector, request: Request): Promise<Response> {
  try {
    const path = new URL(request.url).pathname;
    if (path !== "/metrics") return textResponse(404, "Not found: metrics are at /metrics");
    if (request.method !== "GET" && request.method !== "HEAD") {
      const res = textResponse(405, "Method not allowed: use GET or HEAD");
      res.headers.set("allow", "GET, HEAD");
      return res;
    }
    const body = await collector.scrape();
    return new Response(request.method === "HEAD" ? null : body, {
      headers: { "content-type": METRICS_CONTENT_TYPE },
    });
  } catch (error) {
    return textResponse(500, `Cannot render metrics: ${errorText(error)}`);
  }
}

function textResponse(status: number, text: string): Response {
  return new Response(`${text.replaceAll("\n", " ")}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/**
 * Parse a `--metrics` address: `HOST:PORT`, `[IPv6]:PORT` or `:PORT` (every IPv4 address, `0.0.0.0`).
 *
 * @example Usage
 * ```ts
 * import { parseMetricsAddress } from "./metrics.ts";
 * console.log(parseMetricsAddress("127.0.0.1:9101")); // { hostname: "127.0.0.1", port: 9101 }
 * console.log(parseMetricsAddress("[::1]:9101")); // { hostname: "::1", port: 9101 }
 * ```
 *
 * @param text The address.
 * @returns The host name and port.
 * @throws {Error} "Cannot parse the metrics address ...: ..." when it is not one.
 */
export function parseMetricsAddress(text: string): { hostname: string; port: number } {
  const fail = (why: string): never => {
    throw new Error(`Cannot parse the metrics address "${text}": ${why}`);
  };
  const m = /^(?:\[([^\]]*)\]|([^:\[\]]*)):(\d+)$/.exec(text);
  if (!m) return fail("expected HOST:PORT or [IPv6]:PORT");
  const port = Number(m[3]);
  if (port < 1 || port > 65535) fail("the port must be 1 to 65535");
  const hostname = m[1] ?? m[2];
  if (m[1] !== undefined && hostname === "") fail("empty IPv6 address");
  return { hostname: hostname === "" ? "0.0.0.0" : hostname, port };
}
