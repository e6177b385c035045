/**
 * Interop with xl2tpd for real, in the VM: two network namespaces, our daemon in one and xl2tpd
 * (the Debian package, with its own configuration) in the other, pppd on both ends.
 *
 * - our LAC -> xl2tpd LNS, and xl2tpd LAC -> our LNS;
 * - PPP negotiates (no PPP authentication, the LNS side gives the addresses), the ppp interfaces
 *   come up with 10.99.0.1 / 10.99.0.2, ping crosses them both ways;
 * - xl2tpd uses the kernel's L2TP here (its log says "Using l2tp kernel support", and its tunnel
 *   and session show in `ip l2tp show` in its namespace, pointing at ours, plus the session 0 of
 *   its tunnel management socket);
 * - teardown from either side (ours: SIGTERM; xl2tpd: SIGTERM, on which it sends a StopCCN for
 *   every tunnel when it uses the kernel's L2TP) is followed by the other, and in the end no
 *   tunnel or session is left in either namespace (`ip -j l2tp show`), no ppp interface and no
 *   pppd.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Topology } from "../vm/topology.ts";
import {
  type DaemonProcess,
  type IpSession,
  ipSessions,
  ipTunnels,
  kernelTest,
  PPPD_CLIENT,
  PPPD_SERVER,
  pppdCount,
  pppInterfaces,
  startDaemon,
  waitFor,
} from "./_helpers.ts";
import { startXl2tpd, stopAllXl2tpd, type Xl2tpd, XL2TPD_BIN, xl2tpdInstalled } from "./_xl2tpd.ts";

const XL2TPD_MISSING = `${XL2TPD_BIN} is not installed (Debian package xl2tpd)`;

/** Both hosts have a ppp interface with a 10.99.0.x address. */
async function pppUp(topo: Topology, check: () => void): Promise<void> {
  for (const host of [1, 2]) {
    await waitFor(`a ppp interface with an address on host ${host}`, async () => {
      check();
      const [ifname] = await pppInterfaces(topo, host);
      if (!ifname) return false;
      const a = await topo.exec(host, ["ip", "-j", "addr", "show", "dev", ifname]);
      return a.stdout.includes("10.99.0.");
    }, 60_000);
  }
}

/** Nothing left: no tunnel, session or ppp interface in either namespace, no pppd. */
async function assertClean(topo: Topology): Promise<void> {
  await waitFor("every pppd to exit", async () => (await pppdCount()) === 0, 20_000);
  for (const h of topo.hosts) {
    await waitFor(
      `no tunnel in ${h.netns}`,
      async () => (await ipTunnels(h.netns)).length === 0,
      20_000,
    );
    assert.deepEqual(await ipSessions(h.netns), [], `no session left in ${h.netns}`);
    assert.deepEqual(await pppInterfaces(topo, h.index), [], `no ppp interface in ${h.netns}`);
  }
}

/**
 * Our one kernel session and xl2tpd's point at each other. In kernel mode xl2tpd also holds the
 * tunnel's management socket, a PPPoL2TP socket on session 0, which `ip l2tp show session` lists
 * as session 0: it is not counted.
 */
function assertSessionPair(ours: IpSession[], theirs: IpSession[]): void {
  const real = theirs.filter((s) => s.session_id !== 0);
  assert.equal(ours.length, 1, `our sessions: ${JSON.stringify(ours)}`);
  assert.equal(real.length, 1, `xl2tpd's sessions: ${JSON.stringify(theirs)}`);
  assert.equal(ours[0].peer_session_id, real[0].session_id);
  assert.equal(real[0].peer_session_id, ours[0].session_id);
}

