/**
 * PPP pseudowires driven by pppd, for real: two hosts (network namespaces), in each a managed
 * static tunnel (our UDP socket, kernel tunnel over netlink) and pppd on a PPPoL2TP session
 * socket (tests/kernel/_ppp_host.ts). PPP negotiates across the tunnel, ping crosses the ppp
 * interfaces both ways, and after SIGTERM no pppd, tunnel, session or ppp interface remains.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Topology, type TopologyHost } from "../vm/topology.ts";
import { ipSessions, ipTunnels, kernelTest, ROOT, waitFor } from "./_helpers.ts";

interface Scenario {
  name: string;
  version: 2 | 3;
  /** Who creates the kernel session: the PPPoL2TP connect, or netlink first. */
  session: "connect" | "netlink";
  /** pppd sets sequencing (pppol2tp_send_seq, pppol2tp_recv_seq) on both sides. */
  seq: boolean;
}

const TID = [11, 22];
const SID = [33, 44];
const PPP_ADDR = ["10.99.0.1", "10.99.0.2"];
const IFNAME = "pw-ppp";

interface PppHost {
  /** stdout + stderr so far. */
  output(): string;
  /** Resolves with the interface name from the READY line, or rejects if the host exits. */
  ready: Promise<string>;
  /** Whether pppd has ended (the host printed PPPD-EXIT). */
  pppdEnded(): boolean;
  /** SIGTERM, then the exit status once the output is drained. */
  stop(): Promise<Deno.CommandStatus>;
}

const decoder = new TextDecoder();

function startHost(topo: Topology, i: number, s: Scenario): PppHost {
  const me = topo.hosts[i];
  const other = topo.hosts[1 - i];
  const child = topo.spawn(me, [
    Deno.execPath(),
    "run",
    "--allow-all",
    "--no-check",
    `${ROOT}tests/kernel/_ppp_host.ts`,
    "--version",
    String(s.version),
    "--local",
    `${me.ipv4}:${1701 + i}`,
    "--peer",
    `${other.ipv4}:${1702 - i}`,
    "--tid",
    String(TID[i]),
    "--ptid",
    String(TID[1 - i]),
    "--sid",
    String(SID[i]),
    "--psid",
    String(SID[1 - i]),
    "--ifname",
    IFNAME,
    "--addrs",
    `${PPP_ADDR[i]}:${PPP_ADDR[1 - i]}`,
    "--session",
    s.session,
    ...(i === 1 ? ["--lns"] : []),
    ...(s.seq ? ["--seq"] : []),
  ]);
  let text = "";
  let readyLine: (name: string) => void = () => {};
  const ready = new Promise<string>((resolve, reject) => {
    readyLine = resolve;
    child.status.then((st) => reject(new Error(`host ${i + 1} exited with ${st.code}:\n${text}`)));
  });
  ready.catch(() => {});
  const collect = async (stream: ReadableStream<Uint8Array>): Promise<void> => {
    for await (const chunk of stream) {
      text += decoder.decode(chunk);
      const m = /^READY (\S+)$/m.exec(text);
      if (m) readyLine(m[1]);
    }
  };
  const done = Promise.all([collect(child.stdout), collect(child.stderr)]);
  return {
    output: () => text,
    ready,
    pppdEnded: () => /^PPPD-EXIT /m.test(text),
    stop: async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // already exited
      }
      const status = await child.status;
      await done;
      return status;
    },
  };
}

/** Whether the ppp interface in `h` is up with PPP's local address (IPCP done). */
async function pppUp(topo: Topology, h: TopologyHost, address: string): Promise<boolean> {
  const r = await topo.exec(h, ["ip", "-j", "addr", "show", "dev", IFNAME], {
    allowFailure: true,
  });
  if (r.code !== 0 || r.stdout.trim() === "") return false;
  const links = JSON.parse(r.stdout) as { flags?: string[]; addr_info?: { local?: string }[] }[];
  return links.some((l) =>
    (l.flags ?? []).includes("UP") && (l.addr_info ?? []).some((a) => a.local === address)
  );
}

