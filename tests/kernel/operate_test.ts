/**
 * Operating the daemon like a router daemon, against the real kernel: two daemons in two
 * namespaces with a static L2TPv3 Ethernet pseudowire between them. `show --json` agrees with
 * `ip -j l2tp show` and its counters rise with ping; `on_up` runs with the session's `L2TPD_*`
 * variables; SIGHUP after an edit removes one tunnel, adds one and leaves the unchanged one
 * alone (same interface index); a broken edit changes nothing; `/metrics` passes promtool;
 * SIGUSR1 logs the status and opens no inspector; SIGTERM leaves the kernel clean.
 */

import assert from "node:assert/strict";
import { Topology } from "../vm/topology.ts";
import { ipSessions, ipTunnels, kernelTest, ROOT, startDaemon, waitFor } from "./_helpers.ts";

const TID = [101, 102];
const SID = [201, 202];

function keepTunnel(topo: Topology, i: number, hookFile?: string): string {
  const me = topo.hosts[i];
  const other = topo.hosts[1 - i];
  return `[tunnel.keep]
version = "l2tpv3"
encap = "ip"
managed = false
local = "${me.ipv4}"
peer = "${other.ipv4}"
tid = ${TID[i]}
ptid = ${TID[1 - i]}

[tunnel.keep.session.s1]
pseudowire = "eth"
sid = ${SID[i]}
psid = ${SID[1 - i]}
interface_name = "pw0"
${hookFile ? `on_up = ["/bin/sh", "-c", "env > ${hookFile}"]` : ""}
`;
}

/** An extra static tunnel on host 1 only (no data crosses it; it only has to exist). */
function extra(topo: Topology, name: string, tid: number): string {
  return `
[tunnel.${name}]
version = "l2tpv3"
encap = "udp"
managed = false
local = "${topo.hosts[0].ipv4}:${6000 + tid}"
peer = "${topo.hosts[1].ipv4}:${6000 + tid}"
tid = ${tid}
ptid = ${tid}
`;
}

