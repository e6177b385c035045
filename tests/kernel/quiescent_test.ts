/**
 * Quiescent tunnels for real: two hosts, our daemon in each with a quiescent L2TPv3 Ethernet
 * pseudowire (HELLO keep-alives over the tunnel socket). Traffic flows and the keep-alives keep
 * the tunnel up; then one daemon is killed (SIGKILL: no goodbye) and the other tears its tunnel
 * down within hello_timeout plus the retransmission schedule, leaving its kernel clean.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Topology } from "../vm/topology.ts";
import { ipSessions, ipTunnels, kernelTest, startDaemon, waitFor } from "./_helpers.ts";

const HELLO_MS = 1000;
const RETRY_MS = 500;
const MAX_RETRIES = 3;
/** HELLO after the silence, then retransmissions at 0.5, 1, 2 s and the last wait of 4 s. */
const DEAD_AFTER_MS = HELLO_MS + RETRY_MS * (2 ** (MAX_RETRIES + 1) - 1);

const variants: ["udp" | "ip", 4 | 6][] = [["udp", 4], ["ip", 6]];
for (const [encap, family] of variants) {
  kernelTest({
    name: `quiescent ${encap}/IPv${family}: keep-alives hold the tunnel; a dead peer is torn down`,
    fn: async () => {
      await using topo = await Topology.create({ hosts: 2 });
      const dir = await Deno.makeTempDir({ prefix: "l2tp-quiescent-" });
      const daemons = topo.hosts.map((me, i) => {
        const other = topo.hosts[1 - i];
        const addr = (h: typeof me): string =>
          family === 4
            ? `${h.ipv4}${encap === "udp" ? ":1701" : ""}`
            : encap === "udp"
            ? `[${h.ipv6}]:1701`
            : h.ipv6;
        const path = `${dir}/h${i + 1}.toml`;
        Deno.writeTextFileSync(
          path,
          `[tunnel.q]
version = "l2tpv3"
encap = "${encap}"
local = "${addr(me)}"
peer = "${addr(other)}"
tid = ${10 + i}
ptid = ${11 - i}
hello_timeout = ${HELLO_MS}
retry_timeout = ${RETRY_MS}
max_retries = ${MAX_RETRIES}

[tunnel.q.session.pw]
pseudowire = "eth"
sid = ${100 + i}
psid = ${101 - i}
interface_name = "pw0"
`,
        );
        return startDaemon(topo, i + 1, path, ["--verbose"]);
      });
      try {
        for (const [i, h] of topo.hosts.entries()) {
          await waitFor(`pw0 in ${h.netns}`, async () => {
            if (daemons[i].exited()) throw new Error(`daemon exited:\n${daemons[i].output()}`);
            return (await ipSessions(h.netns)).some((s) => s.interface === "pw0");
          });
          await topo.exec(h, ["ip", "addr", "add", `192.168.77.${i + 1}/24`, "dev", "pw0"]);
          await topo.exec(h, ["ip", "link", "set", "pw0", "up"]);
        }
        await topo.ping(1, "192.168.77.2", { count: 2 });

        // Several hello intervals pass: the keep-alives are answered and nothing is torn down.
        await new Promise((r) => setTimeout(r, 4 * HELLO_MS));
        for (const h of topo.hosts) {
          assert.equal((await ipTunnels(h.netns)).length, 1, `tunnel still up in ${h.netns}`);
        }
        assert.doesNotMatch(daemons[0].output(), /stopped answering/);
        assert.match(daemons[0].output(), /Keep-alive running/);

        // Kill host 2's daemon without a goodbye. Its socket closes, so its kernel tunnel goes.
        const killedAt = Date.now();
        await daemons[1].stop("SIGKILL");
        await waitFor(
          "host 2's kernel tunnel to go with its socket",
          async () => (await ipTunnels(topo.hosts[1].netns)).length === 0,
        );

        await waitFor(
          "host 1 to tear its tunnel down",
          async () => (await ipTunnels(topo.hosts[0].netns)).length === 0,
          DEAD_AFTER_MS + 15_000,
        );
        const tookMs = Date.now() - killedAt;
        console.log(`teardown ${tookMs} ms after the kill (timers allow ${DEAD_AFTER_MS} ms)`);
        // The HELLO timer may have just restarted when the peer died: allow one more interval,
        // plus slack for the emulated CPU.
        assert.ok(
          tookMs <= DEAD_AFTER_MS + HELLO_MS + 5_000,
          `teardown after ${tookMs} ms; timers allow ${DEAD_AFTER_MS} ms`,
        );
        assert.match(daemons[0].output(), /the peer stopped answering/);
        assert.deepEqual(await ipSessions(topo.hosts[0].netns), []);
        const link = await topo.exec(1, ["ip", "link", "show", "pw0"], { allowFailure: true });
        assert.notEqual(link.code, 0, "pw0 gone on host 1");
        assert.equal(daemons[0].exited(), false, "host 1's daemon keeps running");
      } finally {
        const st = await daemons[0].stop("SIGTERM");
        await daemons[1].stop("SIGKILL");
        await Deno.remove(dir, { recursive: true });
        assert.equal(st.code, 0, `daemon 1 exits cleanly:\n${daemons[0].output()}`);
      }
    },
  });
}
