/**
 * kpppoed for real, in the VM: our PPPoE access concentrator between real subscribers and a real
 * LNS, three network namespaces (`_pppoe_subscriber.ts` draws them): "sub" runs pppd with
 * Debian's `pppoe.so` plugin, "ac" runs our daemon as kpppoed (`L2TPD_PERSONALITY=kpppoed`, no
 * pppd there: the kernel bridges each PPPoE channel to its PPPoL2TP channel), "lns" runs xl2tpd
 * (Debian's, kernel mode, with pppd) or our own LNS (`role = "lns"`, pppd).
 *
 * - xl2tpd as the LNS: the subscriber's pppd comes up end to end (IPCP gives it 10.99.0.x) and
 *   pings the LNS's PPP address; the AC holds one kernel PPPoE session (/proc/net/pppoe), one
 *   L2TP tunnel to 10.0.2.2:1701 with one session in it, and kpppoed's status says the same
 *   (session ID, subscriber MAC, service, up);
 * - the same with our LNS (the subscriber asks for the second service, "voip");
 * - `pppoe-discovery` in "sub" sees our AC-Name, every service name and the AC's MAC; its
 *   Host-Uniq comes back (it drops PADOs without it); a PADI for "voip" is answered, one for a
 *   service we do not offer is not (RFC 2516 §5.2); a PADI leaves no state on the AC;
 * - a subscriber's PADT (its pppd killed with SIGKILL, which sends nothing, then a PADT sent
 *   from its MAC) leaves no PPPoE session and no L2TP session or tunnel on the AC (the tunnel
 *   closes with its last session), and our LNS's tunnel and pppd go too;
 * - a subscriber's pppd hanging up (SIGTERM: LCP Terminate-Request; Debian's pppd 2.4.9 sends no
 *   PADT, it closes its discovery socket after the PADS) leaves no state on the AC either: the
 *   LNS (xl2tpd) sends a CDN, the AC sends the subscriber a PADT and closes the tunnel;
 * - the LNS stopping (xl2tpd: SIGINT; ours: SIGTERM; both send a StopCCN) leaves no PPPoE or L2TP
 *   state on the AC, the AC's PADT reaches the subscriber's interface (a watcher in "sub" sees
 *   it) and the subscriber's pppd sees its link go and exits;
 * - ten subscribers at once (ten interfaces with MACs of their own behind a bridge in "sub") all
 *   come up, each pings the LNS through its own link, over ONE tunnel holding ten sessions; then
 *   SIGTERM to kpppoed hangs up all ten (a PADT on each interface, every pppd exits), closes the
 *   tunnel (xl2tpd's goes too), and kpppoed exits 0 with nothing left.
 *
 * Every test ends by stopping kpppoed (SIGTERM: exit status 0, nothing left on the AC), and
 * whatever happens every process is stopped and the namespaces are deleted.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ipSessions, ipTunnels, kernelTest, PPPD_SERVER, ROOT, waitFor } from "./_helpers.ts";
import {
  AC_LNS_ADDRESS,
  AC_SUB_IFNAME,
  type Kpppoed,
  kpppoedReady,
  kpppoedStatus,
  LNS_ADDRESS,
  type PppLink,
  pppoeEntries,
  PppoeLab,
  type Proc,
  type SeenFrame,
  sendPadt,
  startKpppoed,
  startSubscriber,
  startWatcher,
  type Subscriber,
  type Watcher,
} from "./_pppoe_subscriber.ts";
import { PppoeCode } from "../../control/pppoe/codec.ts";
import { startXl2tpd, type Xl2tpd, XL2TPD_BIN, xl2tpdInstalled } from "./_xl2tpd.ts";

const AC_NAME = "test-ac";
const SERVICES = ["internet", "voip"];
/** The LNS's end of every PPP link. */
const LNS_PPP = "10.99.0.1";

function fileMissing(path: string, what: string): string | undefined {
  try {
    Deno.statSync(path);
    return undefined;
  } catch {
    return `${path} is not installed (${what})`;
  }
}

/** Whether pppd's `pppoe.so` plugin is installed (in `/usr/lib/pppd/VERSION/`). */
function pppoePluginInstalled(): boolean {
  try {
    return [...Deno.readDirSync("/usr/lib/pppd")].some((d) =>
      fileMissing(`/usr/lib/pppd/${d.name}/pppoe.so`, "") === undefined
    );
  } catch {
    return false;
  }
}

