/**
 * The daemon: owns the tunnels and sessions a configuration describes.
 *
 * {@linkcode Daemon.start} brings every tunnel and session up in configuration order; if any step
 * fails it rolls back everything it created (sessions, tunnels, sockets) and rejects with the
 * error. {@linkcode Daemon.stop} tears everything down in reverse order. {@linkcode runDaemon}
 * does both around an `AbortSignal`.
 *
 * @module
 */

import { type Config, type SessionEntry, type TunnelEntry, tunnelEntry } from "./config.ts";
import {
  type DataPlane,
  type Endpoint,
  type SessionInfo,
  type SessionSpec,
  type TunnelSpec,
} from "../dataplane/dataplane.ts";
import { openTunnelSocket, TunnelSocket } from "../dataplane/socket.ts";
import { Reactor } from "../dataplane/reactor.ts";
import { type QuiescentSocket, QuiescentTunnel } from "../control/quiescent.ts";
import type { Clock } from "../control/clock.ts";
import type { TransportEnd } from "../control/transport.ts";
import { DynamicTunnels } from "./dynamic.ts";
import { kernelSessionSpec, type LiveSession, sessionUp } from "./sessions.ts";
import { resolveHost } from "../dataplane/ffi/resolve.ts";
import { formatEndpoint, ipFamily } from "../dataplane/ffi/sockaddr.ts";
import { getLog, type Log } from "./log.ts";

/** A socket handed to the kernel for a managed tunnel: the daemon keeps it open while it lives. */
export interface TunnelSocketHandle {
  /** The socket's file descriptor. */
  readonly fd: number;
  /** Close the socket (idempotent). */
  close(): void;
}

/** Opens the socket of a managed tunnel: bound to `local`, connected to `peer`. */
export type TunnelSocketOpener = (options: {
  encap: "udp" | "ip";
  local: Endpoint;
  peer: Endpoint;
  connId: number;
  peerConnId: number;
}) => TunnelSocketHandle;

/** What {@linkcode Daemon} needs. */
export interface DaemonOptions {
  /** The validated configuration. */
  config: Config;
  /** Where tunnels and sessions are programmed. */
  dataPlane: DataPlane;
  /** Opens managed tunnel sockets; defaults to real FFI sockets. */
  openSocket?: TunnelSocketOpener;
  /** Logger; defaults to the "l2tpd.daemon" category. */
  logger?: Log;
  /** Resolves host names in `local`/`peer`; defaults to libc getaddrinfo. */
  resolve?: (name: string, family?: 4 | 6) => Promise<string[]>;
  /**
   * Reads and writes control messages on a managed tunnel's socket (quiescent tunnels); defaults
   * to registering the socket with the daemon's epoll reactor.
   */
  attach?: (socket: TunnelSocketHandle) => ControlChannel;
  /** Clock for the control protocol's timers (tests inject a fake one). */
  clock?: Clock;
  /** Start pppd for PPP sessions (default true; false with the null data plane). */
  pppd?: boolean;
}

/** Control-message I/O on a tunnel socket, closed with the tunnel. */
export interface ControlChannel extends QuiescentSocket {
  /** Stop reading and close the socket. */
  close(): void;
}

/** A tunnel the daemon brought up. */
interface LiveTunnel {
  config: TunnelEntry;
  tunnelId: number;
  socket?: TunnelSocketHandle;
  channel?: ControlChannel;
  quiescent?: QuiescentTunnel;
  sessions: LiveSession[];
}

/**
 * Brings a configuration's tunnels up and down, all or nothing.
 *
 * Static tunnels are programmed directly: a managed tunnel gets our own socket (bound and
 * connected) whose fd goes to the kernel; an unmanaged L2TPv3 tunnel lets the kernel open its
 * own socket from the configured addresses. A quiescent tunnel is a managed static tunnel that
 * also runs HELLO keep-alives over its socket ({@linkcode QuiescentTunnel}); when the peer stops
 * answering, that tunnel and its sessions are taken down and the daemon carries on. Dynamic
 * tunnels run the full control protocol ({@linkcode DynamicTunnels}), started once every static
 * tunnel is up.
 *
 * @example Usage
 * ```ts
 * import { Daemon } from "./daemon.ts";
 * import { NullDataPlane } from "../dataplane/null.ts";
 * import assert from "node:assert/strict";
 *
 * using dp = new NullDataPlane();
 * const daemon = new Daemon({
 *   dataPlane: dp,
 *   config: { file: "example.toml", tunnels: [{
 *     name: "t1", mode: "static", version: 3, encap: "ip", managed: false,
 *     local: { address: "192.0.2.1", port: 0 }, peer: { address: "192.0.2.2", port: 0 },
 *     tid: 1, ptid: 2,
 *     sessions: [{ name: "s1", sid: 10, psid: 20, pseudowire: "eth", sendSeqnum: false,
 *       recvSeqnum: false, l2specType: "default" }],
 *   }] },
 * });
 * await daemon.start();
 * assert.equal((await dp.listSessions()).length, 1);
 * await daemon.stop();
 * assert.equal((await dp.listTunnels()).length, 0);
 * ```
 */
