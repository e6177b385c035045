/**
 * One side of a static PPP pseudowire, for the kernel tests: run inside a network namespace
 * (`ip netns exec`), it opens a UDP tunnel socket, creates the kernel tunnel over netlink with it
 * (a managed tunnel), starts pppd on a PPPoL2TP session socket, prints `READY <ifname>` once pppd
 * names the interface, and on SIGTERM stops pppd, deletes the tunnel and exits 0. When pppd ends
 * by itself it cleans up at once, prints `PPPD-EXIT <code>` and waits for SIGTERM.
 *
 * ```sh
 * _ppp_host.ts --version 2 --local 10.0.0.1:1701 --peer 10.0.0.2:1701 --tid 1 --ptid 2 \
 *   --sid 3 --psid 4 --ifname ppp-l2tp --addrs 10.99.0.1:10.99.0.2 [--lns] [--seq] \
 *   [--session netlink]
 * ```
 *
 * `--session netlink` creates the session over netlink before pppd attaches (default: the
 * PPPoL2TP connect creates it), with default settings: LNS mode and sequencing (`--lns`,
 * `--seq`) are always left to pppd's plugin options, so the test sees that they take effect.
 * Only the L2TPv3 L2-Specific Sublayer, which carries v3 sequence numbers and which pppd cannot
 * set, is chosen here (`default` with `--seq`). No L2TPv2 tunnel management socket (session 0) is opened: with
 * the tunnel created over netlink the kernel does not need one.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { KernelDataPlane } from "../../dataplane/kernel.ts";
import { startPppd } from "../../dataplane/pppd.ts";
import { openTunnelSocket } from "../../dataplane/socket.ts";
import type { Endpoint } from "../../dataplane/dataplane.ts";

function endpoint(text: string): Endpoint {
  const i = text.lastIndexOf(":");
  return { address: text.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(text.slice(i + 1)) };
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    version: { type: "string", default: "2" },
    local: { type: "string" },
    peer: { type: "string" },
    tid: { type: "string" },
    ptid: { type: "string" },
    sid: { type: "string" },
    psid: { type: "string" },
    ifname: { type: "string" },
    addrs: { type: "string" },
    lns: { type: "boolean", default: false },
    seq: { type: "boolean", default: false },
    session: { type: "string", default: "connect" },
  },
});
const need = (v: string | undefined, name: string): string => {
  if (v === undefined) throw new TypeError(`Cannot start PPP host: --${name} is required`);
  return v;
};
const version = Number(values.version) as 2 | 3;
const local = endpoint(need(values.local, "local"));
const peer = endpoint(need(values.peer, "peer"));
const tid = Number(need(values.tid, "tid"));
const ptid = Number(need(values.ptid, "ptid"));
const sid = Number(need(values.sid, "sid"));
const psid = Number(need(values.psid, "psid"));

const log = (text: string): void => console.error(`[ppp-host ${local.address}] ${text}`);

const dp = await KernelDataPlane.open();
const sock = openTunnelSocket({ encap: "udp", local, peer });
await dp.createTunnel({ tunnelId: tid, peerTunnelId: ptid, version, encap: "udp", fd: sock.fd });
if (values.session === "netlink") {
  await dp.createSession({
    tunnelId: tid,
    sessionId: sid,
    peerSessionId: psid,
    pseudowire: "ppp",
    // L2TPv3 carries sequence numbers in the default L2-Specific Sublayer; pppd only sets the
    // sequencing flags, so the sublayer must be chosen here.
    ...(version === 3 && values.seq ? { l2specType: "default" as const, l2specLen: 4 } : {}),
  });
}
const started = performance.now();
const ppp = startPppd({
  tunnelFd: sock.fd,
  version,
  tunnelId: tid,
  sessionId: sid,
  peerTunnelId: ptid,
  peerSessionId: psid,
  peer,
  lnsMode: values.lns,
  sendSeq: values.seq,
  recvSeq: values.seq,
  ifname: values.ifname,
  stopTimeoutMs: 5000,
  extraArgs: [
    "noauth",
    "nodefaultroute",
    "noipdefault",
    "lcp-echo-interval",
    "0",
    ...(values.addrs ? [values.addrs] : []),
  ],
  onOutput: (line) => log(`pppd: ${line}`),
});
log(`pppd ${ppp.pid}: ${ppp.args.join(" ")}`);

let cleaned: Promise<void> | undefined;
const cleanup = (): Promise<void> => {
  cleaned ??= (async () => {
    const exit = await ppp.stop();
    log(`pppd ended: ${exit.code} (${exit.reason})`);
    console.log(`PPPD-EXIT ${exit.code}`);
    try {
      await dp.deleteTunnel(tid);
    } catch (e) {
      log(`tunnel delete: ${e instanceof Error ? e.message : String(e)}`);
    }
    sock.close();
    dp.close();
  })();
  return cleaned;
};
Deno.addSignalListener("SIGTERM", () => {
  cleanup().then(() => Deno.exit(0), (e) => {
    log(`cleanup failed: ${e instanceof Error ? e.message : String(e)}`);
    Deno.exit(1);
  });
});
// If pppd ends by itself, clean up at once but stay until SIGTERM (the test reads PPPD-EXIT);
// a signal listener alone does not keep Deno running, hence the interval.
setInterval(() => {}, 60_000);
ppp.exited.then(() => cleanup());
const name = await ppp.interfaceName.catch(() => undefined);
if (name !== undefined) {
  log(`interface ${name} after ${Math.round(performance.now() - started)} ms`);
  console.log(`READY ${name}`);
}