async function cli(topo: Topology, host: number, args: string[]): Promise<string> {
  const r = await topo.exec(host, [
    Deno.execPath(),
    "run",
    "-A",
    "--no-check",
    `${ROOT}main.ts`,
    ...args,
  ], { allowFailure: true });
  if (r.code !== 0) throw new Error(`l2tpd ${args.join(" ")}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

interface ShownSession {
  name: string;
  localSessionId?: number;
  peerSessionId?: number;
  interface?: string;
  kernel?: { rxPackets: number; txPackets: number; rxBytes: number; txBytes: number };
}

interface ShownTunnel {
  name: string;
  state: string;
  localTunnelId?: number;
  peerTunnelId?: number;
  sessions: ShownSession[];
}

async function show(topo: Topology, host: number, socket: string): Promise<ShownTunnel[]> {
  return JSON.parse(await cli(topo, host, ["show", "--json", "--socket", socket])).tunnels;
}

async function ifindex(topo: Topology, host: number, name: string): Promise<number> {
  const out = await topo.exec(host, ["ip", "-j", "link", "show", name]);
  return JSON.parse(out.stdout)[0].ifindex;
}

kernelTest({
  name: "operate: show agrees with ip l2tp, SIGHUP applies a difference, hooks, metrics, signals",
  fn: async () => {
    await using topo = await Topology.create({ hosts: 2 });
    const dir = await Deno.makeTempDir({ prefix: "l2tp-operate-" });
    const hookFile = `${dir}/on_up.env`;
    const conf = [`${dir}/h1.toml`, `${dir}/h2.toml`];
    const sock = [`${dir}/h1.sock`, `${dir}/h2.sock`];
    await Deno.writeTextFile(conf[0], keepTunnel(topo, 0, hookFile) + extra(topo, "gone", 110));
    await Deno.writeTextFile(conf[1], keepTunnel(topo, 1));
    const metricsPort = 9100 + Math.floor(Math.random() * 800);
    const daemons = [
      startDaemon(topo, 1, conf[0], ["--socket", sock[0], "--metrics", `127.0.0.1:${metricsPort}`]),
      startDaemon(topo, 2, conf[1], ["--socket", sock[1]]),
    ];
    try {
      for (const [i, h] of topo.hosts.entries()) {
        await waitFor(`pw0 in ${h.netns}`, async () => {
          if (daemons[i].exited()) {
            throw new Error(`daemon ${i + 1} exited:\n${daemons[i].output()}`);
          }
          return (await ipSessions(h.netns)).some((s) => s.interface === "pw0");
        });
        await topo.exec(h, ["ip", "addr", "add", `192.168.77.${i + 1}/24`, "dev", "pw0"]);
        await topo.exec(h, ["ip", "link", "set", "pw0", "up"]);
      }
      const ns1 = topo.hosts[0].netns;

      // show --json agrees with iproute2, and its counters rise with ping.
      await topo.ping(1, "192.168.77.2", { count: 3, timeoutS: 5 });
      const before = await show(topo, 1, sock[0]);
      const ipT = await ipTunnels(ns1);
      const ipS = await ipSessions(ns1);
      for (const t of ipT) {
        const shown = before.find((s) => s.localTunnelId === t.tunnel_id);
        assert.ok(shown, `show lists kernel tunnel ${t.tunnel_id}`);
        assert.equal(shown.peerTunnelId, t.peer_tunnel);
      }
      assert.equal(before.filter((t) => t.state === "up").length, ipT.length);
      const keep = before.find((t) => t.name === "keep");
      const s1 = keep?.sessions[0];
      const k = ipS.find((s) => s.tunnel_id === TID[0]);
      assert.equal(s1?.localSessionId, k?.session_id);
      assert.equal(s1?.peerSessionId, k?.peer_session_id);
      assert.equal(s1?.interface, "pw0");
      assert.ok((s1?.kernel?.txPackets ?? 0) >= 3, JSON.stringify(s1));
      await topo.ping(1, "192.168.77.2", { count: 3, timeoutS: 5 });
      const after = (await show(topo, 1, sock[0])).find((t) => t.name === "keep")?.sessions[0];
      assert.ok((after?.kernel?.txPackets ?? 0) >= (s1?.kernel?.txPackets ?? 0) + 3);
      assert.ok((after?.kernel?.rxPackets ?? 0) >= (s1?.kernel?.rxPackets ?? 0) + 3);
      const human = await cli(topo, 1, ["show", "--socket", sock[0]]);
      assert.match(human, /keep/);
      assert.match(human, /pw0/);

      // on_up ran with the session's variables.
      await waitFor("the on_up hook's output", async () => {
        try {
          return (await Deno.readTextFile(hookFile)).includes("L2TPD_INTERFACE=pw0");
        } catch {
          return false;
        }
      });
      const env = await Deno.readTextFile(hookFile);
      for (
        const line of [
          "L2TPD_EVENT=session-up",
          "L2TPD_TUNNEL=keep",
          "L2TPD_SESSION=s1",
          `L2TPD_LOCAL_SESSION_ID=${SID[0]}`,
          `L2TPD_PEER_SESSION_ID=${SID[1]}`,
          "L2TPD_PSEUDOWIRE=eth",
        ]
      ) assert.ok(env.split("\n").includes(line), `${line} in the hook's environment:\n${env}`);

      // /metrics is valid Prometheus text.
      const metrics = await topo.exec(1, [
        "curl",
        "-sf",
        `http://127.0.0.1:${metricsPort}/metrics`,
      ]);
      assert.match(metrics.stdout, /l2tpd_sessions_up 1/);
      const check = await topo.exec(1, ["promtool", "check", "metrics"], {
        stdin: metrics.stdout,
        allowFailure: true,
      });
      assert.equal(check.code, 0, `promtool: ${check.stdout}${check.stderr}`);

      // SIGHUP after an edit: "gone" removed, "fresh" added, "keep" untouched.
      const index = await ifindex(topo, 1, "pw0");
      await Deno.writeTextFile(conf[0], keepTunnel(topo, 0, hookFile) + extra(topo, "fresh", 111));
      daemons[0].child.kill("SIGHUP");
      await waitFor("the reload", async () => {
        const ids = (await ipTunnels(ns1)).map((t) => t.tunnel_id).sort();
        return ids.join(",") === "101,111";
      });
      assert.equal(await ifindex(topo, 1, "pw0"), index, "the unchanged tunnel's interface stays");
      assert.equal(daemons[0].exited(), false);

      // A broken edit changes nothing.
      await Deno.writeTextFile(conf[0], "[tunnel.keep\nthis is not TOML\n");
      daemons[0].child.kill("SIGHUP");
      await waitFor(
        "the refused reload in the log",
        () => /invalid TOML/.test(daemons[0].output()),
      );
      assert.deepEqual((await ipTunnels(ns1)).map((t) => t.tunnel_id).sort(), [101, 111]);
      assert.equal(daemons[0].exited(), false);

      // SIGUSR1: the status goes to the log; no inspector; the daemon runs on.
      const mark = daemons[0].output().length;
      daemons[0].child.kill("SIGUSR1");
      await waitFor("the status line", () => daemons[0].output().slice(mark).includes("keep"));
      const probe = await topo.exec(1, ["curl", "-s", "-m", "2", "http://127.0.0.1:9229/json"], {
        allowFailure: true,
      });
      assert.notEqual(probe.code, 0, "nothing listens on 9229");
      assert.equal(daemons[0].exited(), false);
    } finally {
      const statuses = await Promise.all(daemons.map((d) => d.stop("SIGTERM")));
      for (const [i, st] of statuses.entries()) {
        assert.equal(st.code, 0, `daemon ${i + 1} exits cleanly:\n${daemons[i].output()}`);
      }
      await Deno.remove(dir, { recursive: true });
    }
    for (const h of topo.hosts) {
      assert.deepEqual(await ipTunnels(h.netns), [], `SIGTERM leaves no tunnel in ${h.netns}`);
      assert.deepEqual(await ipSessions(h.netns), [], `SIGTERM leaves no session in ${h.netns}`);
    }
  },
});
