/**
 * Dynamic responder tunnels (`role = "lns"`): they listen, and every peer they accept gets a
 * control connection and a socket of its own.
 *
 * Responder tunnels with the same encapsulation and local address share one listening socket
 * and one {@linkcode Listener} (a {@linkcode ListenerGroup}); an SCCRQ is matched against them by
 * the peer's address, then against those that accept any peer. A tunnel joins its group when it
 * is created and leaves it when it is closed; the group's socket closes with its last tunnel.
 *
 * @module
 */

import type { SessionEntry, TunnelConfig } from "./config.ts";
import type { ReactorSocket } from "../dataplane/reactor.ts";
import { Listener, type ListenerTunnel } from "../control/listener.ts";
import { formatEndpoint } from "../control/endpoint.ts";
import type { Endpoint } from "../control/types.ts";
import type { Runtime } from "./runtime.ts";
import type { TunnelStatus } from "./tunnel.ts";
import { type Conn, DynamicTunnel } from "./dynamic.ts";

/**
 * Receive buffer of a UDP listening socket: room for a herd of SCCRQs arriving at once (each
 * takes about a kilobyte of buffer; the default of ~208 KiB holds only a few hundred). Tunnel
 * sockets too: those of tunnels from one peer port (xl2tpd) all get what the kernel gives the
 * newest of them.
 */
const LISTEN_RECEIVE_BUFFER = 4 * 2 ** 20;

/** The listening sockets of a context, by `encap local`. */
export type ListenerGroups = Map<string, ListenerGroup>;

/**
 * One listening socket and its {@linkcode Listener}, shared by the responder tunnels on one
 * local address.
 */
export class ListenerGroup {
  readonly #rt: Runtime;
  readonly #key: string;
  readonly #groups: ListenerGroups;
  readonly #tunnels: ListenerTunnel<SessionEntry>[] = [];
  readonly #owners = new Map<ListenerTunnel<SessionEntry>, ResponderTunnel>();
  readonly #socket: ReactorSocket;
  readonly #listener: Listener<SessionEntry>;
  /** The listening address. */
  readonly local: Endpoint;

  /**
   * The group for `encap` and `local`, made (socket opened, listener started) if needed.
   *
   * @param rt The context's shared resources.
   * @param groups The context's groups.
   * @param encap Encapsulation.
   * @param local The listening address.
   * @returns The group.
   */
  static for(
    rt: Runtime,
    groups: ListenerGroups,
    encap: "udp" | "ip",
    local: Endpoint,
  ): ListenerGroup {
    const key = `${encap} ${formatEndpoint(local)}`;
    let group = groups.get(key);
    if (!group) {
      group = new ListenerGroup(rt, groups, key, encap, local);
      groups.set(key, group);
    }
    return group;
  }

  private constructor(
    rt: Runtime,
    groups: ListenerGroups,
    key: string,
    encap: "udp" | "ip",
    local: Endpoint,
  ) {
    this.#rt = rt;
    this.#groups = groups;
    this.#key = key;
    this.local = local;
    const reactor = rt.reactor();
    this.#socket = encap === "ip"
      ? reactor.l2tpip({ local, connId: 0 })
      : reactor.udp({ local, receiveBuffer: LISTEN_RECEIVE_BUFFER });
    try {
      this.#listener = new Listener<SessionEntry>({
        socket: this.#socket,
        encap,
        local,
        tunnels: this.#tunnels,
        openSocket: (r) =>
          r.encap === "ip"
            ? reactor.l2tpip({
              local: r.local,
              peer: r.peer,
              connId: r.localTunnelId,
              peerConnId: r.peerTunnelId,
            })
            : reactor.udp({ local: r.local, peer: r.peer, receiveBuffer: LISTEN_RECEIVE_BUFFER }),
        tunnelIds: rt.tunnelIds,
        sessionIds: rt.sessionIds3,
        clock: rt.clock,
        log: rt.log.with({ listener: formatEndpoint(local) }),
        onConnection: (conn, t) => this.#owners.get(t)?.accepted(conn),
      });
    } catch (error) {
      this.#socket.close();
      throw error;
    }
    this.#listener.start();
    rt.log.info("Listening for {encap} control connections on {local}", {
      encap: encap === "ip" ? "L2TP/IP" : "UDP",
      local: formatEndpoint(local),
    });
  }

  /**
   * Serve a responder tunnel's SCCRQs from now on.
   *
   * @param t The listener's view of the tunnel.
   * @param owner The tunnel.
   */
  add(t: ListenerTunnel<SessionEntry>, owner: ResponderTunnel): void {
    this.#tunnels.push(t);
    this.#owners.set(t, owner);
  }

  /**
   * Stop serving a tunnel: its peers' SCCRQs are refused from now on.
   *
   * @param t The listener's view of the tunnel.
   */
  remove(t: ListenerTunnel<SessionEntry>): void {
    const i = this.#tunnels.indexOf(t);
    if (i >= 0) this.#tunnels.splice(i, 1);
    this.#owners.delete(t);
  }

  /** Close the socket and the listener once no tunnel uses them (after their connections ended). */
  closeIfUnused(): void {
    if (this.#tunnels.length > 0 || this.#groups.get(this.#key) !== this) return;
    this.#groups.delete(this.#key);
    this.#listener.abort();
    try {
      this.#socket.close();
    } catch (error) {
      this.#rt.log.warn("Cannot close a listening socket: {error}", { error: String(error) });
    }
  }
}