/** Why the subscriber side cannot run here (Debian's ppp package), or undefined. */
const PPPOE_MISSING = fileMissing("/usr/sbin/pppd", "Debian package ppp") ??
  (pppoePluginInstalled()
    ? undefined
    : "pppd's pppoe.so plugin is not installed (Debian package ppp)");
const XL2TPD_MISSING = PPPOE_MISSING ??
  (xl2tpdInstalled() ? undefined : `${XL2TPD_BIN} is not installed (Debian package xl2tpd)`);
const DISCOVERY_MISSING = PPPOE_MISSING ??
  fileMissing("/usr/sbin/pppoe-discovery", "Debian package ppp");

/** kpppoed.toml: go-l2tp's keys, our AC towards the LNS in "lns". */
function acConfig(): string {
  return `ac_name = "${AC_NAME}"
interface_name = "${AC_SUB_IFNAME}"
services = ${JSON.stringify(SERVICES)}
lns_ipaddr = "${LNS_ADDRESS}:1701"
`;
}

/** Something whose early exit fails a wait. */
type Watched = [name: string, proc: { exited(): boolean; output(): string }];

function checkAlive(watched: readonly Watched[]): void {
  for (const [name, p] of watched) {
    if (p.exited()) throw new Error(`${name} exited early:\n${p.output()}`);
  }
}

/** xl2tpd as the LNS in "lns", kernel mode, its pppd giving out 10.99.0.2 to 10.99.0.`last`. */
async function startXl2tpdLns(lab: PppoeLab, last = 2): Promise<Xl2tpd> {
  const options = `${lab.dir}/xl2tpd.ppp`;
  Deno.writeTextFileSync(options, PPPD_SERVER);
  const xl = await startXl2tpd({
    config: {
      global: { listenAddr: LNS_ADDRESS, port: 1701, debug: true },
      lns: [{
        hostname: "xlns",
        localIp: LNS_PPP,
        ipRange: `10.99.0.2-10.99.0.${last}`,
        requireAuthentication: false,
        pppoptfile: options,
      }],
    },
    spawn: (argv) => lab.spawnChild(lab.ns.lns, argv),
  });
  lab.addLog("xl2tpd", () => xl.output());
  lab.defer(() => xl.stop("SIGINT", 5000));
  assert.match(xl.output(), /Using l2tp kernel support/, "xl2tpd uses the kernel's L2TP");
  return xl;
}

/** Our LNS in "lns": a dynamic L2TPv2 responder for the AC, pppd giving out 10.99.0.2. */
async function startOurLns(lab: PppoeLab): Promise<Proc> {
  Deno.writeTextFileSync(`${lab.dir}/lns.pppd`, `${PPPD_SERVER}${LNS_PPP}:10.99.0.2\n`);
  Deno.writeTextFileSync(
    `${lab.dir}/lns.toml`,
    `[tunnel.lns]
mode = "dynamic"
role = "lns"
version = "l2tpv2"
local = "${LNS_ADDRESS}:1701"
peer = "${AC_LNS_ADDRESS}"
host_name = "ourlns"

[tunnel.lns.session.ppp]
pseudowire = "ppp"
pppd_args = "lns.pppd"
lns_mode = true
`,
  );
  const lns = lab.spawn(lab.ns.lns, "our LNS", [
    Deno.execPath(),
    "run",
    "--allow-all",
    "--no-check",
    `${ROOT}main.ts`,
    "--config",
    `${lab.dir}/lns.toml`,
    "--socket",
    `${lab.dir}/lns.sock`,
    "--verbose",
  ]);
  await lns.waitFor(/Listening/, 90_000);
  return lns;
}

/** Wait until every subscriber's ppp interface has its address from the LNS. */
async function linksUp(
  lab: PppoeLab,
  subs: readonly Subscriber[],
  watched: readonly Watched[],
  timeoutMs = 90_000,
): Promise<PppLink[]> {
  const all: Watched[] = [...watched, ...subs.map((s): Watched => [s.name, s])];
  await waitFor(`${subs.length} subscriber link(s) up with an address`, async () => {
    checkAlive(all);
    const links = await lab.pppLinks(lab.ns.sub);
    return subs.every((s) =>
      links.some((l) =>
        l.ifname === s.pppIfname && l.local?.startsWith("10.99.0.") && l.peer === LNS_PPP
      )
    );
  }, timeoutMs);
  const links = await lab.pppLinks(lab.ns.sub);
  return subs.map((s) => links.find((l) => l.ifname === s.pppIfname) as PppLink);
}

