/**
 * Static and quiescent tunnels: programmed into the data plane from their settings alone.
 *
 * A managed tunnel gets a socket of ours (bound and connected) whose fd goes to the kernel; an
 * unmanaged L2TPv3 tunnel lets the kernel open its own socket from the configured addresses. A
 * quiescent tunnel is a managed static tunnel that also runs HELLO keep-alives over its socket
 * ({@linkcode QuiescentTunnel}); when the peer stops answering, the tunnel and its sessions are
 * taken down and the rest of the context runs on. Kernel state left by an earlier run is
 * adopted or replaced as `reconcile.ts` describes.
 *
 * @module
 */

import type { SessionConfig, TunnelConfig, TunnelMode } from "./config.ts";
import type { SessionSpec, TunnelSpec } from "../dataplane/dataplane.ts";
import type { Endpoint } from "../control/types.ts";
import { QuiescentTunnel } from "../control/quiescent.ts";
import type { TransportEnd } from "../control/transport.ts";
import {
  kernelSessionSpec,
  type LiveSession,
  pppoeFields,
  pppoeOf,
  sessionUp,
} from "./sessions.ts";
import { reconcileSession, reconcileTunnel } from "./reconcile.ts";
import type { ControlChannel, Runtime, TunnelSocketHandle } from "./runtime.ts";
import { controlCounters, uptimeSeconds } from "./runtime.ts";
import type { Session, SessionStatus, Tunnel, TunnelStatus } from "./tunnel.ts";
import type { Log } from "./log.ts";

/** One kernel session of a static tunnel. */
class StaticSession implements Session {
  readonly name: string;
  readonly tunnelName: string;
  readonly config: Readonly<SessionConfig>;
  readonly #live: LiveSession;
  readonly #since = Date.now();
  readonly #onClose: (s: StaticSession, reason: string) => Promise<void>;
  #closed = false;

  constructor(
    tunnelName: string,
    name: string,
    config: SessionConfig,
    live: LiveSession,
    onClose: (s: StaticSession, reason: string) => Promise<void>,
  ) {
    this.tunnelName = tunnelName;
    this.name = name;
    this.config = config;
    this.#live = live;
    this.#onClose = onClose;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get live(): LiveSession {
    return this.#live;
  }

  status(): SessionStatus {
    const info = this.#live;
    return {
      name: this.name,
      state: "up",
      pseudowire: this.config.pseudowire,
      localSessionId: info.sessionId,
      peerSessionId: info.peerSessionId,
      interface: info.ifname,
      upSince: new Date(this.#since).toISOString(),
      uptimeSeconds: uptimeSeconds(this.#since),
      ...pppoeFields(this.config),
    };
  }

  close(): Promise<void> {
    return this.end("closed");
  }

  /** Take the session down (idempotent); the tunnel reports the event. */
  async end(reason: string): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#onClose(this, reason);
  }
}

/**
 * A static or quiescent tunnel. Made by `Context.newStaticTunnel` and `newQuiescentTunnel`.
 */
export class StaticTunnel implements Tunnel {
  readonly name: string;
  readonly mode: TunnelMode;
  readonly config: Readonly<TunnelConfig>;
  readonly #rt: Runtime;
  readonly #log: Log;
  readonly #tunnelId: number;
  readonly #peerTunnelId: number;
  readonly #local: Endpoint;
  readonly #peer: Endpoint;
  readonly #sessions: StaticSession[] = [];
  readonly #since = Date.now();
  readonly #onEnd: (t: StaticTunnel) => void;
  #socket?: TunnelSocketHandle;
  #channel?: ControlChannel;
  #quiescent?: QuiescentTunnel;
  #closing?: Promise<void>;

  private constructor(
    rt: Runtime,
    name: string,
    config: TunnelConfig,
    ends: { local: Endpoint; peer: Endpoint; tunnelId: number; peerTunnelId: number },
    onEnd: (t: StaticTunnel) => void,
  ) {
    this.#rt = rt;
    this.name = name;
    this.mode = config.mode;
    this.config = config;
    this.#log = rt.log.with({ tunnel: name });
    this.#local = ends.local;
    this.#peer = ends.peer;
    this.#tunnelId = ends.tunnelId;
    this.#peerTunnelId = ends.peerTunnelId;
    this.#onEnd = onEnd;
  }