/**
 * A responder tunnel. Made by `Context.newDynamicTunnel` for `role = "lns"`.
 */
export class ResponderTunnel extends DynamicTunnel {
  readonly #group: ListenerGroup;
  readonly #entry: ListenerTunnel<SessionEntry>;
  readonly #accepted = new Set<Conn>();
  readonly #onEnd: (t: ResponderTunnel) => void;

  private constructor(
    rt: Runtime,
    groups: ListenerGroups,
    name: string,
    config: TunnelConfig,
    onEnd: (t: ResponderTunnel) => void,
  ) {
    super(rt, name, config);
    this.#onEnd = onEnd;
    if (!config.local) {
      throw new TypeError(`Cannot listen for tunnel "${name}": key "local" is required`);
    }
    const { version: _v, encap: _e, role: _r, ...connection } = this.connectionOptions();
    if (config.acceptAnyPeer && !connection.secret) {
      throw new TypeError(
        `Cannot listen for tunnel "${name}": accept_any_peer needs a shared secret`,
      );
    }
    this.#entry = {
      name,
      version: config.version,
      peer: config.peer,
      acceptAnyPeer: config.acceptAnyPeer,
      maxTunnels: config.maxTunnels,
      connection,
    };
    this.#group = ListenerGroup.for(rt, groups, config.encap, config.local);
    this.#group.add(this.#entry, this);
  }

  /**
   * Start serving the tunnel on its listening socket (shared with the other responders there).
   *
   * @param rt The context's shared resources.
   * @param groups The context's listening sockets.
   * @param name The tunnel's name.
   * @param config Its settings, host names resolved.
   * @param onEnd Called once when the tunnel is closed.
   * @returns The tunnel, listening.
   */
  static open(
    rt: Runtime,
    groups: ListenerGroups,
    name: string,
    config: TunnelConfig,
    onEnd: (t: ResponderTunnel) => void,
  ): Promise<ResponderTunnel> {
    return Promise.resolve(new ResponderTunnel(rt, groups, name, config, onEnd));
  }

  /**
   * The listener accepted a connection for this tunnel.
   *
   * @param conn The connection.
   */
  accepted(conn: Conn): void {
    if (this.closed) {
      conn.abort("tunnel closed");
      return;
    }
    this.#accepted.add(conn);
    conn.done.then(() => this.#accepted.delete(conn));
  }

  /** The accepted connections that are not over. */
  protected connections(): Conn[] {
    return [...this.#accepted];
  }

  /** Nothing to place: a responder answers calls. */
  protected placeCall(): void {
    // A responder waits for calls; the new declaration is in `entries`, which the connections
    // read when a call arrives.
  }

  /** A snapshot: `listening`, each accepted peer under `peers`, the declared sessions. */
  status(): TunnelStatus {
    return {
      ...this.statusBase(),
      state: this.closed ? "down" : "listening",
      local: this.#group.local,
      peer: this.config.peer,
      // A declaration is "up" while at least one call is bound to it, else "waiting" for calls;
      // every live call is under `peers`.
      sessions: this.entries.map((e) => {
        const s = this.sessionStatus(e);
        return s.state === "up" ? s : { name: s.name, pseudowire: s.pseudowire, state: "waiting" };
      }),
      peers: this.connections().map((c) => this.connectionStatus(c)),
    };
  }

  /** Stop accepting this tunnel's peers. */
  protected stopStarting(): void {
    this.#group.remove(this.#entry);
  }

  /** Close the listening socket if no tunnel uses it any more, and leave the context. */
  protected ended(): void {
    this.#group.closeIfUnused();
    this.#onEnd(this);
  }
}