/** What the AC holds: kernel PPPoE sessions, L2TP sessions and tunnels. */
async function acState(lab: PppoeLab): Promise<string> {
  return JSON.stringify({
    pppoe: await pppoeEntries(lab),
    sessions: await ipSessions(lab.ns.ac),
    tunnels: await ipTunnels(lab.ns.ac),
  });
}

/** Wait (bounded) until the AC holds no PPPoE session and no L2TP session or tunnel. */
async function waitAcClean(lab: PppoeLab, what: string, timeoutMs = 30_000): Promise<void> {
  try {
    await waitFor(
      `no PPPoE or L2TP state on the AC ${what}`,
      async () =>
        (await pppoeEntries(lab)).length === 0 && (await ipSessions(lab.ns.ac)).length === 0 &&
        (await ipTunnels(lab.ns.ac)).length === 0,
      timeoutMs,
    );
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : e}; left: ${await acState(lab)}`);
  }
}

/**
 * The AC carries exactly `subs`: one kernel PPPoE session per subscriber MAC on its interface,
 * each with the SESSION_ID the subscriber's pppd was given, one L2TP session each, all in one
 * tunnel to the LNS; and kpppoed's status says they are up, for `service`.
 */
async function assertCarried(
  lab: PppoeLab,
  ac: Kpppoed,
  subs: readonly Subscriber[],
  service: string,
): Promise<void> {
  const entries = await pppoeEntries(lab);
  assert.equal(entries.length, subs.length, `PPPoE sessions on the AC: ${JSON.stringify(entries)}`);
  const macs = await Promise.all(subs.map((s) => lab.mac(lab.ns.sub, s.ethIfname)));
  assert.deepEqual(entries.map((e) => e.peerMac).sort(), [...macs].sort(), "one per subscriber");
  for (const e of entries) assert.equal(e.device, AC_SUB_IFNAME);
  const given = subs.map(sessionIdOf);
  assert.deepEqual(
    entries.map((e) => e.sessionId).sort((a, b) => a - b),
    [...given].sort((a, b) => a - b),
    "the kernel's PPPoE sessions have the SESSION_IDs the subscribers were given",
  );
  assert.equal(new Set(given).size, subs.length, "distinct SESSION_IDs");

  const tunnels = await ipTunnels(lab.ns.ac);
  assert.equal(tunnels.length, 1, `one tunnel on the AC: ${JSON.stringify(tunnels)}`);
  const [tunnel] = tunnels;
  assert.equal(tunnel.encap, "UDP");
  assert.equal(tunnel.peer, LNS_ADDRESS);
  assert.equal(tunnel.peer_port, 1701);
  assert.notEqual(tunnel.local_port, undefined);
  const sessions = await ipSessions(lab.ns.ac);
  assert.equal(
    sessions.length,
    subs.length,
    `L2TP sessions on the AC: ${JSON.stringify(sessions)}`,
  );
  for (const s of sessions) assert.equal(s.tunnel_id, tunnel.tunnel_id, "all in the one tunnel");

  const status = await kpppoedStatus(ac);
  const byId = new Map(status.pppoe.sessions.map((s) => [s.sessionId, s]));
  assert.equal(status.pppoe.sessions.length, subs.length, JSON.stringify(status.pppoe));
  for (const [i, sessionId] of given.entries()) {
    const s = byId.get(sessionId);
    assert.ok(s, `kpppoed's status lists PPPoE session ${sessionId}`);
    assert.equal(s.peerMac.toLowerCase(), macs[i]);
    assert.equal(s.service, service);
    assert.equal(s.state, "up");
  }
  assert.equal(status.tunnels.length, 1, "one tunnel in kpppoed's status");
}

/** SIGTERM to kpppoed: it exits 0 and leaves nothing on the AC. */
async function stopAc(lab: PppoeLab, ac: Kpppoed): Promise<void> {
  const st = await ac.stop("SIGTERM", 20_000);
  assert.equal(st.code, 0, `kpppoed exits 0 on SIGTERM:\n${ac.output()}`);
  await waitAcClean(lab, "after kpppoed stopped", 10_000);
}

/** The subscriber side of `lab` is up with one subscriber and kpppoed (after an LNS started). */
async function oneSubscriber(
  lab: PppoeLab,
  watched: readonly Watched[],
  service?: string,
): Promise<{ ac: Kpppoed; sub: Subscriber; link: PppLink }> {
  const ac = startKpppoed(lab, acConfig());
  await kpppoedReady(ac);
  const sub = startSubscriber(lab, { ifname: lab.subIfnames[0], unit: 0, service });
  const [link] = await linksUp(lab, [sub], [["kpppoed", ac], ...watched]);
  return { ac, sub, link };
}