/** Process ids of running pppd processes (any namespace: the VM has one pid namespace). */
async function pppdProcesses(): Promise<number[]> {
  const pids: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if ((await Deno.readTextFile(`/proc/${e.name}/comm`)).trim() === "pppd") {
        pids.push(Number(e.name));
      }
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

const scenarios: Scenario[] = [
  {
    name: "L2TPv2, session created by the PPPoL2TP connect",
    version: 2,
    session: "connect",
    seq: false,
  },
  {
    name: "L2TPv2, session created over netlink, sequenced",
    version: 2,
    session: "netlink",
    seq: true,
  },
  {
    name: "L2TPv3, session created by the PPPoL2TP connect",
    version: 3,
    session: "connect",
    seq: false,
  },
  {
    name: "L2TPv3, session created over netlink, sequenced",
    version: 3,
    session: "netlink",
    seq: true,
  },
];

for (const s of scenarios) {
  kernelTest({
    name: `static ppp pseudowire with pppd: ${s.name}`,
    fn: async () => {
      const t0 = performance.now();
      const ms = (): number => Math.round(performance.now() - t0);
      await using topo = await Topology.create({ hosts: 2 });
      const hosts = [0, 1].map((i) => startHost(topo, i, s));
      const timings: string[] = [];
      let failed = true;
      try {
        for (const [i, h] of hosts.entries()) {
          assert.equal(await h.ready, IFNAME, `host ${i + 1} names the interface`);
        }
        timings.push(`interfaces named at ${ms()} ms`);
        for (const [i, h] of topo.hosts.entries()) {
          await waitFor(`PPP up in ${h.netns}`, async () => {
            if (hosts[i].pppdEnded()) throw new Error(`pppd in host ${i + 1} ended early`);
            return await pppUp(topo, h, PPP_ADDR[i]);
          }, 30_000);
        }
        timings.push(`IPCP up at ${ms()} ms`);
        assert.equal((await pppdProcesses()).length, 2, "one pppd per host runs");
        for (const [i, h] of topo.hosts.entries()) {
          const sessions = await ipSessions(h.netns);
          const what = `the sessions in host ${i + 1}: ${JSON.stringify(sessions)}`;
          assert.equal(sessions.length, 1, what);
          assert.equal(sessions[0].session_id, SID[i], what);
          assert.equal(sessions[0].peer_session_id, SID[1 - i], what);
          assert.equal(sessions[0].tunnel_id, TID[i], what);
          // iproute2 prints "send_seq"/"recv_seq" (null) only when set; pppd's plugin set them.
          assert.equal("send_seq" in sessions[0], s.seq, what);
          assert.equal("recv_seq" in sessions[0], s.seq, what);
        }
        await topo.ping(1, PPP_ADDR[1], { count: 2, timeoutS: 5 });
        await topo.ping(2, PPP_ADDR[0], { count: 2, timeoutS: 5 });
        timings.push(`pings done at ${ms()} ms`);
        failed = false;
      } finally {
        const statuses = await Promise.all(hosts.map((h) => h.stop()));
        timings.push(`stopped at ${ms()} ms`);
        console.log(`${s.name}: ${timings.join(", ")}`);
        if (failed) { for (const h of hosts) console.log(h.output()); }
        for (const [i, st] of statuses.entries()) {
          assert.equal(st.code, 0, `host ${i + 1} stops cleanly:\n${hosts[i].output()}`);
          assert.ok(hosts[i].pppdEnded(), `host ${i + 1} reaped pppd:\n${hosts[i].output()}`);
        }
      }
      assert.deepEqual(await pppdProcesses(), [], "no pppd process remains");
      for (const h of topo.hosts) {
        assert.deepEqual(await ipTunnels(h.netns), [], `no tunnel left in ${h.netns}`);
        assert.deepEqual(await ipSessions(h.netns), [], `no session left in ${h.netns}`);
        const link = await topo.exec(h, ["ip", "link", "show", IFNAME], { allowFailure: true });
        assert.notEqual(link.code, 0, `${IFNAME} is gone from ${h.netns}`);
      }
    },
  });
}
