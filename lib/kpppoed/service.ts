/**
 * kpppoed's access concentrator: PPPoE discovery (RFC 2516) answered in-process, and every
 * PPPoE session carried to an LNS as an L2TPv2 session with the `pppac` pseudowire, which the
 * kernel bridges to the PPPoE session (no pppd runs here).
 *
 * {@linkcode AccessConcentrator} reads discovery frames from a {@linkcode DiscoveryPort} (an
 * AF_PACKET socket in production: `dataplane/packet_socket.ts`; a fake in tests) and feeds them
 * to the sans-IO `DiscoveryServer` (`control/pppoe/discovery.ts`), which answers PADI and PADR
 * and reports the sessions it opens. For each one:
 *
 * - its service's first LNS is dialled, unless a tunnel to it with the same settings is already
 *   up or being set up: the sessions towards one LNS share one tunnel (a `Context` dynamic LAC
 *   tunnel, `role = "lac"`, no redial);
 * - the PPPoE session is declared in that tunnel as a pppac session named `pppoe-XXXX` (its
 *   SESSION_ID in hex), with the subscriber's MAC and our interface; its ICRQ goes out as soon as
 *   the tunnel is up, and once the call is established the kernel bridge is made;
 * - a tunnel that cannot be set up (no answer, StopCCN before it was up, a name that does not
 *   resolve) moves its waiting sessions to the service's next LNS (`lns_ipaddrs`), in order;
 *   when there is none, each gets a PADT.
 *
 * Either end going away tears down the other: a PADT from the subscriber closes the L2TP session
 * (CDN), and a CDN, a StopCCN or a dead tunnel sends the subscriber a PADT. A tunnel whose last
 * session is gone is closed (StopCCN), so that a quiet access concentrator holds no L2TP state.
 * {@linkcode AccessConcentrator.close} sends every subscriber a PADT and closes every tunnel.
 *
 * The discovery server bounds the sessions (`max_sessions`, `max_sessions_per_mac`) and keeps no state
 * for a PADI or for a PADR without our AC-Cookie; every frame it drops is counted
 * ({@linkcode AccessConcentrator.status}); nothing a subscriber sends can throw out of the
 * receive loop, and warnings are rate-limited per cause.
 *
 * @example Usage
 * ```ts
 * import { AccessConcentrator, type DiscoveryPort } from "./service.ts";
 * import { parseKpppoedConfig } from "./config.ts";
 * import { Context } from "../context.ts";
 * import { NullDataPlane } from "../../dataplane/null.ts";
 * const config = parseKpppoedConfig(
 *   'interface_name = "eth1"\nservices = ["internet"]\nlns_ipaddr = "192.0.2.1"\n',
 * );
 * // A port with nothing to read (a real one is openDiscoverySocket(config.interfaceName)).
 * const port: DiscoveryPort = {
 *   mac: "02:00:00:00:00:01",
 *   send: () => true,
 *   close: () => {},
 *   async *[Symbol.asyncIterator]() {},
 * };
 * await using ctx = new Context({ dataplane: new NullDataPlane() });
 * const ac = new AccessConcentrator({ config, context: ctx, port });
 * await ac.run(); // returns when the port has no more frames
 * console.log(ac.status().pppoe.sessions.length); // 0
 * await ac.close();
 * ```
 *
 * @module
 */

import { BROADCAST_MAC, formatMac, parseMac } from "../../control/mac.ts";
import {
  type DiscoveryEvent,
  DiscoveryServer,
  type PppoeSession as DiscoveredSession,
} from "../../control/pppoe/discovery.ts";
import { formatEndpoint } from "../../control/endpoint.ts";
import type { SessionConfig, TunnelConfig } from "../config.ts";
import type { Context } from "../context.ts";
import type { L2tpEvent } from "../events.ts";
import { getLog, type Log } from "../log.ts";
import { type RateLimitedLog, rateLimitedLog } from "../log_limit.ts";
import type { ContextStatus, Session, Tunnel } from "../tunnel.ts";
import type { KpppoedConfig, KpppoedService } from "./keys.ts";