kernelTest({
  name: "kpppoed -> xl2tpd LNS (kernel mode, pppd): the subscriber's pppd comes up, pings the LNS",
  skip: XL2TPD_MISSING,
  fn: async () => {
    await using lab = await PppoeLab.create();
    await lab.run(async () => {
      const xl = await startXl2tpdLns(lab);
      const { ac, sub, link } = await oneSubscriber(lab, [["xl2tpd", xl]], "internet");
      assert.equal(link.local, "10.99.0.2", "xl2tpd's pppd gave the subscriber its address");
      await lab.ping(lab.ns.sub, LNS_PPP);
      await assertCarried(lab, ac, [sub], "internet");
      assert.match(xl.output(), /Call established with/);
      assert.equal((await lab.pppdPids(lab.ns.ac)).length, 0, "no pppd on the AC");
      await stopAc(lab, ac);
    });
  },
});

kernelTest({
  name: "kpppoed -> our LNS (l2tpd, role lns, pppd): the subscriber's pppd comes up, pings the LNS",
  skip: PPPOE_MISSING,
  fn: async () => {
    await using lab = await PppoeLab.create();
    await lab.run(async () => {
      const lns = await startOurLns(lab);
      const { ac, sub, link } = await oneSubscriber(lab, [["our LNS", lns]], "voip");
      assert.equal(link.local, "10.99.0.2");
      await lab.ping(lab.ns.sub, LNS_PPP);
      await assertCarried(lab, ac, [sub], "voip");
      assert.match(lns.output(), /tunnel-up /);
      assert.match(lns.output(), /session-up /);
      const [theirs] = await ipTunnels(lab.ns.lns);
      const [ours] = await ipTunnels(lab.ns.ac);
      assert.ok(theirs, "our LNS holds the tunnel's other end");
      assert.equal(theirs.peer_tunnel, ours.tunnel_id);
      assert.equal(ours.peer_tunnel, theirs.tunnel_id);
      await stopAc(lab, ac);
    });
  },
});

/** Run pppoe-discovery in "sub" (bounded by coreutils `timeout`). */
function discover(lab: PppoeLab, args: string): Promise<{ code: number; stdout: string }> {
  return lab.exec(
    lab.ns.sub,
    ["timeout", "60", "pppoe-discovery", "-I", lab.subIfnames[0], ...args.split(" ")],
    { allowFailure: true },
  );
}

kernelTest({
  name: "pppoe-discovery sees kpppoed's AC-Name, every service and its MAC; no state is kept",
  skip: DISCOVERY_MISSING,
  fn: async () => {
    await using lab = await PppoeLab.create();
    await lab.run(async () => {
      // No LNS: discovery alone never dials one.
      const ac = startKpppoed(lab, acConfig());
      await kpppoedReady(ac);
      const acMac = await lab.mac(lab.ns.ac, AC_SUB_IFNAME);
      const any = await discover(lab, "-U -t 2 -a 5");
      assert.equal(any.code, 0, `pppoe-discovery found an AC:\n${any.stdout}`);
      assert.match(any.stdout, new RegExp(`^Access-Concentrator: ${AC_NAME}$`, "m"));
      for (const s of SERVICES) {
        assert.match(any.stdout, new RegExp(`^\\s*Service-Name: ${s}$`, "m"), `service ${s}`);
      }
      assert.match(any.stdout, new RegExp(`^AC-Ethernet-Address: ${acMac}$`, "m"));
      assert.equal(
        [...any.stdout.matchAll(/^Access-Concentrator:/gm)].length,
        1,
        "one PADO (pppoe-discovery -U drops PADOs without its Host-Uniq)",
      );

      const voip = await discover(lab, "-S voip -t 2 -a 3");
      assert.equal(voip.code, 0, `a PADI for voip is answered:\n${voip.stdout}`);
      assert.match(voip.stdout, new RegExp(`^Access-Concentrator: ${AC_NAME}$`, "m"));

      const none = await discover(lab, "-S nosuchservice -t 1 -a 2");
      assert.doesNotMatch(
        none.stdout,
        /Access-Concentrator:/,
        "a PADI for a service not offered gets no PADO (RFC 2516 §5.2)",
      );
      assert.deepEqual(await pppoeEntries(lab), [], "discovery opened no PPPoE session");
      assert.deepEqual(await ipTunnels(lab.ns.ac), [], "and dialled no LNS");
      assert.deepEqual((await kpppoedStatus(ac)).pppoe.sessions, []);
      await stopAc(lab, ac);
    });
  },
});

