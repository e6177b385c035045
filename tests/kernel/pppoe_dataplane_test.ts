/**
 * The OS side of PPPoE for an access concentrator, for real (in the VM): packet sockets for
 * discovery, kernel PPPoE session sockets, PPP channel bridging, and the pppac pseudowire.
 *
 * - Discovery sockets on a veth pair: a PADI-shaped payload broadcast one way arrives with the
 *   sender's MAC, a reply goes back unicast; short frames are dropped, not thrown; the MACs and
 *   indexes agree with `ip -j link`; closing leaves no fd behind.
 * - Two PPPoE sessions on one interface bridged with each other: a frame sent into one comes out
 *   of the other, both ways, until the bridge is closed. Bridging a missing channel fails with
 *   the documented message and no fd leak.
 * - pppac end to end, three namespaces: "sub" (a subscriber played with raw PPPoE session
 *   frames) -- veth -- "ac" (an L2TPv2 tunnel, `openPppac` bridging the PPPoE session into the
 *   L2TP session) -- veth -- "lns" (`_ppp_host.ts`: the same tunnel, pppd on PPPoL2TP). The
 *   subscriber's LCP Configure-Request is answered by the LNS's pppd, and pppd's own
 *   Configure-Request reaches the subscriber as a PPPoE session frame with the right session
 *   ID: both bridge directions go through the kernel. Closing the pppac handle removes the
 *   kernel L2TP session and leaves no fd open; a failure half way leaves nothing either.
 *
 * The namespaced parts run as helper processes: this file, started with
 * `deno run -A pppoe_dataplane_test.ts ac|sub OPTIONS` inside `ip netns exec`, plays the access
 * concentrator or the subscriber and reports JSON lines on stdout.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import { KernelDataPlane } from "../../dataplane/kernel.ts";
import {
  BROADCAST_MAC,
  ETH_P_PPP_DISC,
  ETH_P_PPP_SES,
  type EthernetFrame,
  interfaceInfo,
  openDiscoverySocket,
  openPacketSocket,
  type PacketSocket,
} from "../../dataplane/packet_socket.ts";
import { Reactor } from "../../dataplane/reactor.ts";
import { bridgeChannels } from "../../dataplane/ppp_bridge.ts";
import { openPppac } from "../../dataplane/pppac.ts";
import { openPppoeSession } from "../../dataplane/pppoe_session.ts";
import { openTunnelSocket } from "../../dataplane/socket.ts";
import { ipSessions, ipTunnels, kernelTest, ROOT, sh, waitFor } from "./_helpers.ts";

const THIS_FILE = new URL(import.meta.url).pathname;
const decoder = new TextDecoder();

// ---------------------------------------------------------------------------------------------
// PPPoE and LCP bytes (just enough to build and read the frames the tests exchange)

const PPP_LCP = 0xc021;
const LCP_NAMES = ["?", "Configure-Request", "Configure-Ack", "Configure-Nak", "Configure-Reject"];

/** A PPPoE payload: ver/type 0x11, code, session ID, length, then `body`. */
function pppoePayload(code: number, sessionId: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(6 + body.length);
  const dv = new DataView(out.buffer);
  out[0] = 0x11;
  out[1] = code;
  dv.setUint16(2, sessionId);
  dv.setUint16(4, body.length);
  out.set(body, 6);
  return out;
}

/** A PPPoE session frame's payload (code 0) carrying the PPP frame `ppp`. */
function pppoeSessionPayload(sessionId: number, ppp: Uint8Array): Uint8Array {
  return pppoePayload(0, sessionId, ppp);
}

/** A PPP frame (protocol field, then the packet) carrying an LCP Configure-Request. */
function lcpConfigureRequest(id: number, magic: number): Uint8Array {
  const out = new Uint8Array(2 + 10);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, PPP_LCP);
  out[2] = 1; // Configure-Request
  out[3] = id;
  dv.setUint16(4, 10);
  out[6] = 5; // Magic-Number
  out[7] = 6;
  dv.setUint32(8, magic);
  return out;
}

/** A PADI-shaped discovery payload (code 0x09): Service-Name (empty) and Host-Uniq tags. */
function padiPayload(): Uint8Array {
  return pppoePayload(0x09, 0, new Uint8Array([1, 1, 0, 0, 1, 3, 0, 4, 0xca, 0xfe, 0xf0, 0x0d]));
}

