/**
 * The library's face, end to end, on loopback: a static L2TPv3 tunnel with one session, and an
 * L2TPv2 LAC tunnel with two sessions dialling an LNS tunnel of the same context.
 *
 * It prints every event, then `JSON.stringify(ctx.status())`, closes one LAC session while the
 * other stays up, closes everything and prints the down events.
 *
 * - `deno run -A examples/two_tunnels.ts` runs it on the null data plane (no root needed);
 * - `sudo deno run -A examples/two_tunnels.ts --kernel` on the kernel's (the l2tp modules must be
 *   loaded; the test VM runs it so).
 *
 * Exit 0 when every step happened as described, 1 otherwise.
 *
 * @module
 */

import {
  Context,
  type DataPlane,
  KernelDataPlane,
  type L2tpEvent,
  NullDataPlane,
  parseConfig,
} from "../lib/mod.ts";

const kernel = Deno.args.includes("--kernel");
const port = 17000 + Math.floor(Math.random() * 20000);

// One file, three tunnels: the static v3 pair's near end, the LNS and the LAC.
const config = parseConfig(
  `
[tunnel.static3]
mode = "static"
version = "l2tpv3"
encap = "udp"
local = "127.0.0.1:${port + 1}"
peer = "127.0.0.1:${port + 2}"
tid = 3001
ptid = 3002

[tunnel.static3.session.pw1]
sid = 4001
psid = 4002
pseudowire = "eth"

[tunnel.lns]
mode = "dynamic"
role = "lns"
version = "l2tpv2"
local = "127.0.0.1:${port}"
peer = "127.0.0.1"
host_name = "lns"

[tunnel.lns.session.ppp]
pseudowire = "ppp"

[tunnel.lac]
mode = "dynamic"
role = "lac"
version = "l2tpv2"
peer = "127.0.0.1:${port}"
host_name = "lac"

[tunnel.lac.session.call1]
pseudowire = "ppp"

[tunnel.lac.session.call2]
pseudowire = "ppp"
`,
  "two_tunnels.toml",
);

const dataplane: DataPlane = kernel ? await KernelDataPlane.open() : new NullDataPlane();
// pppd would need a PPP peer; this example shows the control plane and the kernel sessions.
const ctx = new Context({ dataplane, pppd: false, stopGraceMs: 300 });
const events = ctx.events();
const seen: L2tpEvent[] = [];
const consumer = (async () => {
  for await (const e of events) {
    seen.push(e);
    const who = "session" in e ? `${e.tunnel}/${e.session}` : e.tunnel;
    console.log(`event ${e.type} ${who}`);
  }
})();

async function until(what: string, ok: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`Cannot finish the example: no ${what} in 10 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
const count = (type: L2tpEvent["type"], tunnel?: string): number =>
  seen.filter((e) => e.type === type && (tunnel === undefined || e.tunnel === tunnel)).length;

let failed = false;
try {
  // The LNS first, so that the LAC finds it listening.
  for (const name of ["static3", "lns", "lac"]) {
    const t = config.tunnels.find((t) => t.name === name);
    if (!t) throw new Error(`Cannot find tunnel ${name} in the config`);
    const tunnel = t.config.mode === "static"
      ? await ctx.newStaticTunnel(t.name, t.config)
      : await ctx.newDynamicTunnel(t.name, t.config);
    for (const s of t.sessions) await tunnel.newSession(s.name, s.config);
  }
  // static3 and its session; the LAC's tunnel and the LNS's; two sessions on each side.
  await until("up events", () => count("tunnel-up") === 3 && count("session-up") === 5);
  console.log(JSON.stringify(ctx.status()));
  const kernelTunnels = await dataplane.listTunnels();
  const kernelSessions = await dataplane.listSessions();
  console.log(`data plane: ${kernelTunnels.length} tunnels, ${kernelSessions.length} sessions`);

  const lac = ctx.tunnel("lac");
  const call1 = lac?.sessions.find((s) => s.name === "call1");
  if (!lac || !call1) throw new Error("Cannot find the LAC's session call1");
  await call1.close();
  await until("session-down on both ends", () => count("session-down") === 2);
  const still = lac.status().sessions.map((s) => `${s.name}:${s.state}`);
  console.log(`after closing call1: ${still.join(" ")}`);
  if (still.join(" ") !== "call2:up") throw new Error(`Cannot keep call2 up: ${still}`);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  failed = true;
} finally {
  await ctx.close();
  await consumer;
  dataplane.close();
}
const downs = `${count("tunnel-down")} tunnel-down, ${count("session-down")} session-down`;
console.log(`closed: ${downs}`);
// Every tunnel (static3, the LAC's, the LNS's accepted one) and every session (5) went down.
if (count("tunnel-down") !== 3 || count("session-down") !== 5) failed = true;
const left = await dataplane.listTunnels().catch(() => []);
if (kernel && left.length > 0) failed = true;
Deno.exit(failed ? 1 : 0);
