/**
 * What several benchmarks share: a bare LAC that opens N sessions in one tunnel, an LNS's
 * configuration, the lines of a child's output, medians and sleeps.
 *
 * @module
 */

import { ControlConnection } from "../../control/connection.ts";
import type { Reactor } from "../../dataplane/reactor.ts";

/** Where an LNS listens. */
export interface LnsAddress {
  /** IPv4 or IPv6 address. */
  address: string;
  /** UDP port. */
  port: number;
}

/**
 * A LAC tunnel (a bare control connection on a reactor UDP socket) to `lns` with `n` sessions,
 * opened `batch` at a time; resolves once every session's ICCN is sent. Throws if the tunnel
 * does not come up or a session is refused.
 *
 * @param reactor The reactor that owns the socket (closed when the connection ends).
 * @param version L2TP version (v2: PPP sessions; v3: Ethernet).
 * @param lns The LNS.
 * @param n Sessions to open.
 * @param batch Sessions opened at once (default 2,000).
 * @returns The connection, with every session up.
 */
export async function dialSessions(
  reactor: Reactor,
  version: 2 | 3,
  lns: LnsAddress,
  n: number,
  batch = 2_000,
): Promise<ControlConnection> {
  const socket = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
  const lac = new ControlConnection({
    version,
    encap: "udp",
    role: "initiator",
    socket,
    peer: lns,
    hostName: "lac",
    receiveWindow: 64,
    maxSessions: n + 1,
    transport: { stopHold: 50 },
    setupTimeout: 600_000,
    onEvent: () => {},
    hooks: {},
  });
  lac.start();
  void lac.done.then(() => socket.close());
  if (!await lac.established) throw new Error("Cannot measure: the tunnel did not come up");
  for (let i = 0; i < n; i += batch) {
    const calls = [];
    for (let k = i; k < Math.min(n, i + batch); k++) {
      calls.push(
        lac.openSession({
          name: `s${k}`,
          pseudowire: version === 2 ? "ppp" : "eth",
          sendSeqnum: false,
          recvSeqnum: false,
          l2specType: "none",
        }).established,
      );
    }
    if ((await Promise.all(calls)).some((ok) => !ok)) {
      throw new Error("Cannot measure: the LNS refused a session");
    }
  }
  return lac;
}

/**
 * The configuration of a dynamic LNS on 127.0.0.1:`port` that accepts any LAC on 127.0.0.1,
 * with PPP sessions (v2) or Ethernet ones (v3).
 *
 * @param port UDP port to listen on.
 * @param version L2TP version.
 * @returns The TOML text.
 */
export function lnsToml(port: number, version: 2 | 3 = 2): string {
  return `[tunnel.lns]
mode = "dynamic"
role = "lns"
version = "${version === 3 ? "l2tpv3" : "l2tpv2"}"
local = "127.0.0.1:${port}"
peer = "127.0.0.1"
host_name = "lns"

[tunnel.lns.session.any]
pseudowire = "${version === 3 ? "eth" : "ppp"}"
`;
}

/**
 * The lines of a byte stream, trimmed, as they complete.
 *
 * @param stream A child's stdout, for instance.
 * @returns The lines.
 */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
    }
  }
}

/**
 * The median of some numbers (the mean of the middle two for an even count).
 *
 * @param xs At least one number.
 * @returns The median.
 */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Resolve after `ms` milliseconds.
 *
 * @param ms Delay.
 */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
