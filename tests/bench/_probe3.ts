import { Daemon } from "../../lib/daemon.ts";
import type { Log, LogProperties } from "../../lib/log.ts";
import { NullDataPlane } from "../../dataplane/null.ts";
import { startXl2tpd, stopAllXl2tpd } from "../kernel/_xl2tpd.ts";
const lines: string[] = [];
const mk = (props: LogProperties): Log => {
  const add = (lvl: string) => (m: string, p?: LogProperties) => {
    const all = { ...props, ...p };
    lines.push(`${(performance.now()).toFixed(1)} ${lvl} ${m.replace(/\{(\w+)\}/g, (_, k) => String(all[k]))}`);
  };
  return { category: ["x"], trace: add("T"), debug: add("D"), info: add("I"), warn: add("W"), error: add("E"), fatal: add("F"), with: (q) => mk({ ...props, ...q }) };
};
const n = Number(Deno.args[0] ?? 1000);
const port = 25000 + Math.floor(Math.random() * 1000);
const xl = await startXl2tpd({ config: { global: { listenAddr: "127.0.0.1", port, debug: true }, lns: [{ hostname: "xl", assignIp: false }] }, stubPppd: true });
const dp = new NullDataPlane();
const d = new Daemon({ dataPlane: dp, pppd: false, logger: mk({}), config: { file: "x", tunnels: [{ name: "lac", mode: "dynamic", role: "lac", version: 2, encap: "udp", managed: true, hostName: "lac", peer: { address: "127.0.0.1", port }, sessions: Array.from({ length: n }, (_, i) => ({ name: `s${i}`, pseudowire: "ppp", sendSeqnum: false, recvSeqnum: false, l2specType: "none" })) }] } });
await d.start();
await new Promise((r) => setTimeout(r, 15000));
await d.stop();
await stopAllXl2tpd();
Deno.writeTextFileSync("/tmp/xl/ours.log", lines.join("\n"));
Deno.writeTextFileSync("/tmp/xl/xl.log", xl.output());
dp.close();