for (const stopFirst of ["ours", "xl2tpd"] as const) {
  kernelTest({
    name: `our LAC -> xl2tpd LNS with pppd: PPP up, ping, ${stopFirst} stops first, all clean`,
    skip: xl2tpdInstalled() ? undefined : XL2TPD_MISSING,
    fn: async () => {
      await using topo = await Topology.create({ hosts: 2 });
      const [h1, h2] = topo.hosts;
      const dir = await Deno.makeTempDir({ prefix: "xl2tpd-vm-" });
      let lac: DaemonProcess | undefined;
      let xl: Xl2tpd | undefined;
      try {
        Deno.writeTextFileSync(`${dir}/xl2tpd.ppp`, PPPD_SERVER);
        Deno.writeTextFileSync(`${dir}/lac.pppd`, PPPD_CLIENT);
        Deno.writeTextFileSync(
          `${dir}/lac.toml`,
          `[tunnel.lac]
version = "l2tpv2"
peer = "${h2.ipv4}:1701"
host_name = "ourlac"

[tunnel.lac.session.ppp]
pseudowire = "ppp"
pppd_args = "lac.pppd"
`,
        );
        xl = await startXl2tpd({
          config: {
            global: { listenAddr: h2.ipv4, port: 1701, debug: true },
            lns: [{
              hostname: "xlns",
              localIp: "10.99.0.1",
              ipRange: "10.99.0.2-10.99.0.2",
              requireAuthentication: false,
              pppoptfile: `${dir}/xl2tpd.ppp`,
            }],
          },
          spawn: (argv) => topo.spawn(2, argv),
        });
        assert.match(xl.output(), /Using l2tp kernel support/, "xl2tpd uses the kernel's L2TP");
        lac = startDaemon(topo, 1, `${dir}/lac.toml`, ["--verbose"]);
        const daemon = lac;
        const xlRunning = xl;
        await pppUp(topo, () => {
          if (daemon.exited()) throw new Error(`our LAC exited:\n${daemon.output()}`);
          if (xlRunning.exited()) throw new Error(`xl2tpd exited:\n${xlRunning.output()}`);
        });
        await topo.ping(1, "10.99.0.1", { count: 3 });
        await topo.ping(2, "10.99.0.2", { count: 3 });
        assert.match(xl.output(), /Call established with/);
        assert.match(lac.output(), /tunnel-up .*peerHostName=xlns/);
        const [ours] = await ipTunnels(h1.netns);
        const [theirs] = await ipTunnels(h2.netns);
        assert.ok(ours && theirs, "a kernel tunnel on each side (xl2tpd's too)");
        assert.equal(ours.peer_tunnel, theirs.tunnel_id);
        assert.equal(theirs.peer_tunnel, ours.tunnel_id);
        assertSessionPair(await ipSessions(h1.netns), await ipSessions(h2.netns));
        assert.equal(await pppdCount(), 2, "one pppd per side");

        if (stopFirst === "ours") {
          const mark = xl.output().length;
          const st = await lac.stop("SIGTERM");
          assert.equal(st.code, 0, `our LAC exits cleanly:\n${lac.output()}`);
          await xl.waitFor(/Connection closed to/, 20_000, mark);
          assert.equal(xl.exited(), false, "xl2tpd keeps running");
        } else {
          await xl.stop("SIGTERM");
          await waitFor(
            "our LAC to follow xl2tpd's StopCCN",
            async () =>
              (await ipTunnels(h1.netns)).length === 0 &&
              (await pppInterfaces(topo, 1)).length === 0,
            20_000,
          );
          assert.match(lac.output(), /StopCCN from the peer/);
          assert.equal(lac.exited(), false, "our LAC keeps running");
        }
        await assertClean(topo);
      } finally {
        const st: Deno.CommandStatus | undefined = lac ? await lac.stop("SIGTERM") : undefined;
        await stopAllXl2tpd();
        await Deno.remove(dir, { recursive: true });
        if (st !== undefined) assert.equal(st.code, 0, `our LAC exits cleanly:\n${lac?.output()}`);
      }
      await assertClean(topo);
    },
  });

  kernelTest({
    name: `xl2tpd LAC -> our LNS with pppd: PPP up, ping, ${stopFirst} stops first, all clean`,
    skip: xl2tpdInstalled() ? undefined : XL2TPD_MISSING,
    fn: async () => {
      await using topo = await Topology.create({ hosts: 2 });
      const [h1, h2] = topo.hosts;
      const dir = await Deno.makeTempDir({ prefix: "xl2tpd-vm-" });
      let lns: DaemonProcess | undefined;
      let xl: Xl2tpd | undefined;
      try {
        Deno.writeTextFileSync(`${dir}/lns.pppd`, `${PPPD_SERVER}10.99.0.1:10.99.0.2\n`);
        Deno.writeTextFileSync(`${dir}/xl2tpd.ppp`, PPPD_CLIENT);
        Deno.writeTextFileSync(
          `${dir}/lns.toml`,
          `[tunnel.lns]
mode = "dynamic"
role = "lns"
version = "l2tpv2"
local = "${h2.ipv4}:1701"
peer = "${h1.ipv4}"
host_name = "ourlns"

[tunnel.lns.session.ppp]
pseudowire = "ppp"
pppd_args = "lns.pppd"
lns_mode = true
`,
        );
        lns = startDaemon(topo, 2, `${dir}/lns.toml`, ["--verbose"]);
        const daemon = lns;
        await waitFor("our LNS to listen", () => {
          if (daemon.exited()) throw new Error(`our LNS exited:\n${daemon.output()}`);
          return Promise.resolve(/Listening/.test(daemon.output()));
        });
        xl = await startXl2tpd({
          config: {
            global: { listenAddr: h1.ipv4, port: 1701, debug: true },
            lac: [{
              name: "ours",
              lns: `${h2.ipv4}:1701`,
              autodial: true,
              hostname: "xlac",
              requireAuthentication: false,
              pppoptfile: `${dir}/xl2tpd.ppp`,
            }],
          },
          spawn: (argv) => topo.spawn(1, argv),
        });
        assert.match(xl.output(), /Using l2tp kernel support/, "xl2tpd uses the kernel's L2TP");
        const xlRunning = xl;
        await pppUp(topo, () => {
          if (daemon.exited()) throw new Error(`our LNS exited:\n${daemon.output()}`);
          if (xlRunning.exited()) throw new Error(`xl2tpd exited:\n${xlRunning.output()}`);
        });
        await topo.ping(1, "10.99.0.1", { count: 3 });
        await topo.ping(2, "10.99.0.2", { count: 3 });
        assert.match(xl.output(), /Call established with/);
        assert.match(lns.output(), /tunnel-up .*peerHostName=xlac/);
        const [theirs] = await ipTunnels(h1.netns);
        const [ours] = await ipTunnels(h2.netns);
        assert.ok(ours && theirs, "a kernel tunnel on each side (xl2tpd's too)");
        assert.equal(ours.peer_tunnel, theirs.tunnel_id);
        assert.equal(theirs.peer_tunnel, ours.tunnel_id);
        assertSessionPair(await ipSessions(h2.netns), await ipSessions(h1.netns));
        assert.equal(await pppdCount(), 2, "one pppd per side");

        if (stopFirst === "ours") {
          const mark = xl.output().length;
          const st = await lns.stop("SIGTERM");
          assert.equal(st.code, 0, `our LNS exits cleanly:\n${lns.output()}`);
          await xl.waitFor(/Connection closed to|closed to/, 20_000, mark);
          assert.equal(xl.exited(), false, "xl2tpd keeps running");
        } else {
          await xl.stop("SIGTERM");
          await waitFor(
            "our LNS to follow xl2tpd's StopCCN",
            async () =>
              (await ipTunnels(h2.netns)).length === 0 &&
              (await pppInterfaces(topo, 2)).length === 0,
            20_000,
          );
          assert.match(lns.output(), /StopCCN from the peer/);
          assert.equal(lns.exited(), false, "our LNS keeps running");
        }
        await assertClean(topo);
      } finally {
        const st: Deno.CommandStatus | undefined = lns ? await lns.stop("SIGTERM") : undefined;
        await stopAllXl2tpd();
        await Deno.remove(dir, { recursive: true });
        if (st !== undefined) assert.equal(st.code, 0, `our LNS exits cleanly:\n${lns?.output()}`);
      }
      await assertClean(topo);
    },
  });
}