/** The SESSION_ID a subscriber's pppd was given (its "PPP session is N" line). */
function sessionIdOf(sub: Subscriber): number {
  const m = sub.output().match(/PPP session is (\d+)/);
  assert.ok(m, `${sub.name} logged its PPPoE session`);
  return Number(m[1]);
}

/** The watcher saw the AC's PADT for `sessionId` on `ifname` (waits, bounded). */
async function sawPadt(
  watcher: Watcher,
  ifname: string,
  acMac: string,
  sessionId: number,
): Promise<void> {
  const match = (f: SeenFrame): boolean =>
    f.code === PppoeCode.PADT && f.ifname === ifname && f.source === acMac &&
    f.sessionId === sessionId && f.packetType === "host";
  try {
    await waitFor(
      `the AC's PADT for session ${sessionId} on ${ifname}`,
      () => watcher.frames().some(match),
      15_000,
    );
  } catch (e) {
    throw new Error(
      `${e instanceof Error ? e.message : e}; seen: ${JSON.stringify(watcher.frames())}`,
    );
  }
}

/** Our LNS follows the AC's CDN and StopCCN: its tunnel and its pppd go; it keeps running. */
async function ourLnsFollows(lab: PppoeLab, lns: Proc): Promise<void> {
  await waitFor(
    "our LNS to follow the AC's StopCCN (its tunnel and pppd go)",
    async () =>
      (await ipTunnels(lab.ns.lns)).length === 0 && (await lab.pppdPids(lab.ns.lns)).length === 0,
    30_000,
  );
  assert.match(lns.output(), /session-down /);
  assert.match(lns.output(), /tunnel-down /);
  assert.equal(lns.exited(), false, "our LNS keeps running");
}

kernelTest({
  name: "a subscriber's PADT (its pppd killed) leaves no PPPoE or L2TP state on the AC (our LNS)",
  skip: PPPOE_MISSING,
  fn: async () => {
    await using lab = await PppoeLab.create();
    await lab.run(async () => {
      const lns = await startOurLns(lab);
      const { ac, sub } = await oneSubscriber(lab, [["our LNS", lns]]);
      const sessionId = sessionIdOf(sub);
      assert.equal((await ipTunnels(lab.ns.ac)).length, 1);

      // SIGKILL: pppd sends nothing (no LCP Terminate), and the LNS's pppd sends no LCP echoes.
      await sub.stop("SIGKILL");
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal((await pppoeEntries(lab)).length, 1, "without a PADT the AC holds on");
      assert.equal((await ipSessions(lab.ns.ac)).length, 1);
      await sendPadt(lab, sub.ethIfname, await lab.mac(lab.ns.ac, AC_SUB_IFNAME), sessionId);
      await waitAcClean(lab, "after the subscriber's PADT");
      assert.equal(ac.exited(), false, "kpppoed keeps running");
      await ourLnsFollows(lab, lns);
      assert.deepEqual((await kpppoedStatus(ac)).pppoe.sessions, []);
      await stopAc(lab, ac);
    });
  },
});

/**
 * Debian's pppd 2.4.9 closes its discovery socket once it has the PADS, so hanging up it sends
 * an LCP Terminate-Request and no PADT: the LNS's pppd ends, the LNS sends a CDN, and the AC
 * closes the session (sending the PADT itself) and then the tunnel.
 */