/** What the subscriber learns from one PPPoE session frame. */
interface SessionFrame {
  source: string;
  packetType: string;
  verType: number;
  code: number;
  sessionId: number;
  length: number;
  /** The PPP protocol (after an 0xff03 address/control field, if any). */
  protocol: number;
  /** Whether the PPP frame began with 0xff03. */
  addressControl: boolean;
  lcpCode?: number;
  lcpId?: number;
}

function decodeSessionFrame(f: EthernetFrame): SessionFrame | undefined {
  const p = f.payload;
  if (p.length < 8) return undefined;
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  let at = 6;
  const addressControl = p[6] === 0xff && p[7] === 0x03;
  if (addressControl) at += 2;
  if (p.length < at + 2) return undefined;
  const protocol = dv.getUint16(at);
  const lcp = protocol === PPP_LCP && p.length >= at + 6;
  return {
    source: f.source,
    packetType: f.packetType,
    verType: p[0],
    code: p[1],
    sessionId: dv.getUint16(2),
    length: dv.getUint16(4),
    protocol,
    addressControl,
    ...(lcp ? { lcpCode: p[at + 2], lcpId: p[at + 3] } : {}),
  };
}

// ---------------------------------------------------------------------------------------------
// Small tools

/** The fds this process has open (names in /proc/self/fd, the listing's own fd aside). */
function openFds(): Set<string> {
  const fds = new Set<string>();
  for (const e of Deno.readDirSync("/proc/self/fd")) fds.add(e.name);
  return fds;
}

/** The inodes of this process's Unix domain sockets (from /proc/net/unix). */
function unixSocketInodes(): Set<string> {
  const inodes = new Set<string>();
  try {
    for (const line of Deno.readTextFileSync("/proc/net/unix").split("\n").slice(1)) {
      const inode = line.trim().split(/\s+/)[6];
      if (inode !== undefined) inodes.add(inode);
    }
  } catch {
    // no /proc/net/unix: nothing is filtered
  }
  return inodes;
}

/**
 * The fds open in `after` but not in `before`, with their targets. Unix domain sockets are left
 * out: Deno makes a pair of them for its own use (for instance on the first read of stdin), and
 * nothing under test creates any (PPPoX sockets, packet sockets and /dev/ppp are what count).
 */
function leaked(before: Set<string>, after: Set<string>): string[] {
  const unix = unixSocketInodes();
  const out: string[] = [];
  for (const fd of after) {
    if (before.has(fd)) continue;
    let target: string;
    try {
      target = Deno.readLinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // the listing's own fd, gone by now
    }
    const socket = /^socket:\[(\d+)\]$/.exec(target);
    if (socket !== null && unix.has(socket[1])) continue;
    out.push(`${fd} -> ${target}`);
  }
  return out;
}

/** `p`, or a failure naming `what` after `ms`. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** The next frame on `sock`, or undefined when none comes within `ms`. */
async function frameWithin(sock: PacketSocket, ms: number): Promise<EthernetFrame | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const none = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return (await Promise.race([sock.receive(), none])) ?? undefined;
  } finally {
    clearTimeout(timer);
  }
}

interface IpLink {
  ifindex: number;
  ifname: string;
  address: string;
}

async function ipLink(ifname: string, netns?: string): Promise<IpLink> {
  const ns = netns ? ["-n", netns] : [];
  const { stdout } = await sh(["ip", ...ns, "-j", "link", "show", "dev", ifname]);
  const links = JSON.parse(stdout) as IpLink[];
  assert.equal(links.length, 1, `ip -j link show dev ${ifname}: ${stdout}`);
  return links[0];
}

/** A command line split at whitespace (no quoting: for the fixed arguments of these tests). */
function words(text: string): string[] {
  return text.trim().split(/\s+/);
}

function tag(): string {
  return crypto.randomUUID().slice(0, 4);
}

// ---------------------------------------------------------------------------------------------
// Helper processes (this file run with "ac" or "sub")

/** A helper process in a namespace, with its JSON report lines. */
interface Helper {
  name: string;
  child: Deno.ChildProcess;
  /** stdout + stderr so far. */
  output(): string;
  /** The first report whose "step" is `step` (waits for it; rejects if the process ends). */
  report(step: string, timeoutMs: number): Promise<Record<string, unknown>>;
  /** Write a line to its stdin. */
  tell(line: string): Promise<void>;
  /** SIGTERM unless it has exited, then its status once the output is drained. */
  stop(): Promise<Deno.CommandStatus>;
}

