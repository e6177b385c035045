/**
 * The daemon's first job, end to end: two hosts (network namespaces joined by veth), our daemon in
 * each with a static L2TPv3 Ethernet pseudowire from a TOML file; traffic crosses the
 * pseudowire both ways, counters rise, a cookie mismatch drops traffic, and after SIGTERM or
 * SIGINT no tunnel, session or interface remains.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Topology } from "../vm/topology.ts";
import {
  ipSessions,
  ipTunnels,
  kernelTest,
  PPPD_CLIENT,
  PPPD_SERVER,
  sessionStats,
  startDaemon,
  waitFor,
} from "./_helpers.ts";

interface Scenario {
  name: string;
  encap: "udp" | "ip";
  family: 4 | 6;
  managed: boolean;
  /** Make host 2 send a cookie host 1 does not expect. */
  wrongCookie?: boolean;
  seqnum?: boolean;
  signal: Deno.Signal;
}

const TID = [42, 45];
const SID = [128, 5196755];
const COOKIE = [[0x11, 0x22, 0x33, 0x44], [0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8]];

function endpoint(address: string, port: number, s: Scenario): string {
  const host = s.family === 6 ? `[${address}]` : address;
  return s.encap === "udp" ? `${host}:${port}` : address;
}

/** The TOML for host `i` (0 or 1), written the way an operator would. */
function configFor(i: number, topo: Topology, s: Scenario): string {
  const me = topo.hosts[i];
  const other = topo.hosts[1 - i];
  const addr = (h: typeof me): string => s.family === 4 ? h.ipv4 : h.ipv6;
  let peerCookie = COOKIE[1 - i];
  if (s.wrongCookie && i === 1) peerCookie = [0xde, 0xad, 0xbe, 0xef];
  return `# host ${i + 1}: ${s.name}
[tunnel.t1]
version = "l2tpv3"
encap = "${s.encap}"
local = "${endpoint(addr(me), 5000 + i, s)}"
peer = "${endpoint(addr(other), 5001 - i, s)}"
tid = ${TID[i]}
ptid = ${TID[1 - i]}
managed = ${s.managed}

[tunnel.t1.session.s1]
pseudowire = "eth"
sid = ${SID[i]}
psid = ${SID[1 - i]}
cookie = [${COOKIE[i].join(", ")}]
peer_cookie = [${peerCookie.join(", ")}]
interface_name = "pw0"
seqnum = ${s.seqnum ?? false}
`;
}

const scenarios: Scenario[] = [
  { name: "UDP over IPv4, unmanaged", encap: "udp", family: 4, managed: false, signal: "SIGTERM" },
  { name: "IP over IPv4, managed", encap: "ip", family: 4, managed: true, signal: "SIGINT" },
  {
    name: "UDP over IPv6, managed, sequenced",
    encap: "udp",
    family: 6,
    managed: true,
    seqnum: true,
    signal: "SIGTERM",
  },
  { name: "IP over IPv6, unmanaged", encap: "ip", family: 6, managed: false, signal: "SIGTERM" },
  {
    name: "UDP over IPv4, mismatched cookies",
    encap: "udp",
    family: 4,
    managed: false,
    wrongCookie: true,
    signal: "SIGTERM",
  },
];

for (const s of scenarios) {
  kernelTest({
    name: `static eth pseudowire between two hosts: ${s.name}`,
    fn: async () => {
      await using topo = await Topology.create({ hosts: 2 });
      const dir = await Deno.makeTempDir({ prefix: "l2tp-static-" });
      const daemons = [0, 1].map((i) => {
        const path = `${dir}/h${i + 1}.toml`;
        Deno.writeTextFileSync(path, configFor(i, topo, s));
        return startDaemon(topo, i + 1, path);
      });
      try {
        for (const [i, h] of topo.hosts.entries()) {
          await waitFor(`the session in ${h.netns}`, async () => {
            if (daemons[i].exited()) {
              throw new Error(`daemon ${i + 1} exited early:\n${daemons[i].output()}`);
            }
            return (await ipSessions(h.netns)).some((x) => x.interface === "pw0");
          });
        }
        for (const [i, h] of topo.hosts.entries()) {
          await topo.exec(h, ["ip", "addr", "add", `192.168.99.${i + 1}/24`, "dev", "pw0"]);
          await topo.exec(h, ["ip", "link", "set", "pw0", "up"]);
        }

        if (s.wrongCookie) {
          const r = await topo.ping(1, "192.168.99.2", {
            count: 3,
            timeoutS: 2,
            allowFailure: true,
          });
          assert.notEqual(r.code, 0, "no reply crosses a pseudowire with mismatched cookies");
          // Host 2 expects (peer_cookie) a cookie host 1 does not send: host 2 drops.
          const st2 = await sessionStats(topo, 2, TID[1], SID[1]);
          assert.ok(
            st2.rxCookieDiscards >= 3,
            `host 2 counted cookie discards: ${JSON.stringify(st2)}`,
          );
          assert.equal(st2.rxPackets, 0, "nothing with the wrong cookie was delivered");
        } else {
          await topo.ping(1, "192.168.99.2", { count: 3, timeoutS: 5 });
          await topo.ping(2, "192.168.99.1", { count: 3, timeoutS: 5 });
          for (const i of [0, 1]) {
            const st = await sessionStats(topo, i + 1, TID[i], SID[i]);
            assert.ok(st.txPackets >= 3, `host ${i + 1} sent packets: ${JSON.stringify(st)}`);
            assert.ok(st.rxPackets >= 3, `host ${i + 1} received packets: ${JSON.stringify(st)}`);
            assert.ok(st.rxBytes > 0 && st.txBytes > 0);
            assert.equal(st.rxCookieDiscards, 0);
          }
        }
      } finally {
        const statuses = await Promise.all(daemons.map((d) => d.stop(s.signal)));
        for (const [i, st] of statuses.entries()) {
          assert.equal(st.code, 0, `daemon ${i + 1} exits cleanly:\n${daemons[i].output()}`);
        }
        await Deno.remove(dir, { recursive: true });
      }
      for (const h of topo.hosts) {
        assert.deepEqual(await ipTunnels(h.netns), [], `no tunnel left in ${h.netns}`);
        assert.deepEqual(await ipSessions(h.netns), [], `no session left in ${h.netns}`);
        const link = await topo.exec(h, ["ip", "link", "show", "pw0"], { allowFailure: true });
        assert.notEqual(link.code, 0, `pw0 is gone from ${h.netns}`);
      }
    },
  });
}