export class Daemon {
  readonly #config: Config;
  readonly #dp: DataPlane;
  readonly #openSocket: TunnelSocketOpener;
  readonly #log: Log;
  readonly #resolve: (name: string, family?: 4 | 6) => Promise<string[]>;
  readonly #attach: (socket: TunnelSocketHandle) => ControlChannel;
  readonly #clock?: Clock;
  readonly #pppd: boolean;
  #reactor?: Reactor;
  #dynamic?: DynamicTunnels;
  /** Tunnels being taken down after their peer died; stop() waits for them. */
  readonly #teardowns = new Set<Promise<void>>();
  #live: LiveTunnel[] = [];
  #state: "idle" | "starting" | "running" | "stopping" | "stopped" = "idle";

  /** Make a daemon for a configuration; nothing happens until {@linkcode Daemon.start}. */
  constructor(options: DaemonOptions) {
    this.#config = options.config;
    this.#dp = options.dataPlane;
    this.#openSocket = options.openSocket ?? openTunnelSocket;
    this.#log = options.logger ?? getLog("daemon");
    this.#resolve = options.resolve ?? resolveHost;
    this.#attach = options.attach ?? ((socket) => this.#register(socket));
    this.#clock = options.clock;
    this.#pppd = options.pppd ?? true;
  }