function startHelper(name: string, netns: string, argv: string[]): Helper {
  const child = new Deno.Command("ip", {
    args: ["netns", "exec", netns, ...argv],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const reports: Record<string, unknown>[] = [];
  let exited = false;
  const collect = async (stream: ReadableStream<Uint8Array>, out: boolean): Promise<void> => {
    let pending = "";
    for await (const chunk of stream) {
      const s = decoder.decode(chunk, { stream: true });
      text += s;
      if (!out) continue;
      pending += s;
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (line.startsWith("{")) {
          try {
            reports.push(JSON.parse(line));
          } catch {
            // not a report
          }
        }
      }
    }
  };
  const drained = Promise.all([collect(child.stdout, true), collect(child.stderr, false)]);
  const status = child.status.then(async (st) => {
    exited = true;
    await drained;
    return st;
  });
  const writer = child.stdin.getWriter();
  return {
    name,
    child,
    output: () => text,
    report: async (step, timeoutMs) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = reports.find((x) => x.step === step);
        if (r !== undefined) return r;
        if (exited) {
          await drained;
          const late = reports.find((x) => x.step === step);
          if (late !== undefined) return late;
          throw new Error(`${name} exited before reporting "${step}":\n${text}`);
        }
        if (Date.now() > deadline) {
          throw new Error(
            `Timed out after ${timeoutMs} ms waiting for ${name}'s "${step}":\n${text}`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    tell: async (line) => {
      await writer.write(new TextEncoder().encode(line + "\n"));
    },
    stop: async () => {
      if (!exited) {
        try {
          child.kill("SIGTERM");
        } catch {
          // already gone
        }
      }
      await writer.close().catch(() => {});
      return await status;
    },
  };
}

function helperArgv(role: "ac" | "sub", args: string[]): string[] {
  return [Deno.execPath(), "run", "--allow-all", "--no-check", THIS_FILE, role, ...args];
}

function report(o: Record<string, unknown>): void {
  console.log(JSON.stringify(o));
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Read stdin until a line equal to `word` (or the end). */
async function untilLine(word: string): Promise<void> {
  let text = "";
  for await (const chunk of Deno.stdin.readable) {
    text += decoder.decode(chunk);
    if (text.split("\n").some((l) => l.trim() === word)) return;
  }
}

/**
 * The access concentrator: a managed L2TPv2 tunnel (our UDP socket), then `openPppac`. Reports
 * "ready" (channels, sessions, the failure-half-way check), waits for "close" on stdin, closes,
 * reports "closed" (sessions left, fds leaked), deletes the tunnel and exits.
 */
async function acHelper(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: {
      local: { type: "string" },
      peer: { type: "string" },
      tid: { type: "string" },
      ptid: { type: "string" },
      sid: { type: "string" },
      psid: { type: "string" },
      "pppoe-sid": { type: "string" },
      "sub-mac": { type: "string" },
      ifname: { type: "string" },
    },
  });
  const endpoint = (text = ""): { address: string; port: number } => {
    const i = text.lastIndexOf(":");
    return { address: text.slice(0, i), port: Number(text.slice(i + 1)) };
  };
  const tid = Number(v.tid);
  const ids = {
    tunnelId: tid,
    sessionId: Number(v.sid),
    peerTunnelId: Number(v.ptid),
    peerSessionId: Number(v.psid),
  };
  const pppoe = {
    sessionId: Number(v["pppoe-sid"]),
    peerMac: v["sub-mac"] ?? "",
    ifname: v.ifname ?? "",
  };
  // Deno makes a socket pair for its first stdin read: start reading before counting fds.
  const closeRequested = untilLine("close");
  using dp = await KernelDataPlane.open();
  using sock = openTunnelSocket({ encap: "udp", local: endpoint(v.local), peer: endpoint(v.peer) });
  await dp.createTunnel({
    tunnelId: tid,
    peerTunnelId: ids.peerTunnelId,
    version: 2,
    encap: "udp",
    fd: sock.fd,
  });
  try {
    // A failure half way: the PPPoL2TP session is made, then the PPPoE connect fails.
    const fds0 = openFds();
    let failure = "";
    try {
      const pw = openPppac({
        tunnelFd: sock.fd,
        version: 2,
        ...ids,
        pppoe: { ...pppoe, ifname: "nosuchif0" },
      });
      await pw.close();
      failure = "(it opened)";
    } catch (e) {
      failure = message(e);
    }
    const sessionsAfterFailure = (await dp.listSessions(tid)).length;
    const fds1 = openFds();
    const failureLeaked = leaked(fds0, fds1);

    const pw = openPppac({ tunnelFd: sock.fd, version: 2, ...ids, pppoe });
    const sessions = (await dp.listSessions(tid)).map((s) => ({
      sessionId: s.sessionId,
      peerSessionId: s.peerSessionId,
      pseudowire: s.pseudowire,
    }));
    report({
      step: "ready",
      failure,
      sessionsAfterFailure,
      failureLeaked,
      l2tpChannel: pw.l2tpChannel,
      pppoeChannel: pw.pppoeChannel,
      sessions,
    });
    await closeRequested;
    await Promise.all([pw.close(), pw.close()]); // concurrent and repeated: one teardown
    await pw.close();
    let sessionsAfterClose = -1;
    const deadline = Date.now() + 10_000;
    do {
      sessionsAfterClose = (await dp.listSessions(tid)).length;
      if (sessionsAfterClose !== 0) await new Promise((r) => setTimeout(r, 100));
    } while (sessionsAfterClose !== 0 && Date.now() < deadline);
    report({ step: "closed", sessionsAfterClose, closeLeaked: leaked(fds1, openFds()) });
  } finally {
    await dp.deleteTunnel(tid).catch(() => {});
  }
}

/**
 * The subscriber: raw PPPoE session frames on its interface. Sends an LCP Configure-Request to
 * the access concentrator every second and reports every session frame it gets, until it has
 * seen both the LNS's own Configure-Request and the LNS's answer to ours ("done").
 */
async function subHelper(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: {
      ifname: { type: "string" },
      "ac-mac": { type: "string" },
      "pppoe-sid": { type: "string" },
      "timeout-ms": { type: "string", default: "150000" },
    },
  });
  const sid = Number(v["pppoe-sid"]);
  const acMac = v["ac-mac"] ?? "";
  const ourId = 0x42;
  await using ses = openPacketSocket(v.ifname ?? "", { etherType: ETH_P_PPP_SES, minPayload: 6 });
  const confReq = pppoeSessionPayload(sid, lcpConfigureRequest(ourId, 0x5ab0c0de));
  report({ step: "listening", mac: ses.mac });
  const send = (): void => {
    ses.send(confReq, acMac);
  };
  send();
  const ticker = setInterval(send, 1000);
  const limit = setTimeout(() => ses.close(), Number(v["timeout-ms"]));
  let peerRequest: SessionFrame | undefined;
  let reply: SessionFrame | undefined;
  try {
    for await (const f of ses) {
      const d = decodeSessionFrame(f);
      report({ step: "frame", ...(d ?? { undecodable: f.payload.length }) });
      if (d === undefined || d.protocol !== PPP_LCP) continue;
      if (d.lcpCode === 1) peerRequest ??= d;
      if (d.lcpCode !== undefined && d.lcpCode >= 2 && d.lcpCode <= 4 && d.lcpId === ourId) {
        reply ??= d;
      }
      if (peerRequest !== undefined && reply !== undefined) break;
    }
  } finally {
    clearInterval(ticker);
    clearTimeout(limit);
  }
  report({ step: "done", peerRequest, reply, stats: ses.stats });
}