/** A discovery frame as a {@linkcode DiscoveryPort} delivers it. */
export interface PortFrame {
  /** The sender's MAC, "aa:bb:cc:dd:ee:ff". */
  source: string;
  /** How it was addressed: "host" (to us), "broadcast", "multicast" or "otherhost". */
  packetType: string;
  /** The Ethernet payload: the PPPoE header onwards. */
  payload: Uint8Array;
}

/**
 * Where discovery frames come from and go to: a `PacketSocket` from `openDiscoverySocket`, or a
 * fake. Iterating it yields frames until it is closed.
 *
 * @example Usage
 * ```ts
 * import type { DiscoveryPort } from "./service.ts";
 * const sent: string[] = [];
 * const port: DiscoveryPort = {
 *   mac: "02:00:00:00:00:01",
 *   send: (_payload, to) => sent.push(to) > 0,
 *   close: () => {},
 *   async *[Symbol.asyncIterator]() {},
 * };
 * port.send(new Uint8Array(6), "ff:ff:ff:ff:ff:ff");
 * console.log(sent); // [ "ff:ff:ff:ff:ff:ff" ]
 * ```
 */
export interface DiscoveryPort extends AsyncIterable<PortFrame> {
  /** Our MAC address on the interface. */
  readonly mac: string;
  /**
   * Send one Ethernet payload (EtherType 0x8863).
   *
   * @param payload The PPPoE packet.
   * @param to The destination MAC.
   * @returns Whether it was sent (false: dropped for a soft error, e.g. the interface is down).
   */
  send(payload: Uint8Array, to: string): boolean;
  /** Stop: the iteration ends. */
  close(): void;
}

/** Options of {@linkcode AccessConcentrator}. */
export interface AccessConcentratorOptions {
  /** The configuration: AC-Name, interface, services with their LNS, session limit. */
  config: KpppoedConfig;
  /** Where the tunnels to the LNS are made (its data plane does the bridging). */
  context: Context;
  /** The discovery socket on `config.interfaceName`. */
  port: DiscoveryPort;
  /** Logger (default: the `l2tpd.kpppoed` category). */
  log?: Log;
  /** Time source of the AC-Cookie buckets (default `performance`). */
  clock?: { now(): number };
}

/**
 * One PPPoE session in {@linkcode KpppoedStatus}.
 *
 * @example Usage
 * ```ts
 * import type { PppoeSessionStatus } from "./service.ts";
 * const s: PppoeSessionStatus = { sessionId: 1, peerMac: "02:00:00:00:00:02",
 *   service: "internet", state: "connecting", session: "pppoe-0001" };
 * console.log(s.state); // connecting
 * ```
 */
export interface PppoeSessionStatus {
  /** The PPPoE SESSION_ID. */
  sessionId: number;
  /** The subscriber's MAC address. */
  peerMac: string;
  /** The service it asked for. */
  service: string;
  /** `up` once its L2TP session is established and bridged; `connecting` before. */
  state: "up" | "connecting";
  /** The LNS it is carried to (or being carried to). */
  lns?: string;
  /** The tunnel it is in. */
  tunnel?: string;
  /** Its session's name in that tunnel. */
  session: string;
  /** Our L2TP tunnel ID, once the session is up. */
  localTunnelId?: number;
  /** Our L2TP session ID, once the session is up. */
  localSessionId?: number;
  /** When it came up (ISO 8601). */
  upSince?: string;
}

/**
 * kpppoed's status: the context's (its tunnels, as `l2tpd show` prints them) plus the access
 * concentrator's PPPoE sessions and discovery counters.
 *
 * @example Usage
 * ```ts
 * import type { KpppoedStatus } from "./service.ts";
 * const s: KpppoedStatus = { time: "", tunnels: [], acName: "kpppoed", interface: "eth1",
 *   mac: "02:00:00:00:00:01", pppoe: { sessions: [], counters: {} } };
 * console.log(s.pppoe.sessions.length); // 0
 * ```
 */
export interface KpppoedStatus extends ContextStatus {
  /** Our AC-Name. */
  acName: string;
  /** The interface discovery runs on. */
  interface: string;
  /** Our MAC on it. */
  mac: string;
  /** PPPoE sessions and the discovery counters. */
  pppoe: {
    /** Every session discovery has opened and not yet ended. */
    sessions: PppoeSessionStatus[];
    /** The discovery counters (frames, answers, drops by reason). */
    counters: Record<string, number | Record<string, number>>;
  };
}