kernelTest({
  name: "static daemon: a bad session rolls back the whole config and exits 1",
  fn: async () => {
    await using topo = await Topology.create({ hosts: 2 });
    const dir = await Deno.makeTempDir({ prefix: "l2tp-rollback-" });
    const h1 = topo.hosts[0];
    const h2 = topo.hosts[1];
    // Two tunnels; the second reuses the first's UDP port, so its kernel socket cannot bind.
    const path = `${dir}/bad.toml`;
    Deno.writeTextFileSync(
      path,
      `[tunnel.a]
version = "l2tpv3"
local = "${h1.ipv4}:6000"
peer = "${h2.ipv4}:6000"
tid = 1
ptid = 1
[tunnel.a.session.s]
pseudowire = "eth"
sid = 1
psid = 1

[tunnel.b]
version = "l2tpv3"
local = "${h1.ipv4}:6000"
peer = "${h2.ipv4}:6001"
tid = 2
ptid = 2
[tunnel.b.session.s]
pseudowire = "eth"
sid = 2
psid = 2
`,
    );
    const d = startDaemon(topo, 1, path);
    const status = await d.child.status;
    await d.stop();
    await Deno.remove(dir, { recursive: true });
    assert.equal(status.code, 1, `daemon reports failure:\n${d.output()}`);
    assert.match(d.output(), /Cannot create tunnel 2/);
    assert.deepEqual(await ipTunnels(h1.netns), [], "tunnel a was rolled back");
    assert.deepEqual(await ipSessions(h1.netns), []);
  },
});

kernelTest({
  name: "static L2TPv2 PPP session through the daemon: pppd on both ends, ping, clean stop",
  fn: async () => {
    await using topo = await Topology.create({ hosts: 2 });
    const dir = await Deno.makeTempDir({ prefix: "l2tp-static-ppp-" });
    const daemons = topo.hosts.map((me, i) => {
      const other = topo.hosts[1 - i];
      Deno.writeTextFileSync(
        `${dir}/h${i + 1}.pppd`,
        i === 0 ? `${PPPD_SERVER}10.97.0.1:10.97.0.2\n` : PPPD_CLIENT,
      );
      const path = `${dir}/h${i + 1}.toml`;
      Deno.writeTextFileSync(
        path,
        `[tunnel.t]
version = "l2tpv2"
local = "${me.ipv4}:1701"
peer = "${other.ipv4}:1701"
tid = ${7 + i}
ptid = ${8 - i}

[tunnel.t.session.ppp]
pseudowire = "ppp"
sid = ${70 + i}
psid = ${71 - i}
pppd_args = "h${i + 1}.pppd"
`,
      );
      return startDaemon(topo, i + 1, path);
    });
    try {
      await waitFor("PPP up on host 2", async () => {
        for (const d of daemons) if (d.exited()) throw new Error(`daemon exited:\n${d.output()}`);
        const r = await topo.exec(2, ["ip", "-j", "addr", "show", "type", "ppp"]);
        return r.stdout.includes("10.97.0.2");
      }, 45_000);
      await topo.ping(2, "10.97.0.1", { count: 3 });
      await topo.ping(1, "10.97.0.2", { count: 3 });
    } finally {
      for (const [i, d] of daemons.entries()) {
        const st = await d.stop("SIGTERM");
        assert.equal(st.code, 0, `daemon ${i + 1} exits cleanly:\n${d.output()}`);
      }
      await Deno.remove(dir, { recursive: true });
    }
    for (const h of topo.hosts) {
      assert.deepEqual(await ipTunnels(h.netns), []);
      assert.deepEqual(await ipSessions(h.netns), []);
      const ppp = await topo.exec(h, ["ip", "-j", "link", "show", "type", "ppp"]);
      assert.deepEqual(JSON.parse(ppp.stdout || "[]"), [], `no ppp interface in ${h.netns}`);
    }
  },
});