// ---------------------------------------------------------------------------------------------
// The tests

if (import.meta.main) {
  const [role, ...rest] = Deno.args;
  try {
    if (role === "ac") await acHelper(rest);
    else if (role === "sub") await subHelper(rest);
    else throw new Error(`Cannot run helper: unknown role "${role}" (ac or sub)`);
    Deno.exit(0);
  } catch (e) {
    console.error(e instanceof Error ? e.stack : String(e));
    Deno.exit(1);
  }
}

/** A veth pair in this namespace, deleted by the returned function. */
async function vethPair(): Promise<{ a: string; b: string; remove: () => Promise<void> }> {
  const t = tag();
  const a = `pd${t}a`;
  const b = `pd${t}b`;
  await sh(["ip", "link", "add", a, "type", "veth", "peer", "name", b]);
  const remove = async (): Promise<void> => {
    await sh(["ip", "link", "del", a], { allowFailure: true });
  };
  try {
    // No IPv6 on these links: no router solicitations or MLD reports on them.
    for (const dev of [a, b]) {
      try {
        await Deno.writeTextFile(`/proc/sys/net/ipv6/conf/${dev}/disable_ipv6`, "1");
      } catch {
        // no IPv6 in this kernel: nothing to quiet
      }
      await sh(["ip", "link", "set", dev, "up"]);
    }
  } catch (e) {
    await remove();
    throw e;
  }
  return { a, b, remove };
}

