/**
 * `l2tpd show`: a status snapshot as two tables for people, in the manner of `ip l2tp show` and
 * `accel-cmd show sessions`: one line per tunnel (a responder's accepted peers each on a line
 * of their own, named `TUNNEL#N`), then one line per session (`TUNNEL/SESSION`).
 *
 * Tunnel columns: name, mode, state, local and peer tunnel IDs, the peer's address, uptime, the
 * kernel tunnel's counters (rx/tx packets and bytes, rx and tx errors, rx discards) and the
 * control connection's (messages sent, received, retransmitted). Session columns: name, state,
 * pseudowire, local and peer session IDs, uptime, interface, and the kernel session's counters.
 * A value that does not apply, or is not known yet, is `-`.
 *
 * @example Usage
 * ```ts
 * import { formatStatusTable } from "./show.ts";
 * console.log(formatStatusTable({
 *   time: "2026-01-01T00:00:00.000Z",
 *   tunnels: [{
 *     name: "t1", mode: "static", version: 3, encap: "ip", state: "up", localTunnelId: 1,
 *     peerTunnelId: 2, peer: { address: "192.0.2.2", port: 0 }, uptimeSeconds: 3725,
 *     sessions: [{
 *       name: "s1", state: "up", pseudowire: "eth", localSessionId: 10, peerSessionId: 20,
 *       interface: "l2tpeth0", uptimeSeconds: 3725,
 *     }],
 *   }],
 * }));
 * ```
 *
 * @module
 */

import { formatEndpoint } from "../control/endpoint.ts";
import type { Endpoint } from "../control/types.ts";
import type { KpppoedStatus, PppoeSessionStatus } from "./kpppoed/service.ts";
import type {
  ConnectionStatus,
  ContextStatus,
  KernelCounters,
  SessionStatus,
  TunnelStatus,
} from "./tunnel.ts";

/**
 * A duration in seconds, short: `42s`, `5m03s`, `2h07m`, `3d04h`; `-` when unknown.
 *
 * @example Usage
 * ```ts
 * import { formatUptime } from "./show.ts";
 * console.log(formatUptime(3725)); // 1h02m
 * ```
 */
export function formatUptime(seconds: number | undefined): string {
  if (seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return "-";
  const s = Math.floor(seconds);
  const two = (n: number): string => String(n).padStart(2, "0");
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${two(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${two(Math.floor(s / 60) % 60)}m`;
  return `${Math.floor(s / 86400)}d${two(Math.floor(s / 3600) % 24)}h`;
}

const TUNNEL_HEADER = [
  "TUNNEL",
  "MODE",
  "STATE",
  "LOCAL-ID",
  "PEER-ID",
  "PEER",
  "UPTIME",
  "RX-PKTS",
  "RX-BYTES",
  "RX-ERR",
  "RX-DISC",
  "TX-PKTS",
  "TX-BYTES",
  "TX-ERR",
  "CTL-TX",
  "CTL-RX",
  "CTL-RETX",
];

const SESSION_HEADER = [
  "SESSION",
  "STATE",
  "PW",
  "LOCAL-ID",
  "PEER-ID",
  "UPTIME",
  "INTERFACE",
  "RX-PKTS",
  "RX-BYTES",
  "RX-ERR",
  "RX-DISC",
  "TX-PKTS",
  "TX-BYTES",
  "TX-ERR",
];

/** The columns that hold numbers (IDs and counters): right-aligned. */
const TUNNEL_NUMERIC = new Set([3, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
const SESSION_NUMERIC = new Set([3, 4, 7, 8, 9, 10, 11, 12, 13]);

/**
 * The status as text: the tunnel table, then (when there are sessions) the session table.
 *
 * @param status A snapshot, as `Daemon.readStatus()` gives it or `show --json` prints it.
 * @returns Lines ending in a newline.
 *
 * @example Usage
 * ```ts
 * import { formatStatusTable } from "./show.ts";
 * console.log(formatStatusTable({ time: "2026-01-01T00:00:00.000Z", tunnels: [] })); // No tunnels.
 * ```
 */
export function formatStatusTable(status: ContextStatus): string {
  // kpppoed's status has its PPPoE sessions too (lib/kpppoed/service.ts).
  const pppoe = (status as Partial<KpppoedStatus>).pppoe?.sessions;
  const pppoeTable = Array.isArray(pppoe)
    ? "\n" +
      (pppoe.length > 0
        ? table(PPPOE_HEADER, pppoe.map(pppoeRow), PPPOE_NUMERIC)
        : "No PPPoE sessions.\n")
    : "";
  if (status.tunnels.length === 0) return "No tunnels.\n" + pppoeTable;
  const tunnels: string[][] = [];
  const sessions: string[][] = [];
  for (const t of status.tunnels) {
    if (t.peers !== undefined) {
      tunnels.push(tunnelRow(t.name, t, t));
      t.peers.forEach((p, i) => {
        const name = `${t.name}#${i + 1}`;
        tunnels.push(tunnelRow(name, t, p));
        for (const s of p.sessions) sessions.push(sessionRow(`${name}/${s.name}`, s));
      });
    } else {
      tunnels.push(tunnelRow(t.name, t, t));
      for (const s of t.sessions) sessions.push(sessionRow(`${t.name}/${s.name}`, s));
    }
  }
  let out = table(TUNNEL_HEADER, tunnels, TUNNEL_NUMERIC);
  if (sessions.length > 0) out += "\n" + table(SESSION_HEADER, sessions, SESSION_NUMERIC);
  return out + pppoeTable;
}