  /**
   * Bring a static or quiescent tunnel up: its kernel tunnel (adopting a matching one), and for
   * a quiescent tunnel its keep-alive. On failure nothing of it is left behind.
   *
   * @param rt The context's shared resources.
   * @param name The tunnel's name.
   * @param config Its settings, host names resolved.
   * @param onEnd Called once when the tunnel is over (closed, or its peer died).
   * @returns The tunnel, up.
   */
  static async open(
    rt: Runtime,
    name: string,
    config: TunnelConfig,
    onEnd: (t: StaticTunnel) => void,
  ): Promise<StaticTunnel> {
    const ends = {
      local: required(name, "local", config.local),
      peer: required(name, "peer", config.peer),
      tunnelId: required(name, "tid", config.tid),
      peerTunnelId: required(name, "ptid", config.ptid),
    };
    if (config.mode === "quiescent" && !config.managed) {
      throw new TypeError(
        `Cannot bring up tunnel "${name}": a quiescent tunnel needs managed = true ` +
          "(its keep-alive runs on our socket)",
      );
    }
    const t = new StaticTunnel(rt, name, config, ends, onEnd);
    await t.#bringUp();
    return t;
  }

  get closed(): boolean {
    return this.#closing !== undefined;
  }

  get sessions(): readonly Session[] {
    return [...this.#sessions];
  }

  async #bringUp(): Promise<void> {
    const c = this.config;
    const spec: TunnelSpec = {
      tunnelId: this.#tunnelId,
      peerTunnelId: this.#peerTunnelId,
      version: c.version,
      encap: c.encap,
      udpChecksum: c.udpChecksum,
      udp6ZeroChecksumTx: c.udp6ZeroChecksumTx,
      udp6ZeroChecksumRx: c.udp6ZeroChecksumRx,
      debug: c.debug,
    };
    if (c.managed) {
      this.#socket = this.#rt.openSocket({
        encap: c.encap,
        local: this.#local,
        peer: this.#peer,
        connId: this.#tunnelId,
        peerConnId: this.#peerTunnelId,
      });
      spec.fd = this.#socket.fd;
    } else {
      spec.local = this.#local;
      spec.peer = this.#peer;
    }
    try {
      if (await reconcileTunnel(this.#rt.dp, spec, this.#log) === "create") {
        await this.#rt.dp.createTunnel(spec);
      }
      if (c.mode === "quiescent") this.#startQuiescent();
    } catch (error) {
      this.#quiescent?.close();
      this.#channel?.close();
      this.#socket?.close();
      await this.#rt.dp.deleteTunnel(this.#tunnelId).catch(() => {});
      throw error;
    }
    this.#rt.emit({
      type: "tunnel-up",
      tunnel: this.name,
      version: c.version,
      encap: c.encap,
      localTunnelId: this.#tunnelId,
      peerTunnelId: this.#peerTunnelId,
      local: this.#local,
      peer: this.#peer,
    });
  }

  /** Run HELLO keep-alives on the tunnel's socket; a dead peer takes the tunnel down. */
  #startQuiescent(): void {
    const c = this.config;
    if (!this.#socket) throw new Error(`Cannot run quiescent tunnel "${this.name}": no socket`);
    this.#channel = this.#rt.attach(this.#socket);
    const helloTimeoutMs = required(this.name, "hello_timeout", c.helloTimeoutMs);
    this.#quiescent = new QuiescentTunnel({
      version: c.version,
      encap: c.encap,
      peerTunnelId: this.#peerTunnelId,
      socket: this.#channel,
      helloTimeoutMs,
      retryTimeoutMs: c.retryTimeoutMs,
      maxRetries: c.maxRetries,
      windowSize: c.windowSize,
      clock: this.#rt.clock,
      onError: (e) =>
        this.#log.warn("Control channel {kind} error: {error}", {
          kind: e.kind,
          error: e.error instanceof Error ? e.error.message : String(e.error),
        }),
    });
    this.#log.debug("Keep-alive running: HELLO after {helloTimeoutMs} ms of silence", {
      helloTimeoutMs,
    });
    this.#quiescent.ended.then((end) => this.#quiescentEnded(end));
  }

  #quiescentEnded(end: TransportEnd): void {
    if (end.reason !== "failed" || this.closed) return;
    void this.#end(
      `the peer stopped answering (${end.error?.message ?? "no acknowledgement"})`,
    );
  }

  async newSession(name: string, config: SessionConfig): Promise<Session> {
    if (this.closed) {
      throw new Error(`Cannot add session "${name}": tunnel "${this.name}" is closed`);
    }
    if (this.#sessions.some((s) => s.name === name)) {
      throw new Error(`Cannot add session "${name}": tunnel "${this.name}" already has it`);
    }
    const pppoe = pppoeOf(config);
    const slog = this.#log.with({ session: name });
    const c = this.config;
    const ppp = config.pseudowire === "ppp" || config.pseudowire === "pppac";
    const runPppd = this.#rt.pppd && ppp && this.#socket !== undefined;
    if (this.#rt.pppd && ppp && !runPppd) {
      slog.warn(
        `No ${pppoe ? "PPPoE relay" : "pppd"} on an unmanaged tunnel (the kernel owns its ` +
          "socket): set managed = true",
      );
    }
    const spec: SessionSpec = kernelSessionSpec(c.version, {
      tunnelId: this.#tunnelId,
      sessionId: requiredSession(this.name, name, "sid", config.sid),
      peerSessionId: requiredSession(this.name, name, "psid", config.psid),
    }, config);
    if (this.#sessions.some((s) => s.live.sessionId === spec.sessionId)) {
      throw new Error(
        `Cannot create session ${spec.tunnelId}/${spec.sessionId}: it already exists ` +
          `(session ${this.#sessions.find((s) => s.live.sessionId === spec.sessionId)?.name})`,
      );
    }
    const adopted = await reconcileSession(this.#rt.dp, spec, runPppd, slog);
    const live = await sessionUp(spec, {
      dataPlane: this.#rt.dp,
      pppd: runPppd,
      tunnelFd: this.#socket?.fd,
      version: c.version,
      peerTunnelId: this.#peerTunnelId,
      peer: this.#peer,
      pppdArgs: config.pppdArgsList,
      log: slog,
      adopted,
      pppoe,
      onPppdExit: (exit) => void session.end(`pppd exited: ${exit.reason}`),
    });
    const session: StaticSession = new StaticSession(
      this.name,
      name,
      config,
      live,
      (s, reason) => this.#sessionDown(s, reason),
    );
    this.#sessions.push(session);
    this.#rt.emit({
      type: "session-up",
      tunnel: this.name,
      session: name,
      localTunnelId: this.#tunnelId,
      peerTunnelId: this.#peerTunnelId,
      localSessionId: live.sessionId,
      peerSessionId: live.peerSessionId,
      peer: this.#peer,
      pseudowire: config.pseudowire,
      interface: live.ifname,
      ...pppoeFields(config),
    });
    return session;
  }

  async #sessionDown(s: StaticSession, reason: string): Promise<void> {
    const i = this.#sessions.indexOf(s);
    if (i >= 0) this.#sessions.splice(i, 1);
    try {
      await s.live.down();
    } catch (error) {
      this.#log.with({ session: s.name }).warn("Cannot take session down: {error}", {
        error: String(error),
      });
    }
    this.#rt.emit({
      type: "session-down",
      tunnel: this.name,
      session: s.name,
      localTunnelId: this.#tunnelId,
      localSessionId: s.live.sessionId,
      peerSessionId: s.live.peerSessionId,
      peer: this.#peer,
      reason,
      ...pppoeFields(s.config),
    });
  }

  status(): TunnelStatus {
    const c = this.config;
    return {
      name: this.name,
      mode: this.mode,
      version: c.version,
      encap: c.encap,
      state: this.closed ? "down" : "up",
      localTunnelId: this.#tunnelId,
      peerTunnelId: this.#peerTunnelId,
      local: this.#local,
      peer: this.#peer,
      upSince: new Date(this.#since).toISOString(),
      uptimeSeconds: uptimeSeconds(this.#since),
      counters: this.#quiescent ? controlCounters(this.#quiescent.transport.stats) : undefined,
      sessions: this.#sessions.map((s) => s.status()),
    };
  }

  close(): Promise<void> {
    return this.#end("closed");
  }

  /** Take the tunnel down: keep-alive, sessions (newest first), kernel tunnel, socket. */
  #end(reason: string): Promise<void> {
    this.#closing ??= (async () => {
      if (reason !== "closed") {
        this.#log.error("Tunnel {tunnelId}: {reason}; tearing the tunnel down", {
          tunnelId: this.#tunnelId,
          reason,
        });
      }
      this.#quiescent?.close();
      for (const s of [...this.#sessions].reverse()) await s.end(reason);
      try {
        await this.#rt.dp.deleteTunnel(this.#tunnelId);
      } catch (error) {
        this.#log.warn("Cannot delete tunnel {tunnelId}: {error}", {
          tunnelId: this.#tunnelId,
          error: String(error),
        });
      }
      this.#channel?.close();
      this.#socket?.close();
      this.#rt.emit({
        type: "tunnel-down",
        tunnel: this.name,
        localTunnelId: this.#tunnelId,
        peerTunnelId: this.#peerTunnelId,
        peer: this.#peer,
        reason,
        wasUp: true,
      });
      this.#onEnd(this);
    })();
    return this.#closing;
  }
}

function required<T>(tunnel: string, key: string, value: T | undefined): T {
  if (value === undefined) {
    throw new TypeError(
      `Cannot bring up tunnel "${tunnel}": key "${key}" is required for a static tunnel`,
    );
  }
  return value;
}

function requiredSession<T>(tunnel: string, session: string, key: string, value: T | undefined): T {
  if (value === undefined) {
    throw new TypeError(
      `Cannot bring up tunnel "${tunnel}" session "${session}": key "${key}" is required ` +
        "for a static tunnel",
    );
  }
  return value;
}
