/**
 * What the parts of one control connection share: its resolved configuration (version,
 * encapsulation, IDs, what we say about ourselves, secrets, time limits), its clock, log and
 * hooks, the queue its jobs run on and the stream its events go to. The tunnel
 * (control/tunnel.ts), its call table (control/call_table.ts) and each call (control/call.ts)
 * are given the same context; {@linkcode createConnectionContext} builds it from the options,
 * checking them.
 *
 * @example Usage
 * ```ts
 * import { createConnectionContext } from "./connection_context.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * const ctx = createConnectionContext({
 *   version: 3, encap: "ip", role: "initiator", hostName: "pe1", secret: "s3cret",
 *   localTunnelId: 1,
 *   socket: new MemoryNetwork().socket({ address: "192.0.2.1", port: 0 }),
 *   peer: { address: "192.0.2.2", port: 0 },
 * });
 * console.log(ctx.name, ctx.digest.type, ctx.identity.hostName); // tunnel 1 0 pe1
 * ```
 *
 * @module
 */

import type { Encap, L2tpVersion } from "./types.ts";
import { pseudowireCode, type PseudowireName, type TunnelIdentity } from "./builders.ts";
import { type Clock, systemClock } from "./clock.ts";
import type {
  ConnectionEvent,
  ConnectionHooks,
  ControlConnectionOptions,
  ControlLog,
  SessionParams,
} from "./connection_types.ts";
import { errorText, NOOP_LOG } from "./connection_util.ts";
import { EventStream } from "./event_stream.ts";
import { type DigestConfig, resolveDigest } from "./handshake.ts";
import { IdAllocator } from "./ids.ts";
import { JobQueue } from "./job_queue.ts";
import { randomBytes } from "node:crypto";

/** Tunnel and session establishment time limit unless configured. */
const DEFAULT_SETUP_TIMEOUT = 60_000;

/**
 * One connection's shared configuration and services (see the module documentation).
 *
 * @example Usage
 * ```ts
 * import type { ConnectionContext } from "./connection_context.ts";
 * function line(ctx: ConnectionContext, what: string): void {
 *   ctx.log.info("{tunnel}: {what}", { tunnel: ctx.name, what });
 * }
 * console.log(typeof line); // function
 * ```
 */
export interface ConnectionContext<S extends SessionParams = SessionParams> {
  /** The options as given. */
  readonly options: ControlConnectionOptions<S>;
  /** Protocol version. */
  readonly version: L2tpVersion;
  /** Encapsulation. */
  readonly encap: Encap;
  /** L2TP/IP datagrams carry the 4-byte zero Session ID. */
  readonly ipPrefix: boolean;
  /** Name of the tunnel, for logs. */
  readonly name: string;
  /** Log. */
  readonly log: ControlLog;
  /** Clock. */
  readonly clock: Clock;
  /** Kernel and pppd hooks. */
  readonly hooks: ConnectionHooks<S>;
  /** Random bytes (challenges, nonces, tie breakers, router ID). */
  readonly random: (n: number) => Uint8Array;
  /** Tunnel IDs in use on this host (ours is released when the connection is over). */
  readonly tunnelIds: IdAllocator;
  /** Session IDs in use. */
  readonly sessionIds: IdAllocator;
  /** Our tunnel (control connection) ID. */
  readonly localTunnelId: number;
  /** Shared secret, if a non-empty one is set. */
  readonly secret: string | Uint8Array | undefined;
  /** L2TPv3 Message Digest key and type. */
  readonly digest: DigestConfig;
  /** What we say about ourselves in SCCRQ and SCCRP (and whether we hide AVPs). */
  readonly identity: TunnelIdentity;
  /** Tunnel and session establishment time limit (0: none). */
  readonly setupTimeout: number;
  /** Where every job of the connection runs, one at a time. */
  readonly queue: JobQueue;
  /** Where the connection's events go. */
  readonly events: EventStream<ConnectionEvent<S>>;
}

/**
 * Check the options and resolve their defaults. Our tunnel ID is reserved (or allocated) here.
 *
 * @param options The connection's options.
 * @returns The context.
 * @throws {RangeError} For an option out of range (IDs, version, encapsulation).
 * @throws {TypeError} For options that do not go together (hidden AVPs without a secret).
 *
 * @example Usage
 * ```ts
 * import { createConnectionContext } from "./connection_context.ts";
 * import { MemoryNetwork } from "./memory_socket.ts";
 * try {
 *   createConnectionContext({
 *     version: 2, encap: "ip", role: "initiator", hostName: "lac",
 *     socket: new MemoryNetwork().socket({ address: "192.0.2.1", port: 0 }),
 *     peer: { address: "192.0.2.2", port: 0 },
 *   });
 * } catch (e) {
 *   // Cannot create control connection: only L2TPv3 runs over IP
 *   console.log((e as Error).message);
 * }
 * ```
 */