kernelTest({
  name: "a subscriber's pppd hanging up (SIGTERM) leaves no PPPoE or L2TP state on the AC (xl2tpd)",
  skip: XL2TPD_MISSING,
  fn: async () => {
    await using lab = await PppoeLab.create();
    await lab.run(async () => {
      const xl = await startXl2tpdLns(lab);
      const watching = startWatcher(lab);
      const { ac, sub } = await oneSubscriber(lab, [["xl2tpd", xl]]);
      const watcher = await watching;
      const sessionId = sessionIdOf(sub);

      await sub.stop("SIGTERM", 20_000);
      assert.match(sub.output(), /sent \[LCP TermReq/, "the subscriber's pppd hung up");
      await waitAcClean(lab, "after the subscriber hung up");
      await sawPadt(watcher, sub.ethIfname, await lab.mac(lab.ns.ac, AC_SUB_IFNAME), sessionId);
      assert.equal(ac.exited(), false, "kpppoed keeps running");
      await waitFor(
        "xl2tpd to follow the AC's StopCCN",
        async () => (await ipTunnels(lab.ns.lns)).length === 0,
        30_000,
      );
      await stopAc(lab, ac);
    });
  },
});

for (const which of ["xl2tpd", "our LNS"] as const) {
  kernelTest({
    name: `${which} stopping (StopCCN) leaves no PPPoE or L2TP state on the AC; PADT to pppd`,
    skip: which === "xl2tpd" ? XL2TPD_MISSING : PPPOE_MISSING,
    fn: async () => {
      await using lab = await PppoeLab.create();
      await lab.run(async () => {
        let stopLns: () => Promise<Deno.CommandStatus>;
        let lnsProc: { exited(): boolean; output(): string };
        if (which === "xl2tpd") {
          const xl = await startXl2tpdLns(lab);
          stopLns = () => xl.stop("SIGINT", 10_000);
          lnsProc = xl;
        } else {
          const lns = await startOurLns(lab);
          stopLns = () => lns.stop("SIGTERM", 20_000);
          lnsProc = lns;
        }
        const watching = startWatcher(lab);
        const { ac, sub } = await oneSubscriber(lab, [[which, lnsProc]]);
        const watcher = await watching;
        const sessionId = sessionIdOf(sub);

        const st = await stopLns();
        if (which === "our LNS") assert.equal(st.code, 0, `our LNS exits 0:\n${lnsProc.output()}`);
        await waitAcClean(lab, `after ${which} stopped`);
        await sawPadt(watcher, sub.ethIfname, await lab.mac(lab.ns.ac, AC_SUB_IFNAME), sessionId);
        await waitFor("the subscriber's pppd to exit", () => sub.exited(), 30_000);
        assert.match(
          sub.output(),
          /Modem hangup|LCP terminated by peer|Connection terminated/,
          "the subscriber's pppd saw its link go",
        );
        assert.deepEqual(await lab.pppLinks(lab.ns.sub), [], "no ppp interface left in sub");
        assert.equal(ac.exited(), false, "kpppoed keeps running");
        await stopAc(lab, ac);
      });
    },
  });
}

kernelTest({
  name: "ten subscribers at once come up over one tunnel; SIGTERM to kpppoed hangs up all ten",
  skip: XL2TPD_MISSING,
  fn: async () => {
    const n = 10;
    await using lab = await PppoeLab.create({ subscribers: n });
    await lab.run(async () => {
      const xl = await startXl2tpdLns(lab, 30);
      const watching = startWatcher(lab);
      const ac = startKpppoed(lab, acConfig());
      await kpppoedReady(ac);
      const subs = lab.subIfnames.map((ifname, unit) =>
        startSubscriber(lab, { ifname, unit, service: "internet" })
      );
      const links = await linksUp(lab, subs, [["kpppoed", ac], ["xl2tpd", xl]], 180_000);
      const watcher = await watching;
      assert.equal(links.length, n);
      assert.equal(new Set(links.map((l) => l.local)).size, n, "ten distinct addresses");
      assert.equal((await lab.pppLinks(lab.ns.sub)).length, n, "ten ppp interfaces in sub");
      for (const s of subs) {
        await lab.ping(lab.ns.sub, LNS_PPP, { count: 1, iface: s.pppIfname });
      }
      await assertCarried(lab, ac, subs, "internet");
      assert.equal((await ipTunnels(lab.ns.lns)).length, 1, "xl2tpd has one tunnel");

      const st = await ac.stop("SIGTERM", 30_000);
      assert.equal(st.code, 0, `kpppoed exits 0 on SIGTERM:\n${ac.output()}`);
      const acMac = await lab.mac(lab.ns.ac, AC_SUB_IFNAME);
      for (const s of subs) await sawPadt(watcher, s.ethIfname, acMac, sessionIdOf(s));
      await waitFor("all ten subscriber pppd to exit", () => subs.every((s) => s.exited()), 30_000);
      assert.deepEqual(await lab.pppLinks(lab.ns.sub), []);
      await waitAcClean(lab, "after kpppoed stopped", 10_000);
      await waitFor(
        "xl2tpd to follow the StopCCN",
        async () => (await ipTunnels(lab.ns.lns)).length === 0,
        30_000,
      );
    });
  },
});