/** A tunnel to one LNS (with one service's settings), shared by the sessions it carries. */
interface LnsLink {
  /** The settings it was made for: LNS list, its index, tunnel settings. */
  readonly key: string;
  /** The tunnel's name in the context. */
  readonly name: string;
  readonly service: KpppoedService;
  /** Index of its LNS in `service.lns`. */
  readonly lnsIndex: number;
  /** The tunnel, once made; `undefined` when it could not be. */
  readonly tunnel: Promise<Tunnel | undefined>;
  /** Its sessions, by session name. */
  readonly subscribers: Map<string, Subscriber>;
  up: boolean;
  closing: boolean;
}

/** A PPPoE session and where it is carried. */
interface Subscriber {
  readonly pppoe: DiscoveredSession;
  readonly mac: string;
  readonly service: KpppoedService;
  /** Its session's name in the tunnel. */
  readonly name: string;
  state: "connecting" | "up" | "closing";
  link?: LnsLink;
  handle?: Session;
  localTunnelId?: number;
  localSessionId?: number;
  since?: number;
}

const NOT_US = new Uint8Array(6);

/**
 * The access concentrator: see the module documentation.
 */
export class AccessConcentrator implements AsyncDisposable {
  readonly #config: KpppoedConfig;
  readonly #ctx: Context;
  readonly #port: DiscoveryPort;
  readonly #log: RateLimitedLog;
  readonly #server: DiscoveryServer;
  readonly #localMac: Uint8Array;
  /** Sessions by PPPoE SESSION_ID. */
  readonly #subscribers = new Map<number, Subscriber>();
  /** Tunnels being set up or up, by settings key (the one new sessions join). */
  readonly #links = new Map<string, LnsLink>();
  /** Every tunnel of ours not yet over, by name (events find theirs here). */
  readonly #byName = new Map<string, LnsLink>();
  readonly #pending = new Set<Promise<void>>();
  readonly #stopEvents: () => void;
  #serial = 0;
  #closing?: Promise<void>;