kernelTest({
  name: "PPPoE discovery sockets: broadcast and unicast on a veth pair, through one reactor",
  fn: async () => {
    const pair = await vethPair();
    const fdsBefore = openFds();
    try {
      for (const dev of [pair.a, pair.b]) {
        const info = interfaceInfo(dev);
        const link = await ipLink(dev);
        assert.equal(info.mac, link.address, `interfaceInfo(${dev}).mac is what ip -j link says`);
        assert.equal(info.index, link.ifindex, `interfaceInfo(${dev}).index`);
        assert.equal(info.hardwareType, 1, `${dev} is Ethernet`);
      }
      assert.throws(
        () => interfaceInfo("nosuchif0"),
        /Cannot read index of interface nosuchif0: No such device/,
      );
      {
        await using reactor = new Reactor();
        const a = openDiscoverySocket(pair.a, { reactor });
        const b = openDiscoverySocket(pair.b, { reactor });
        assert.equal(a.etherType, ETH_P_PPP_DISC);

        // Broadcast a -> b.
        const padi = padiPayload();
        const waiting = b.receive();
        assert.equal(a.send(padi, BROADCAST_MAC), true);
        const got = await within(waiting, 10_000, "the PADI on the other end");
        assert.ok(got !== null);
        assert.equal(got.source, a.mac);
        assert.equal(got.packetType, "broadcast");
        assert.equal(got.etherType, ETH_P_PPP_DISC);
        assert.deepEqual(got.payload, padi);

        // Unicast reply b -> a, with a short (malformed) frame first: dropped and counted.
        assert.equal(b.send(new Uint8Array([0x11, 0x07]), got.source), true);
        const pado = Uint8Array.from(padi);
        pado[1] = 0x07;
        assert.equal(b.send(pado, got.source), true);
        let reply: EthernetFrame | undefined;
        for await (const f of a) {
          reply = f;
          break;
        }
        assert.ok(reply !== undefined);
        assert.equal(reply.source, b.mac);
        assert.equal(reply.packetType, "host");
        assert.deepEqual(reply.payload, pado);
        assert.equal(a.stats.received, 1);
        assert.equal(a.stats.dropped, 1, "the 2-byte frame was dropped");
        assert.equal(b.stats.sent, 2);

        // Frames of other EtherTypes never reach a discovery socket.
        using ses = openPacketSocket(pair.b, { reactor, etherType: ETH_P_PPP_SES });
        assert.equal(ses.send(pppoeSessionPayload(1, lcpConfigureRequest(1, 1)), a.mac), true);
        assert.equal(await frameWithin(a, 500), undefined, "a session frame is not discovery");

        // Closing a socket ends its pending receive; closing the reactor closes the rest.
        const pending = a.receive();
        a.close();
        assert.equal(await within(pending, 5000, "the receive to end"), null);
        const pendingB = b.receive();
        reactor.close();
        assert.equal(await within(pendingB, 5000, "the receive to end on reactor close"), null);
        assert.ok(b.closed, "closing the reactor closed the socket");
        assert.ok(ses.closed);
      }
      // A socket with its own reactor.
      {
        await using own = openDiscoverySocket(pair.a);
        assert.equal(own.mac, interfaceInfo(pair.a).mac);
      }
      assert.throws(() => openDiscoverySocket("nosuchif0"), /No such device/);
      assert.deepEqual(leaked(fdsBefore, openFds()), [], "no fd left open");
    } finally {
      await pair.remove();
    }
  },
});

