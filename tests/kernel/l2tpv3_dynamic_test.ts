/**
 * L2TPv3 dynamic control plane for real: our daemon in two namespaces, one LCCE initiating and
 * one responding, over IP and over UDP. An Ethernet pseudowire comes up with cookies each side
 * assigned (Assigned Cookie AVP) and carries ping; a PPP pseudowire comes up with pppd on both
 * ends; tshark, capturing on the wire, dissects the exchange without errors; one side is killed
 * and the other tears down within its HELLO and retransmission timers; the kernel is left clean.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Topology } from "../vm/topology.ts";
import {
  type DaemonProcess,
  hex,
  ipSessions,
  ipTunnels,
  kernelTest,
  PPPD_CLIENT,
  PPPD_SERVER,
  sh,
  startDaemon,
  waitFor,
} from "./_helpers.ts";

const HELLO_MS = 2000;
const RETRY_MS = 500;
const MAX_RETRIES = 3;
const DEAD_AFTER_MS = HELLO_MS + RETRY_MS * (2 ** (MAX_RETRIES + 1) - 1);
const COOKIE_1 = [0x11, 0x22, 0x33, 0x44];
const COOKIE_2 = [0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8];

function config(
  role: "lac" | "lns",
  encap: "udp" | "ip",
  me: string,
  peer: string,
  cookie: number[],
  dir: string,
): string {
  const host = me.includes(":") ? (a: string): string => `[${a}]` : (a: string): string => a;
  const ep = (a: string): string => encap === "udp" ? `${host(a)}:1701` : a;
  return `[tunnel.pe]
mode = "dynamic"
role = "${role}"
version = "l2tpv3"
encap = "${encap}"
local = "${ep(me)}"
peer = "${ep(peer)}"
secret = "pw-secret"
host_name = "${role === "lac" ? "pe1" : "pe2"}"
hello_timeout = ${HELLO_MS}
retry_timeout = ${RETRY_MS}
max_retries = ${MAX_RETRIES}

[tunnel.pe.session.eth]
pseudowire = "eth"
remote_end_id = "vpn-42"
peer_cookie = [${cookie.join(", ")}]
interface_name = "pw0"

[tunnel.pe.session.ppp]
pseudowire = "ppp"
remote_end_id = "ppp-7"
pppd_args = "${dir}/${role}.pppd"
`;
}

async function tshark(args: string[]): Promise<string> {
  return (await sh(["tshark", ...args])).stdout;
}

const variants: ["ip" | "udp", 4 | 6][] = [["ip", 4], ["udp", 6]];
for (const [encap, family] of variants) {
  kernelTest({
    name: `L2TPv3 ${encap}/IPv${family}: dynamic eth + ppp pseudowires, cookies, ping, tshark, ` +
      `dead peer`,
    fn: async () => {
      await using topo = await Topology.create({ hosts: 2 });
      const [h1, h2] = topo.hosts;
      const dir = await Deno.makeTempDir({ prefix: "l2tpv3-" });
      Deno.writeTextFileSync(
        `${dir}/lns.pppd`,
        `${PPPD_SERVER}10.98.0.1:10.98.0.2\n`,
      );
      Deno.writeTextFileSync(
        `${dir}/lac.pppd`,
        PPPD_CLIENT,
      );
      Deno.writeTextFileSync(
        `${dir}/h1.toml`,
        config("lac", encap, h1.ipv4, h2.ipv4, COOKIE_1, dir),
      );
      Deno.writeTextFileSync(
        `${dir}/h2.toml`,
        config("lns", encap, h2.ipv4, h1.ipv4, COOKIE_2, dir),
      );

      const pcap = `${dir}/wire.pcap`;
      const capture = topo.spawn(2, [
        "tshark",
        "-q",
        "-i",
        "eth0",
        "-w",
        pcap,
        "-f",
        encap === "ip" ? (family === 4 ? "ip proto 115" : "ip6 proto 115") : "udp port 1701",
      ], { stdout: "null", stderr: "piped" });
      // dumpcap says "Capturing on" once it is listening.
      const capErr = capture.stderr.getReader();
      let capText = "";
      await waitFor("tshark to start capturing", async () => {
        const { value } = await capErr.read();
        capText += new TextDecoder().decode(value ?? new Uint8Array());
        return capText.includes("Capturing on");
      });
      capErr.releaseLock();

      const responder = startDaemon(topo, 2, `${dir}/h2.toml`, ["--verbose"]);
      await waitFor("the responder to listen", () => /Listening/.test(responder.output()));
      const initiator = startDaemon(topo, 1, `${dir}/h1.toml`, ["--verbose"]);
      const daemons: DaemonProcess[] = [initiator, responder];
      try {
        for (const h of topo.hosts) {
          await waitFor(`two sessions and pw0 in ${h.netns}`, async () => {
            for (const d of daemons) {
              if (d.exited()) throw new Error(`a daemon exited:\n${d.output()}`);
            }
            return (await ipSessions(h.netns)).length === 2 &&
              (await topo.exec(h, ["ip", "link", "show", "pw0"], { allowFailure: true })).code ===
                0;
          }, 45_000);
        }
        // Cookies as each side assigned them: what h1 requires (its peer_cookie) is what h2
        // sends (its cookie), and the other way round.
        const eth1 = (await ipSessions(h1.netns)).find((s) => s.interface === "pw0");
        const eth2 = (await ipSessions(h2.netns)).find((s) => s.interface === "pw0");
        assert.ok(eth1 && eth2);
        assert.equal(eth1.peer_cookie, hex(new Uint8Array(COOKIE_1)));
        assert.equal(eth2.cookie, hex(new Uint8Array(COOKIE_1)));
        assert.equal(eth2.peer_cookie, hex(new Uint8Array(COOKIE_2)));
        assert.equal(eth1.cookie, hex(new Uint8Array(COOKIE_2)));
        assert.equal(eth1.peer_session_id, eth2.session_id);

        for (const [i, h] of topo.hosts.entries()) {
          await topo.exec(h, ["ip", "addr", "add", `192.168.66.${i + 1}/24`, "dev", "pw0"]);
          await topo.exec(h, ["ip", "link", "set", "pw0", "up"]);
        }
        await topo.ping(1, "192.168.66.2", { count: 3 });
        await topo.ping(2, "192.168.66.1", { count: 3 });

        // PPP over the L2TPv3 PPP pseudowire.
        await waitFor("PPP over the L2TPv3 PPP pseudowire", async () => {
          const r = await topo.exec(1, ["ip", "-j", "addr", "show", "type", "ppp"]);
          return r.stdout.includes("10.98.0.2");
        }, 45_000);
        await topo.ping(1, "10.98.0.1", { count: 2 });

        // Several HELLO intervals: keep-alives answered, nothing torn down.
        await new Promise((r) => setTimeout(r, 2 * HELLO_MS + 500));
        assert.equal((await ipSessions(h1.netns)).length, 2);

        // Kill the responder: no StopCCN, the initiator must notice by itself.
        const killedAt = Date.now();
        await responder.stop("SIGKILL");
        // A daemon killed with SIGKILL cannot stop its pppd: end the orphan as a supervisor would.
        // (In production pppd's own LCP echoes notice the dead link; the test turns them off.)
        const inNs = (await sh(["ip", "netns", "pids", h2.netns])).stdout.split(/\s+/);
        const pppds = (await sh(["pgrep", "-x", "pppd"], { allowFailure: true })).stdout.split(
          /\s+/,
        );
        for (const pid of pppds.filter((p) => p && inNs.includes(p))) {
          await sh(["kill", pid], { allowFailure: true });
        }
        await waitFor(
          "the initiator to tear down after the peer died",
          async () => (await ipTunnels(h1.netns)).length === 0,
          DEAD_AFTER_MS + 20_000,
        );
        const took = Date.now() - killedAt;
        console.log(`initiator tore down ${took} ms after the kill (timers: ${DEAD_AFTER_MS} ms)`);
        // The HELLO timer may have just restarted, and the kernel tunnel goes after the sessions,
        // whose pppd asks the dead peer to terminate LCP before it exits (bounded at 8 s).
        assert.ok(took <= DEAD_AFTER_MS + HELLO_MS + 8_000 + 3_000, `took ${took} ms`);
      } finally {
        capture.kill("SIGINT");
        await capture.status;
        for (const d of daemons) await d.stop("SIGTERM");
      }
      assert.deepEqual(await ipTunnels(h1.netns), []);
      assert.deepEqual(await ipSessions(h1.netns), []);
      assert.deepEqual(
        await ipTunnels(h2.netns),
        [],
        "the killed side's kernel state went with its sockets",
      );
      const pppd = await sh(["pgrep", "-x", "pppd"], { allowFailure: true });
      assert.equal(pppd.stdout.trim(), "", "no pppd left");

      // tshark's L2TP dissector on what crossed the wire.
      const types =
        (await tshark(["-r", pcap, "-Y", "l2tp", "-T", "fields", "-e", "l2tp.avp.message_type"]))
          .split(/\s+/).filter(Boolean).map(Number);
      for (const t of [1, 2, 3, 10, 11, 12, 6]) {
        assert.ok(types.includes(t), `tshark saw message type ${t}: ${[...new Set(types)]}`);
      }
      const bad = await tshark(["-r", pcap, "-Y", "_ws.malformed || _ws.expert.severity >= error"]);
      assert.equal(bad.trim(), "", `tshark reports no malformed packet or error:\n${bad}`);
      await Deno.remove(dir, { recursive: true });
    },
  });
}