/**
 * Two tunnels from xl2tpd's one UDP port (two `[lac]` sections, the second dialled once the
 * first is up): both control connections and both PPP links come up (each link is pinged as
 * soon as it is up), every kernel tunnel and session is paired, and everything goes away.
 *
 * Not asserted: that the first link still passes traffic once the second exists. On this VM's
 * kernel (6.1) it does not (observed: its pings stop): each end holds one kernel tunnel per UDP
 * socket, and the two sockets of each end have the same addresses and ports.
 */
kernelTest({
  name: "xl2tpd LAC -> our LNS, two tunnels from its one UDP port: both PPP links come up",
  skip: xl2tpdInstalled() ? undefined : XL2TPD_MISSING,
  fn: async () => {
    await using topo = await Topology.create({ hosts: 2 });
    const [h1, h2] = topo.hosts;
    const dir = await Deno.makeTempDir({ prefix: "xl2tpd-vm-" });
    let lns: DaemonProcess | undefined;
    try {
      Deno.writeTextFileSync(
        `${dir}/lns.pppd`,
        PPPD_CLIENT,
      );
      for (const n of [1, 2]) {
        Deno.writeTextFileSync(
          `${dir}/xl2tpd-${n}.ppp`,
          `${PPPD_SERVER}10.99.${n}.2:10.99.${n}.1\n`,
        );
      }
      Deno.writeTextFileSync(
        `${dir}/lns.toml`,
        `[tunnel.lns]
mode = "dynamic"
role = "lns"
version = "l2tpv2"
local = "${h2.ipv4}:1701"
peer = "${h1.ipv4}"

[tunnel.lns.session.ppp]
pseudowire = "ppp"
pppd_args = "lns.pppd"
lns_mode = true
`,
      );
      lns = startDaemon(topo, 2, `${dir}/lns.toml`, ["--verbose"]);
      const daemon = lns;
      await waitFor("our LNS to listen", () => {
        if (daemon.exited()) throw new Error(`our LNS exited:\n${daemon.output()}`);
        return Promise.resolve(/Listening/.test(daemon.output()));
      });
      const lac = (n: number) => ({
        name: `lac${n}`,
        lns: `${h2.ipv4}:1701`,
        hostname: `xlac${n}`,
        requireAuthentication: false,
        pppoptfile: `${dir}/xl2tpd-${n}.ppp`,
      });
      const xl = await startXl2tpd({
        config: {
          global: { listenAddr: h1.ipv4, port: 1701, debug: true },
          lac: [{ ...lac(1), autodial: true }, lac(2)],
        },
        spawn: (argv) => topo.spawn(1, argv),
      });
      await waitFor("the first PPP link", async () => {
        if (daemon.exited() || xl.exited()) throw new Error(`${daemon.output()}\n${xl.output()}`);
        return (await topo.ping(1, "10.99.1.1", { allowFailure: true, timeoutS: 1 })).code === 0;
      }, 60_000);
      await xl.control("c lac2");
      await waitFor("the second PPP link", async () => {
        if (daemon.exited() || xl.exited()) throw new Error(`${daemon.output()}\n${xl.output()}`);
        return (await topo.ping(1, "10.99.2.1", { allowFailure: true, timeoutS: 1 })).code === 0;
      }, 60_000);
      assert.equal((await ipTunnels(h2.netns)).length, 2);
      assert.equal((await ipSessions(h2.netns)).length, 2);
      // Each link passed traffic once negotiated (above); both tunnels and sessions are paired.
      const theirs = await ipTunnels(h1.netns);
      const ours = await ipTunnels(h2.netns);
      assert.equal(ours.length, 2);
      assert.deepEqual(
        ours.map((t) => t.peer_tunnel).sort(),
        theirs.map((t) => t.tunnel_id).sort(),
      );
      const ourSessions = await ipSessions(h2.netns);
      const theirSessions = (await ipSessions(h1.netns)).filter((x) => x.session_id !== 0);
      assert.equal(ourSessions.length, 2);
      assert.deepEqual(
        ourSessions.map((x) => x.peer_session_id).sort(),
        theirSessions.map((x) => x.session_id).sort(),
      );
      for (const n of [1, 2]) {
        const addrs = await topo.exec(2, ["ip", "-j", "addr", "show", "type", "ppp"]);
        assert.ok(addrs.stdout.includes(`10.99.${n}.1`), `our end of link ${n} has its address`);
      }
      await xl.stop("SIGTERM");
      await assertClean(topo);
    } finally {
      const st: Deno.CommandStatus | undefined = lns ? await lns.stop("SIGTERM") : undefined;
      await stopAllXl2tpd();
      await Deno.remove(dir, { recursive: true });
      if (st !== undefined) assert.equal(st.code, 0, `our LNS exits cleanly:\n${lns?.output()}`);
    }
    await assertClean(topo);
  },
});