kernelTest({
  name: "PPP channel bridge: two PPPoE sessions bridged in the kernel relay frames both ways",
  fn: async () => {
    const pair = await vethPair();
    const fdsBefore = openFds();
    try {
      const macA = interfaceInfo(pair.a).mac;
      const macB = interfaceInfo(pair.b).mac;
      {
        await using reactor = new Reactor();
        using peer = openPacketSocket(pair.b, { reactor, etherType: ETH_P_PPP_SES, minPayload: 6 });
        using s1 = openPppoeSession({ sessionId: 0x0101, peerMac: macB, ifname: pair.a });
        using s2 = openPppoeSession({
          sessionId: 0x0202,
          peerMac: macB.toUpperCase(),
          ifname: pair.a,
        });
        assert.equal(s2.peerMac, macB, "the MAC is kept lowercase");
        // Refused before connecting: closing a socket whose connect failed with EALREADY would
        // take s1's entry out of the kernel's table (s1 relaying below shows it did not).
        assert.throws(
          () => openPppoeSession({ sessionId: 0x0101, peerMac: macB, ifname: pair.a }),
          /Cannot connect PPPoE socket to session 257 .*: Operation already in progress/,
        );
        assert.throws(
          () => openPppoeSession({ sessionId: 5, peerMac: macB, ifname: "nosuchif0" }),
          /Cannot connect PPPoE socket to session 5 .* nosuchif0: No such device \(errno 19\): there is no interface/,
        );
        const c1 = s1.channel();
        const c2 = s2.channel();
        assert.notEqual(c1, c2);
        assert.equal(s1.channel(), c1, "PPPIOCGCHAN is stable");
        const bridge = bridgeChannels(c1, c2);
        assert.equal(bridge.channelA, c1);
        const lcp = lcpConfigureRequest(7, 0x01020304);
        for (const [from, to] of [[0x0101, 0x0202], [0x0202, 0x0101]]) {
          assert.equal(peer.send(pppoeSessionPayload(from, lcp), macA), true);
          const f = await within(peer.receive(), 10_000, `the frame sent into session ${from}`);
          assert.ok(f !== null);
          assert.equal(f.source, macA);
          assert.equal(f.packetType, "host");
          assert.deepEqual(f.payload, pppoeSessionPayload(to, lcp), `relayed ${from} -> ${to}`);
        }
        assert.throws(
          () => bridgeChannels(c1, c2),
          /Cannot bridge PPP channels .*: a channel is already bridged/,
        );
        bridge.close();
        bridge.close(); // idempotent
        assert.equal(peer.send(pppoeSessionPayload(0x0101, lcp), macA), true);
        assert.equal(await frameWithin(peer, 1000), undefined, "nothing is relayed once unbridged");
      }
      assert.throws(
        () => bridgeChannels(999999, 999998),
        /Cannot bridge PPP channels 999999 and 999998 \(attach to channel 999999\): No such device or address \(errno 6\)/,
      );
      assert.throws(() => bridgeChannels(3, 3), /with itself/);
      assert.deepEqual(leaked(fdsBefore, openFds()), [], "no fd left open");
    } finally {
      await pair.remove();
    }
  },
});