  /**
   * An access concentrator on `options.port`; call {@linkcode AccessConcentrator.run} to serve.
   *
   * @param options Configuration, context, port, logger.
   */
  constructor(options: AccessConcentratorOptions) {
    const { config } = options;
    this.#config = config;
    this.#ctx = options.context;
    this.#port = options.port;
    this.#log = rateLimitedLog(options.log ?? getLog("kpppoed"));
    this.#localMac = parseMac(options.port.mac);
    this.#server = new DiscoveryServer({
      localMac: this.#localMac,
      services: config.services.map((s) => s.name),
      acName: config.acName,
      maxSessions: config.maxSessions,
      perMacLimit: config.maxSessionsPerMac,
      clock: options.clock,
    });
    this.#stopEvents = this.#ctx.onEvent((e) => this.#onEvent(e));
  }

  /** PPPoE sessions open now. */
  get size(): number {
    return this.#subscribers.size;
  }

  /**
   * Serve discovery until the port closes (see {@linkcode AccessConcentrator.close}). A frame
   * that cannot be handled is dropped and counted; nothing a subscriber sends ends the loop.
   *
   * @returns When the port has no more frames.
   */
  async run(): Promise<void> {
    for await (const frame of this.#port) {
      if (this.#closing) break;
      try {
        this.#receive(frame);
      } catch (error) {
        this.#log.error("Cannot handle a discovery frame from {mac}: {error}", {
          mac: frame.source,
          error: String(error),
        });
      }
    }
  }

  /**
   * A snapshot: the tunnels, the PPPoE sessions and the discovery counters.
   *
   * @returns The status (plain data).
   */
  status(): KpppoedStatus {
    return this.#withPppoe(this.#ctx.status());
  }

  /**
   * {@linkcode AccessConcentrator.status} with the kernel counters of tunnels and sessions.
   *
   * @returns The status (plain data).
   */
  async readStatus(): Promise<KpppoedStatus> {
    return this.#withPppoe(await this.#ctx.readStatus());
  }

  /**
   * End one PPPoE session from our side: PADT to the subscriber, CDN to the LNS.
   *
   * @param sessionId The PPPoE SESSION_ID.
   * @param reason Why (the PADT's Generic-Error text).
   * @returns Once its L2TP session is closed.
   * @throws {Error} When there is no such session.
   */
  async terminate(sessionId: number, reason = "administrative"): Promise<void> {
    const sub = this.#subscribers.get(sessionId);
    if (sub === undefined) {
      throw new Error(`Cannot end PPPoE session ${sessionId}: there is no such session`);
    }
    await this.#end(sub, reason, true);
  }

  /**
   * Send every subscriber a PADT, close every tunnel (CDN and StopCCN), stop reading the port.
   * Idempotent. The context stays open (its owner closes it).
   *
   * @returns Once every tunnel is closed.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      const ending = [...this.#subscribers.values()].map((s) =>
        this.#end(s, "shutting down", true)
      );
      this.#port.close();
      await Promise.all(ending);
      while (this.#pending.size > 0) await Promise.all([...this.#pending]);
      await Promise.all([...this.#byName.values()].map((l) => this.#closeLink(l)));
      this.#stopEvents();
      this.#log.flush();
    })();
    return this.#closing;
  }

  /** As {@linkcode AccessConcentrator.close}: `await using ac = ...`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #withPppoe(status: ContextStatus): KpppoedStatus {
    const sessions = [...this.#subscribers.values()].map((s): PppoeSessionStatus => ({
      sessionId: s.pppoe.sessionId,
      peerMac: s.mac,
      service: s.service.name,
      state: s.state === "up" ? "up" : "connecting",
      lns: s.link ? formatEndpoint(s.service.lns[s.link.lnsIndex]) : undefined,
      tunnel: s.link?.name,
      session: s.name,
      localTunnelId: s.localTunnelId,
      localSessionId: s.localSessionId,
      upSince: s.since !== undefined ? new Date(s.since).toISOString() : undefined,
    }));
    const { malformed, ...counts } = this.#server.counters;
    return {
      ...status,
      acName: this.#config.acName,
      interface: this.#config.interfaceName,
      mac: this.#port.mac,
      pppoe: { sessions, counters: { ...counts, malformed: { ...malformed } } },
    };
  }

  // --- Discovery ------------------------------------------------------------------------------

  #receive(frame: PortFrame): void {
    const destination = frame.packetType === "broadcast"
      ? BROADCAST_MAC
      : frame.packetType === "host"
      ? this.#localMac
      : NOT_US;
    let source: Uint8Array;
    try {
      source = parseMac(frame.source);
    } catch {
      source = NOT_US; // counted as malformed by the server
    }
    const out = this.#server.receive({ source, destination, payload: frame.payload });
    for (const f of out.frames) this.#send(f.payload, f.destination);
    for (const e of out.events) this.#onDiscovery(e);
  }

  #send(payload: Uint8Array, destination: Uint8Array): void {
    if (!this.#port.send(payload, formatMac(destination))) {
      this.#log.warn("Cannot send a discovery frame on {ifname}: the interface dropped it", {
        ifname: this.#config.interfaceName,
      });
    }
  }

  #onDiscovery(e: DiscoveryEvent): void {
    if (e.type === "terminated") {
      const sub = this.#subscribers.get(e.sessionId);
      const why = e.reason ? `: ${e.reason}` : "";
      if (sub) this.#track(this.#end(sub, `the subscriber sent PADT${why}`, false));
      return;
    }
    const service = this.#config.services.find((s) => s.name === e.service);
    if (service === undefined || this.#closing) {
      const padt = this.#server.terminate(e.sessionId, "AC is shutting down");
      if (padt) this.#send(padt.payload, padt.destination);
      return;
    }
    const sub: Subscriber = {
      pppoe: e,
      mac: formatMac(e.peerMac),
      service,
      name: `pppoe-${e.sessionId.toString(16).padStart(4, "0")}`,
      state: "connecting",
    };
    this.#subscribers.set(e.sessionId, sub);
    this.#log.debug("PPPoE session {pppoeSessionId} from {mac} for {service}: opening", {
      pppoeSessionId: e.sessionId,
      mac: sub.mac,
      service: service.name,
    });
    this.#attach(sub, 0);
  }

  // --- Tunnels and sessions towards the LNS ---------------------------------------------------

  /** Carry `sub` to its service's LNS number `lnsIndex`. */
  #attach(sub: Subscriber, lnsIndex: number): void {
    const link = this.#linkFor(sub.service, lnsIndex);
    sub.link = link;
    sub.handle = undefined;
    link.subscribers.set(sub.name, sub);
    this.#track((async () => {
      const tunnel = await link.tunnel;
      if (tunnel === undefined || sub.link !== link || sub.state === "closing") return;
      try {
        const handle = await tunnel.newSession(sub.name, this.#sessionConfig(sub));
        if (sub.link === link && !ending(sub)) sub.handle = handle;
        else await handle.close();
      } catch (error) {
        await this.#end(sub, `cannot open its L2TP session: ${errorText(error)}`, true);
      }
    })());
  }

  /** The tunnel new sessions of `service` to its LNS `lnsIndex` join, made if need be. */
  #linkFor(service: KpppoedService, lnsIndex: number): LnsLink {
    const key = JSON.stringify([service.lns, lnsIndex, tunnelSettings(service)]);
    const existing = this.#links.get(key);
    if (existing && !existing.closing) return existing;
    const lns = service.lns[lnsIndex];
    let name = `lns-${formatEndpoint(lns)}`;
    while (this.#byName.has(name) || this.#ctx.tunnel(name) !== undefined) {
      name = `lns-${formatEndpoint(lns)}-${++this.#serial}`;
    }
    const config: TunnelConfig = {
      mode: "dynamic",
      version: 2,
      encap: "udp",
      managed: true,
      role: "lac",
      peer: lns,
      ...tunnelSettings(service),
    };
    const link: LnsLink = {
      key,
      name,
      service,
      lnsIndex,
      subscribers: new Map(),
      up: false,
      closing: false,
      tunnel: this.#ctx.newDynamicTunnel(name, config).catch((error) => {
        this.#failover(link, errorText(error)); // (runs after the link is registered below)
        return undefined;
      }),
    };
    this.#links.set(key, link);
    this.#byName.set(name, link);
    this.#log.info("Dialling LNS {lns} for service {service} (tunnel {tunnel})", {
      lns: formatEndpoint(lns),
      service: service.name,
      tunnel: name,
    });
    return link;
  }

  #sessionConfig(sub: Subscriber): SessionConfig {
    return {
      pseudowire: "pppac",
      sendSeqnum: false,
      recvSeqnum: false,
      l2specType: "none",
      pppoeSessionId: sub.pppoe.sessionId,
      pppoePeerMac: sub.pppoe.peerMac,
      interfaceName: this.#config.interfaceName,
    };
  }

  /** The tunnel could not be set up: its sessions try the next LNS, or end. */
  #failover(link: LnsLink, reason: string): void {
    this.#forgetLink(link);
    const next = link.lnsIndex + 1 < link.service.lns.length ? link.lnsIndex + 1 : undefined;
    const waiting = [...link.subscribers.values()].filter((s) => s.state !== "closing");
    link.subscribers.clear();
    if (waiting.length === 0) return;
    const lns = formatEndpoint(link.service.lns[link.lnsIndex]);
    if (next !== undefined && !this.#closing) {
      this.#log.warn("LNS {lns} did not answer ({reason}): trying {next} for {n} session(s)", {
        lns,
        reason,
        next: formatEndpoint(link.service.lns[next]),
        n: waiting.length,
      });
      for (const sub of waiting) this.#attach(sub, next);
      return;
    }
    this.#log.warn("No LNS of service {service} answered (last: {lns}, {reason})", {
      service: link.service.name,
      lns,
      reason,
    });
    for (const sub of waiting) {
      sub.link = undefined;
      this.#track(this.#end(sub, "no LNS answered", true));
    }
  }

  /** The context's events for our tunnels: the link's and sessions' states follow them. */
  #onEvent(e: L2tpEvent): void {
    const link = this.#byName.get(e.tunnel);
    if (link === undefined) return;
    switch (e.type) {
      case "tunnel-up":
        link.up = true;
        break;
      case "tunnel-down": {
        if (e.wasUp !== true) {
          this.#failover(link, e.reason);
          break;
        }
        this.#forgetLink(link);
        for (const sub of [...link.subscribers.values()]) {
          this.#track(this.#end(sub, `the tunnel to the LNS went down: ${e.reason}`, true));
        }
        break;
      }
      case "session-up": {
        const sub = link.subscribers.get(e.session);
        if (sub === undefined || sub.state === "closing") break;
        sub.state = "up";
        sub.since = Date.now();
        sub.localTunnelId = e.localTunnelId;
        sub.localSessionId = e.localSessionId;
        this.#log.info("PPPoE session {pppoeSessionId} from {mac} up: L2TP {tunnel}/{sid}", {
          pppoeSessionId: sub.pppoe.sessionId,
          mac: sub.mac,
          service: sub.service.name,
          tunnel: link.name,
          sid: e.localSessionId,
        });
        break;
      }
      case "session-down": {
        const sub = link.subscribers.get(e.session);
        // Before the tunnel is up, a call that goes down goes with its tunnel: failover.
        if (sub === undefined || sub.state === "closing" || !link.up) break;
        this.#track(this.#end(sub, `the LNS ended its L2TP session: ${e.reason}`, true));
        break;
      }
    }
  }

  /**
   * End a session once: a PADT (unless the subscriber sent one), its L2TP session closed, and
   * its tunnel closed when it was the last one there.
   */
  async #end(sub: Subscriber, reason: string, padt: boolean): Promise<void> {
    if (sub.state === "closing") return;
    const wasUp = sub.state === "up";
    sub.state = "closing";
    this.#subscribers.delete(sub.pppoe.sessionId);
    if (padt) {
      const frame = this.#server.terminate(sub.pppoe.sessionId, reason);
      if (frame) this.#send(frame.payload, frame.destination);
    }
    this.#log.info("PPPoE session {pppoeSessionId} from {mac} down: {reason}", {
      pppoeSessionId: sub.pppoe.sessionId,
      mac: sub.mac,
      service: sub.service.name,
      reason,
      wasUp,
    });
    const link = sub.link;
    try {
      await sub.handle?.close();
    } catch (error) {
      this.#log.warn("Cannot close L2TP session {session}: {error}", {
        session: sub.name,
        error: errorText(error),
      });
    }
    if (link === undefined) return;
    link.subscribers.delete(sub.name);
    if (link.subscribers.size === 0) await this.#closeLink(link);
  }

  /** Close a link's tunnel (StopCCN) once. */
  async #closeLink(link: LnsLink): Promise<void> {
    if (link.closing) return;
    link.closing = true;
    this.#forgetLink(link);
    const tunnel = await link.tunnel;
    try {
      await tunnel?.close();
    } catch (error) {
      this.#log.warn("Cannot close tunnel {tunnel}: {error}", {
        tunnel: link.name,
        error: errorText(error),
      });
    }
  }

  #forgetLink(link: LnsLink): void {
    if (this.#links.get(link.key) === link) this.#links.delete(link.key);
    if (this.#byName.get(link.name) === link) this.#byName.delete(link.name);
  }

  /** Keep a background step until it ends (close waits for them); its errors are logged. */
  #track(p: Promise<void>): void {
    const tracked = p.catch((error) => {
      this.#log.error("kpppoed: {error}", { error: errorText(error) });
    }).finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }
}

/** The tunnel settings of a service (what makes two services' tunnels to one LNS differ). */
function tunnelSettings(service: KpppoedService): Partial<TunnelConfig> {
  return {
    secret: service.secret,
    hideAvps: service.hideAvps,
    hostName: service.hostName,
    helloTimeoutMs: service.helloTimeoutMs,
    retryTimeoutMs: service.retryTimeoutMs,
    maxRetries: service.maxRetries,
    windowSize: service.windowSize,
  };
}

/** Whether it is being ended (a function: the state changes across an `await`). */
function ending(sub: Subscriber): boolean {
  return sub.state === "closing";
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