export function createConnectionContext<S extends SessionParams>(
  options: ControlConnectionOptions<S>,
): ConnectionContext<S> {
  const { version, encap } = options;
  if (version !== 2 && version !== 3) {
    throw new RangeError(`Cannot create control connection: version ${version} is not 2 or 3`);
  }
  if (encap !== "udp" && encap !== "ip") {
    throw new RangeError(`Cannot create control connection: unknown encapsulation ${encap}`);
  }
  if (encap === "ip" && version !== 3) {
    throw new RangeError("Cannot create control connection: only L2TPv3 runs over IP");
  }
  if (options.hideAvps && !options.secret) {
    throw new TypeError("Cannot create control connection: hidden AVPs need a shared secret");
  }
  const log = options.log ?? NOOP_LOG;
  const random = options.random ?? ((n: number): Uint8Array => new Uint8Array(randomBytes(n)));
  const tunnelIds = options.tunnelIds ?? new IdAllocator(version === 2 ? 16 : 32);
  const sessionIds = options.sessionIds ?? new IdAllocator(version === 2 ? 16 : 32);
  let localTunnelId: number;
  if (options.localTunnelId !== undefined) {
    const id = options.localTunnelId;
    const max = version === 2 ? 0xffff : 0xffffffff;
    if (!Number.isInteger(id) || id < 1 || id > max) {
      throw new RangeError(`Cannot create control connection: tunnel ID ${id} not in 1..${max}`);
    }
    if (!tunnelIds.has(id)) tunnelIds.reserve(id);
    localTunnelId = id;
  } else {
    localTunnelId = tunnelIds.allocate();
  }
  const secret = options.secret && options.secret.length > 0 ? options.secret : undefined;
  const digest = resolveDigest(version, secret, options.messageDigest);
  const name = options.name ?? `tunnel ${localTunnelId}`;
  return {
    options,
    version,
    encap,
    ipPrefix: encap === "ip" && options.ipPrefix === true,
    name,
    log,
    clock: options.clock ?? systemClock,
    hooks: options.hooks ?? {},
    random,
    tunnelIds,
    sessionIds,
    localTunnelId,
    secret,
    digest,
    identity: tunnelIdentity(options, random),
    setupTimeout: options.setupTimeout ?? DEFAULT_SETUP_TIMEOUT,
    queue: new JobQueue((e) => {
      log.error("{tunnel}: internal error: {error}", {
        tunnel: name,
        error: e instanceof Error ? e.stack ?? e.message : String(e),
      });
    }),
    events: new EventStream<ConnectionEvent<S>>({
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      onListenerError: (e) => {
        log.error("{tunnel}: event listener failed: {error}", {
          tunnel: name,
          error: errorText(e),
        });
      },
    }),
  };
}

/** What we say about ourselves, from the options (a random non-zero Router ID unless set). */
function tunnelIdentity<S extends SessionParams>(
  options: ControlConnectionOptions<S>,
  random: (n: number) => Uint8Array,
): TunnelIdentity {
  const sessionPws = [...new Set((options.sessions ?? []).map((s) => s.pseudowire))];
  const pws = options.pseudowires ??
    (sessionPws.length > 0 ? sessionPws : ["eth", "eth_vlan", "ppp"] as PseudowireName[]);
  let routerId = options.routerId;
  while (routerId === undefined || routerId === 0) {
    const b = random(4);
    routerId = ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  }
  const framing = options.framingCaps ?? ["sync", "async"];
  const bearer = options.bearerCaps ?? [];
  return {
    version: options.version,
    hostName: options.hostName || "l2tpd",
    vendorName: options.vendorName ?? "l2tpd",
    receiveWindow: options.receiveWindow ?? 16,
    framingCaps: { sync: framing.includes("sync"), async: framing.includes("async") },
    bearerCaps: { analog: bearer.includes("analog"), digital: bearer.includes("digital") },
    routerId,
    pseudowires: [...new Set(pws.map(pseudowireCode))],
    hide: options.hideAvps ?? false,
  };
}