kernelTest({
  name: "pppac: a PPPoE session bridged into an L2TPv2 session reaches the LNS's pppd both ways",
  fn: async () => {
    const t = tag();
    const ns = { ac: `pac${t}-ac`, lns: `pac${t}-lns`, sub: `pac${t}-sub` };
    const TID = { ac: 11, lns: 22 };
    const SID = { ac: 33, lns: 44 };
    const PPPOE_SID = 0x2a17;
    const helpers: Helper[] = [];
    let failed = true;
    try {
      for (const n of Object.values(ns)) {
        await sh(["ip", "netns", "add", n]);
        await sh(["ip", "-n", n, "link", "set", "lo", "up"]);
      }
      await sh(words(`ip link add eth0 netns ${ns.ac} type veth peer name eth0 netns ${ns.lns}`));
      await sh(words(`ip link add eth1 netns ${ns.ac} type veth peer name eth0 netns ${ns.sub}`));
      await sh(words(`ip -n ${ns.ac} addr add 10.0.0.1/24 dev eth0`));
      await sh(words(`ip -n ${ns.lns} addr add 10.0.0.2/24 dev eth0`));
      for (
        const [n, dev] of [[ns.ac, "eth0"], [ns.ac, "eth1"], [ns.lns, "eth0"], [ns.sub, "eth0"]]
      ) {
        await sh(["ip", "-n", n, "link", "set", dev, "up"]);
      }
      const acMac = (await ipLink("eth1", ns.ac)).address;
      const subMac = (await ipLink("eth0", ns.sub)).address;

      const ac = startHelper(
        "ac",
        ns.ac,
        helperArgv(
          "ac",
          words(`--local 10.0.0.1:1701 --peer 10.0.0.2:1701 --tid ${TID.ac} --ptid ${TID.lns}
            --sid ${SID.ac} --psid ${SID.lns} --pppoe-sid ${PPPOE_SID} --sub-mac ${subMac}
            --ifname eth1`),
        ),
      );
      helpers.push(ac);
      const ready = await ac.report("ready", 90_000);
      assert.match(
        String(ready.failure),
        /^Cannot connect PPPoE socket to session 10775 with .* on nosuchif0: No such device/,
      );
      assert.equal(ready.sessionsAfterFailure, 0, "the failed open left no L2TP session");
      assert.deepEqual(ready.failureLeaked, [], "the failed open left no fd");
      assert.equal(typeof ready.l2tpChannel, "number");
      assert.equal(typeof ready.pppoeChannel, "number");
      assert.notEqual(ready.l2tpChannel, ready.pppoeChannel);
      assert.deepEqual(ready.sessions, [{
        sessionId: SID.ac,
        peerSessionId: SID.lns,
        pseudowire: "ppp",
      }]);
      const acSessions = await ipSessions(ns.ac);
      assert.equal(acSessions.length, 1, JSON.stringify(acSessions));
      assert.equal(acSessions[0].tunnel_id, TID.ac);
      assert.equal(acSessions[0].session_id, SID.ac);

      const sub = startHelper(
        "sub",
        ns.sub,
        helperArgv("sub", words(`--ifname eth0 --ac-mac ${acMac} --pppoe-sid ${PPPOE_SID}`)),
      );
      helpers.push(sub);
      assert.equal((await sub.report("listening", 90_000)).mac, subMac);

      const lns = startHelper("lns", ns.lns, [
        ...[Deno.execPath(), "run", "--allow-all", "--no-check"],
        `${ROOT}tests/kernel/_ppp_host.ts`,
        ...words(`--version 2 --local 10.0.0.2:1701 --peer 10.0.0.1:1701 --tid ${TID.lns}
          --ptid ${TID.ac} --sid ${SID.lns} --psid ${SID.ac} --ifname pw-lns
          --addrs 10.99.0.1:10.99.0.2 --lns`),
      ]);
      helpers.push(lns);

      const done = await sub.report("done", 150_000);
      const peerRequest = done.peerRequest as SessionFrame | undefined;
      const reply = done.reply as SessionFrame | undefined;
      assert.ok(
        peerRequest,
        `the LNS's Configure-Request reached the subscriber:\n${sub.output()}`,
      );
      assert.ok(reply, `the LNS answered the subscriber's Configure-Request:\n${sub.output()}`);
      for (const f of [peerRequest, reply]) {
        assert.equal(f.verType, 0x11, "PPPoE ver/type");
        assert.equal(f.code, 0, "PPPoE session data");
        assert.equal(f.sessionId, PPPOE_SID, "the PPPoE session ID");
        assert.equal(f.protocol, PPP_LCP, "PPP protocol LCP");
        assert.equal(f.addressControl, false, "no 0xff03 on PPPoE");
        assert.equal(f.source, acMac, "sent by the access concentrator");
        assert.equal(f.packetType, "host", "to the subscriber's MAC");
      }
      console.log(
        `subscriber got the LNS's ${LCP_NAMES[peerRequest.lcpCode ?? 0]} and a ` +
          `${LCP_NAMES[reply.lcpCode ?? 0]} to its own`,
      );

      await ac.tell("close");
      const closed = await ac.report("closed", 60_000);
      assert.equal(
        closed.sessionsAfterClose,
        0,
        "closing the pppac handle removed the L2TP session",
      );
      assert.deepEqual(closed.closeLeaked, [], "closing the pppac handle left no fd");
      assert.deepEqual(await ipSessions(ns.ac), [], "iproute2 sees no session in ac");
      const acStatus = await within(ac.child.status, 60_000, "the ac helper to exit");
      assert.equal(acStatus.code, 0, ac.output());
      assert.deepEqual(await ipTunnels(ns.ac), [], "the ac helper deleted its tunnel");
      failed = false;
    } finally {
      for (const h of helpers.reverse()) {
        const st = await h.stop();
        if (failed) console.log(`--- ${h.name} (exit ${st.code}):\n${h.output()}`);
      }
      for (const n of Object.values(ns)) {
        await sh(["ip", "netns", "del", n], { allowFailure: true });
      }
    }
    await waitFor("the namespaces to go", async () => {
      const { stdout } = await sh(["ip", "netns", "list"]);
      return !stdout.includes(`pac${t}-`);
    }, 10_000);
  },
});