const PPPOE_HEADER = ["PPPOE-ID", "MAC", "SERVICE", "STATE", "LNS", "L2TP-SESSION", "UP-SINCE"];
const PPPOE_NUMERIC = new Set([0]);

function pppoeRow(s: PppoeSessionStatus): string[] {
  return [
    `0x${s.sessionId.toString(16).padStart(4, "0")}`,
    s.peerMac,
    s.service,
    s.state,
    s.lns ?? "-",
    s.tunnel === undefined ? "-" : `${s.tunnel}/${s.session}`,
    s.upSince ?? "-",
  ];
}

function tunnelRow(
  name: string,
  t: TunnelStatus,
  c: Omit<ConnectionStatus, "state"> & { state: string },
): string[] {
  const k = c.kernel;
  const ctl = c.counters;
  return [
    name,
    t.role === undefined ? t.mode : `${t.mode}/${t.role}`,
    c.state,
    id(c.localTunnelId),
    id(c.peerTunnelId),
    endpoint(c.peer),
    formatUptime(c.uptimeSeconds),
    ...kernelColumns(k),
    num(ctl?.sent),
    num(ctl?.received),
    num(ctl?.retransmits),
  ];
}

function sessionRow(name: string, s: SessionStatus): string[] {
  return [
    name,
    s.state,
    s.pseudowire,
    id(s.localSessionId),
    id(s.peerSessionId),
    formatUptime(s.uptimeSeconds),
    s.interface ?? "-",
    ...kernelColumns(s.kernel),
  ];
}

function kernelColumns(k: KernelCounters | undefined): string[] {
  return [
    num(k?.rxPackets),
    num(k?.rxBytes),
    num(k?.rxErrors),
    num(k?.rxDiscards),
    num(k?.txPackets),
    num(k?.txBytes),
    num(k?.txErrors),
  ];
}

function id(value: number | undefined): string {
  return value === undefined ? "-" : String(value);
}

function num(value: number | undefined): string {
  return value === undefined ? "-" : String(value);
}

function endpoint(ep: Endpoint | undefined): string {
  if (ep === undefined) return "-";
  return ep.port === 0 ? ep.address : formatEndpoint(ep);
}

function table(header: string[], rows: string[][], numeric: ReadonlySet<number>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => numeric.has(i) ? c.padStart(widths[i]) : c.padEnd(widths[i])).join("  ")
      .trimEnd() + "\n";
  return line(header) + rows.map(line).join("");
}