  /** The tunnels brought up, with their sessions as the data plane reported them at creation. */
  get tunnels(): readonly { name: string; tunnelId: number; sessions: readonly SessionInfo[] }[] {
    return this.#live.map((t) => ({
      name: t.config.name,
      tunnelId: t.tunnelId,
      sessions: t.sessions.map((s) => s.info),
    }));
  }

  /**
   * Bring every tunnel and session up. On failure, everything created so far is removed and the
   * error is rethrown.
   */
  async start(): Promise<void> {
    if (this.#state !== "idle") throw new Error(`Cannot start the daemon: it is ${this.#state}`);
    refuseUnsupported(this.#config);
    this.#state = "starting";
    try {
      // Resolve every host name first, so a name that does not resolve starts nothing.
      const resolved: TunnelEntry[] = [];
      for (const tunnel of this.#config.tunnels.map(tunnelEntry)) {
        resolved.push({ ...tunnel, ...await this.#endpoints(tunnel) });
      }
      for (const tunnel of resolved.filter((t) => t.mode !== "dynamic")) {
        await this.#bringUp(tunnel, {
          local: required(tunnel, "local", tunnel.local),
          peer: required(tunnel, "peer", tunnel.peer),
        });
      }
      const dynamic = resolved.filter((t) => t.mode === "dynamic");
      if (dynamic.length > 0) {
        this.#dynamic = new DynamicTunnels({
          tunnels: dynamic,
          // Dynamic tunnels must not draw IDs the static ones already use.
          reserved: resolved.filter((t) => t.mode !== "dynamic").map((t) => ({
            version: t.version,
            tunnelId: t.tid,
            sessionIds: t.sessions.map((s) => s.sid),
          })),
          dataPlane: this.#dp,
          reactor: this.#reactorNow(),
          pppd: this.#pppd,
          log: this.#log,
          clock: this.#clock,
        });
        this.#dynamic.start();
      }
    } catch (error) {
      this.#log.error("Bring-up failed, rolling back: {error}", { error: String(error) });
      await this.#tearDown();
      this.#reactor?.close();
      this.#state = "stopped";
      throw error;
    }
    this.#state = "running";
    const sessions = this.#live.reduce((n, t) => n + t.sessions.length, 0);
    this.#log.info("Up: {tunnels} tunnel(s), {sessions} session(s)", {
      tunnels: this.#live.length,
      sessions,
    });
  }

  /** Tear everything down, sessions first, in reverse order of creation. Idempotent. */
  async stop(): Promise<void> {
    if (this.#state === "stopped" || this.#state === "stopping") return;
    this.#state = "stopping";
    try {
      await this.#dynamic?.stop();
    } catch (error) {
      this.#log.error("Cannot stop the dynamic tunnels cleanly: {error}", { error: String(error) });
    }
    await Promise.all(this.#teardowns);
    await this.#tearDown();
    this.#reactor?.close();
    this.#state = "stopped";
    this.#log.info("Stopped; everything created was removed");
  }

  /** The tunnel's local and peer endpoints, host names resolved (same family for both). */
  async #endpoints(config: TunnelEntry): Promise<{ local?: Endpoint; peer?: Endpoint }> {
    let { local, peer } = config;
    if (config.mode !== "dynamic") {
      local = required(config, "local", local);
      peer = required(config, "peer", peer);
    }
    const unresolved = config.unresolved ?? [];
    const familyOf = (e?: Endpoint): 4 | 6 | undefined =>
      e === undefined ? undefined : ipFamily(e.address);
    const lookup = async (
      key: "local" | "peer",
      e: Endpoint,
      family?: 4 | 6,
    ): Promise<Endpoint> => {
      try {
        const [address] = await this.#resolve(e.address, family);
        this.#log.info("{tunnel}: {key} {name} is {address}", {
          tunnel: config.name,
          key,
          name: e.address,
          address,
        });
        return { ...e, address };
      } catch (error) {
        throw new Error(
          `Cannot bring up tunnel "${config.name}": key "${key}": ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
      }
    };
    if (peer && unresolved.includes("peer")) {
      peer = await lookup("peer", peer, unresolved.includes("local") ? undefined : familyOf(local));
    }
    if (local && unresolved.includes("local")) {
      local = await lookup("local", local, familyOf(peer));
    }
    return { local, peer };
  }

  async #bringUp(
    config: TunnelEntry,
    { local, peer }: { local: Endpoint; peer: Endpoint },
  ): Promise<void> {
    const tunnelId = required(config, "tid", config.tid);
    const peerTunnelId = required(config, "ptid", config.ptid);
    const live: LiveTunnel = { config, tunnelId, sessions: [] };
    const log = this.#log.with({ tunnel: config.name });

    const spec: TunnelSpec = {
      tunnelId,
      peerTunnelId,
      version: config.version,
      encap: config.encap,
      udpChecksum: config.udpChecksum,
      udp6ZeroChecksumTx: config.udp6ZeroChecksumTx,
      udp6ZeroChecksumRx: config.udp6ZeroChecksumRx,
      debug: config.debug,
    };
    if (config.managed) {
      live.socket = this.#openSocket({
        encap: config.encap,
        local,
        peer,
        connId: tunnelId,
        peerConnId: peerTunnelId,
      });
      spec.fd = live.socket.fd;
    } else {
      spec.local = local;
      spec.peer = peer;
    }
    try {
      await this.#dp.createTunnel(spec);
    } catch (error) {
      live.socket?.close();
      throw error;
    }
    this.#live.push(live);
    log.info("Tunnel {tunnelId} up ({kind}, L2TPv{version}/{encap}, {local} -> {peer})", {
      tunnelId,
      kind: config.managed ? "managed" : "unmanaged",
      version: config.version,
      encap: config.encap,
      local: formatEndpoint(local),
      peer: formatEndpoint(peer),
    });

    for (const session of config.sessions) {
      const slog = log.with({ session: session.name });
      const runPppd = this.#pppd && session.pseudowire === "ppp" && live.socket !== undefined;
      if (this.#pppd && session.pseudowire === "ppp" && !runPppd) {
        slog.warn(
          "No pppd on an unmanaged tunnel (the kernel owns its socket): set managed = true",
        );
      }
      const spec = sessionSpec(config, tunnelId, session);
      const s = await sessionUp(spec, {
        dataPlane: this.#dp,
        pppd: runPppd,
        tunnelFd: live.socket?.fd,
        version: config.version,
        peerTunnelId,
        peer,
        pppdArgs: session.pppdArgsList,
        log: slog,
        onPppdExit: () =>
          slog.error("pppd exited, and its kernel session with it; restart the daemon to redial"),
      });
      live.sessions.push(s);
      const { info } = s;
      log.with({ session: session.name }).info(
        info.ifname
          ? "Session {sessionId} up ({pseudowire}, {ifname})"
          : "Session {sessionId} up ({pseudowire})",
        { sessionId: info.sessionId, pseudowire: info.pseudowire, ifname: info.ifname },
      );
    }

    if (config.mode === "quiescent") this.#startQuiescent(live, peerTunnelId);
  }

  /** Run HELLO keep-alives on the tunnel's socket; a dead peer takes the tunnel down. */
  #startQuiescent(live: LiveTunnel, peerTunnelId: number): void {
    const { config } = live;
    if (!live.socket) throw new Error(`Cannot run quiescent tunnel "${config.name}": no socket`);
    live.channel = this.#attach(live.socket);
    const helloTimeoutMs = required(config, "hello_timeout", config.helloTimeoutMs);
    live.quiescent = new QuiescentTunnel({
      version: config.version,
      encap: config.encap,
      peerTunnelId,
      socket: live.channel,
      helloTimeoutMs,
      retryTimeoutMs: config.retryTimeoutMs,
      maxRetries: config.maxRetries,
      windowSize: config.windowSize,
      clock: this.#clock,
      onError: (e) =>
        this.#log.with({ tunnel: config.name }).warn("Control channel {kind} error: {error}", {
          kind: e.kind,
          error: e.error instanceof Error ? e.error.message : String(e.error),
        }),
    });
    this.#log.with({ tunnel: config.name }).info(
      "Keep-alive running: HELLO after {helloTimeoutMs} ms of silence",
      { helloTimeoutMs },
    );
    live.quiescent.ended.then((end) => this.#quiescentEnded(live, end));
  }

  #quiescentEnded(live: LiveTunnel, end: TransportEnd): void {
    if (end.reason !== "failed" || !this.#live.includes(live) || this.#state !== "running") return;
    this.#log.with({ tunnel: live.config.name }).error(
      "Tunnel {tunnelId}: the peer stopped answering ({detail}); tearing the tunnel down",
      { tunnelId: live.tunnelId, detail: end.error?.message ?? "no acknowledgement" },
    );
    this.#live = this.#live.filter((t) => t !== live);
    const done = this.#tearDownTunnel(live).then(() => {
      if (this.#live.length === 0) this.#log.warn("No tunnel is up any more");
    });
    this.#teardowns.add(done);
    done.finally(() => this.#teardowns.delete(done));
  }

  #register(socket: TunnelSocketHandle): ControlChannel {
    if (!(socket instanceof TunnelSocket)) {
      throw new TypeError("Cannot attach a control channel: not a TunnelSocket (pass attach)");
    }
    return this.#reactorNow().register(socket);
  }

  #reactorNow(): Reactor {
    this.#reactor ??= new Reactor();
    return this.#reactor;
  }

  /** Remove what was created, newest first; keep going past errors and log them. */
  async #tearDown(): Promise<void> {
    const live = this.#live;
    this.#live = [];
    for (const t of live.toReversed()) await this.#tearDownTunnel(t);
  }

  /** Take one tunnel down: keep-alive, sessions, kernel tunnel, socket. */
  async #tearDownTunnel(live: LiveTunnel): Promise<void> {
    const log = this.#log.with({ tunnel: live.config.name });
    live.quiescent?.close();
    for (const s of live.sessions.toReversed()) {
      try {
        await s.down();
      } catch (error) {
        log.warn("Cannot take session down: {error}", { error: String(error) });
      }
    }
    try {
      await this.#dp.deleteTunnel(live.tunnelId);
    } catch (error) {
      log.warn("Cannot delete tunnel {tunnelId}: {error}", {
        tunnelId: live.tunnelId,
        error: String(error),
      });
    }
    live.channel?.close();
    live.socket?.close();
    log.info("Tunnel {tunnelId} down", { tunnelId: live.tunnelId });
  }
}

/**
 * Run a daemon until `signal` aborts: start, wait, stop.
 *
 * Rejects (after rolling back) if bring-up fails; resolves once everything is torn down.
 *
 * @example Usage
 * ```ts ignore
 * import { runDaemon } from "./daemon.ts";
 * import { loadConfig } from "./config.ts";
 * import { NullDataPlane } from "../dataplane/null.ts";
 * const ac = new AbortController();
 * Deno.addSignalListener("SIGTERM", () => ac.abort());
 * await runDaemon({ config: await loadConfig("l2tp.toml"), dataPlane: new NullDataPlane(),
 *   signal: ac.signal });
 * ```
 */
export async function runDaemon(options: DaemonOptions & { signal: AbortSignal }): Promise<void> {
  const daemon = new Daemon(options);
  await daemon.start();
  try {
    await waitForAbort(options.signal);
  } finally {
    await daemon.stop();
  }
}

function waitForAbort(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}

function refuseUnsupported(config: Config): void {
  const problems = config.tunnels.map(tunnelEntry).flatMap((t) =>
    t.sessions.filter((s) => s.pseudowire === "pppac").map((s) =>
      `tunnel "${t.name}" session "${s.name}" uses pseudowire "pppac"`
    )
  );
  if (problems.length > 0) {
    throw new Error(
      `Cannot start ${config.file}: pseudowire "pppac" (PPP relayed to PPPoE) is not ` +
        `supported yet; ${problems.join("; ")}`,
    );
  }
}

function sessionSpec(tunnel: TunnelEntry, tunnelId: number, s: SessionEntry): SessionSpec {
  return kernelSessionSpec(tunnel.version, {
    tunnelId,
    sessionId: required(tunnel, "sid", s.sid, s),
    peerSessionId: required(tunnel, "psid", s.psid, s),
  }, s);
}

function required<T>(
  tunnel: TunnelEntry,
  key: string,
  value: T | undefined,
  s?: SessionEntry,
): T {
  if (value === undefined) {
    const where = s ? `tunnel "${tunnel.name}" session "${s.name}"` : `tunnel "${tunnel.name}"`;
    throw new TypeError(`Cannot bring up ${where}: key "${key}" is required for a static tunnel`);
  }
  return value;
}
