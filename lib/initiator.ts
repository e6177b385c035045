/**
 * Dynamic initiator tunnels: an L2TPv2 LAC, or an L2TPv3 LCCE that opens the control
 * connection. The tunnel has a socket of its own and a {@linkcode ControlConnection} that sends
 * the SCCRQ and places a call for every declared session; with `redial` it dials again after the
 * tunnel goes down, and places the calls again.
 *
 * @module
 */

import type { SessionEntry, TunnelConfig } from "./config.ts";
import type { ReactorSocket } from "../dataplane/reactor.ts";
import { ControlConnection } from "../control/connection.ts";
import { ipFamily } from "../control/endpoint.ts";
import type { Endpoint } from "../control/types.ts";
import { clearStaleTunnel } from "./reconcile.ts";
import type { Runtime } from "./runtime.ts";
import type { TunnelStatus } from "./tunnel.ts";
import { type Conn, DynamicTunnel } from "./dynamic.ts";

/**
 * A dynamic tunnel that dials its peer. Made by `Context.newDynamicTunnel` for `role = "lac"`.
 */
export class InitiatorTunnel extends DynamicTunnel {
  #conn?: Conn;
  #socket?: ReactorSocket;
  #redial?: ReturnType<typeof setTimeout>;
  readonly #onEnd: (t: InitiatorTunnel) => void;

  private constructor(
    rt: Runtime,
    name: string,
    config: TunnelConfig,
    onEnd: (t: InitiatorTunnel) => void,
  ) {
    super(rt, name, config);
    this.#onEnd = onEnd;
  }

  /**
   * Open the socket and send the SCCRQ.
   *
   * @param rt The context's shared resources.
   * @param name The tunnel's name.
   * @param config Its settings, host names resolved.
   * @param onEnd Called once when the tunnel is over (closed, or it gave up redialling).
   * @returns The tunnel, dialling.
   */
  static async open(
    rt: Runtime,
    name: string,
    config: TunnelConfig,
    onEnd: (t: InitiatorTunnel) => void,
  ): Promise<InitiatorTunnel> {
    if (!config.peer) throw new TypeError(`Cannot start tunnel "${name}": key "peer" is required`);
    if (config.tid !== undefined) await clearStaleTunnel(rt.dp, config.tid, rt.log);
    const t = new InitiatorTunnel(rt, name, config, onEnd);
    t.#dial(0);
    return t;
  }

  /** The control connection, while there is one. */
  protected connections(): Conn[] {
    return this.#conn ? [this.#conn] : [];
  }

  /** Open the call now if the connection runs (else the next dial places it). */
  protected placeCall(entry: SessionEntry): void {
    const conn = this.#conn;
    if (conn && conn.state !== "closing" && conn.state !== "dead") conn.openSession(entry);
  }

  /** Open the socket and the control connection; throws (nothing left open) if it cannot. */
  #dial(attempt: number): void {
    const t = this.config;
    const peer = t.peer as Endpoint;
    const wildcard = ipFamily(peer.address) === 6 ? "::" : "0.0.0.0";
    const local: Endpoint = t.local ?? { address: wildcard, port: 0 };
    const ids = this.rt.tunnelIds[t.version];
    if (t.tid !== undefined && !ids.reserve(t.tid)) {
      throw new Error(`Cannot start tunnel "${this.name}": tid ${t.tid} is already in use`);
    }
    let localTunnelId: number | undefined;
    let socket: ReactorSocket;
    const reactor = this.rt.reactor();
    try {
      if (t.encap === "ip") {
        // An L2TP/IP socket is bound to our connection ID: pick it first.
        localTunnelId = t.tid ?? ids.allocate();
        socket = reactor.l2tpip({ local, connId: localTunnelId });
      } else {
        // No SO_REUSEADDR on an ephemeral port: with it on both, Linux may give two sockets the
        // same ephemeral port, and one of them never hears its peer (a herd of LACs).
        socket = reactor.udp({ local, reuseAddress: local.port !== 0 });
      }
    } catch (error) {
      const id = localTunnelId ?? t.tid;
      if (id !== undefined) ids.release(id);
      throw error;
    }
    // Redial once per connection: when its tunnel goes down (before the StopCCN hold), or when
    // it ends without ever reporting that.
    let redialled = false;
    const redial = (wasUp: boolean): void => {
      if (redialled) return;
      redialled = true;
      this.#scheduleRedial(wasUp ? 1 : attempt + 1);
    };
    const options = this.connectionOptions();
    let conn: Conn;
    try {
      conn = new ControlConnection<SessionEntry>({
        ...options,
        onEvent: (e) => {
          options.onEvent?.(e);
          if (e.type === "tunnel-down") redial(e.tunnel.wasUp);
        },
        socket,
        peer,
        connected: false,
        localTunnelId: localTunnelId ?? t.tid,
        tunnelIds: ids,
      });
    } catch (error) {
      socket.close();
      throw error;
    }
    this.#conn = conn;
    this.#socket = socket;
    conn.start();
    for (const s of this.entries) conn.openSession(s);
    conn.done.then(async () => {
      this.#closeSocket(socket);
      if (this.#conn === conn) this.#conn = undefined;
      redial(await conn.established);
    });
  }

  /** Dial again after the tunnel went down, when configured to (`redial`); else it is over. */
  #scheduleRedial(attempt: number): void {
    const t = this.config;
    if (this.closed) return;
    if (t.redialTimeoutMs === undefined) {
      this.#finish();
      return;
    }
    if (t.maxRedials !== undefined && attempt > t.maxRedials) {
      this.log.error("Tunnel down; giving up after {n} redials", { n: t.maxRedials });
      this.#finish();
      return;
    }
    this.log.info("Tunnel down; redialling in {ms} ms (attempt {attempt})", {
      ms: t.redialTimeoutMs,
      attempt,
    });
    this.#redial = setTimeout(() => {
      this.#redial = undefined;
      if (this.closed) return;
      try {
        this.#dial(attempt);
      } catch (error) {
        this.log.error("Cannot redial: {error}", { error: String(error) });
        this.#scheduleRedial(attempt + 1);
      }
    }, t.redialTimeoutMs);
  }

  /** The tunnel gave up: it is over, as if closed. */
  #finish(): void {
    if (this.closed) return;
    this.closing = Promise.resolve();
    this.#onEnd(this);
  }

  #closeSocket(socket: { close(): void }): void {
    try {
      socket.close();
    } catch (error) {
      this.log.warn("Cannot close a control socket: {error}", { error: String(error) });
    }
  }

  /** A snapshot: the connection's state, IDs and counters, and every declared session. */
  status(): TunnelStatus {
    const conn = this.#conn;
    if (!conn) {
      return {
        ...this.statusBase(),
        state: "down",
        peer: this.config.peer,
        sessions: this.entries.map((e) => this.sessionStatus(e)),
      };
    }
    const c = this.connectionStatus(conn);
    return {
      ...this.statusBase(),
      ...c,
      local: this.#socket && !this.#socket.closed ? this.#socket.local : undefined,
      sessions: this.entries.map((e) => this.sessionStatus(e)),
    };
  }

  /** Cancel a pending redial. */
  protected stopStarting(): void {
    if (this.#redial !== undefined) clearTimeout(this.#redial);
  }

  /** Leave the context. */
  protected ended(): void {
    this.#onEnd(this);
  }
}
