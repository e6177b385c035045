import assert from "node:assert/strict";
import { KernelDataPlane } from "../../dataplane/kernel.ts";
import { L2TP_ATTR, L2TP_CMD, L2TP_PWTYPE } from "../../dataplane/l2tp_genl.ts";
import {
  type Attribute,
  AttributeEncoder,
  decodeAttributes,
} from "../../dataplane/netlink/attr.ts";
import { NetlinkError } from "../../dataplane/netlink/errors.ts";
import {
  ack,
  concat,
  done,
  FakeConnection,
  genlReply,
  nack,
} from "../../dataplane/netlink/fake.ts";
import { LibnlError } from "../../dataplane/netlink/libnl.ts";
import { decodeGenl, type Message, NLM_F_DUMP } from "../../dataplane/netlink/message.ts";
import { OsError } from "../../dataplane/ffi/libc.ts";

const FAMILY = 0x1c;

interface FakeTunnel {
  id: number;
  peer: number;
  version: number;
  encap: number;
  saddr?: Uint8Array;
  daddr?: Uint8Array;
  sport: number;
  dport: number;
}

interface FakeSession {
  tunnel: number;
  id: number;
  peer: number;
  pw: number;
  ifname?: string;
  cookie?: Uint8Array;
  sendSeq: number;
  recvSeq: number;
  lns: number;
}

/** A tiny in-memory model of the kernel's l2tp genl family, answering like the kernel. */
class FakeL2tpKernel {
  readonly tunnels = new Map<number, FakeTunnel>();
  readonly sessions = new Map<string, FakeSession>();
  /**
   * Like the kernel's work queue: a deleted tunnel stays visible for this many more GETs once its
   * sessions are gone.
   */
  lingerGets = 0;
  /**
   * While a deleted tunnel still has sessions, each GET of it sees this many of them removed (0:
   * the removal is stuck; Infinity: they all go at once).
   */
  sessionsPerGet = Infinity;
  readonly #lingering = new Map<
    number,
    { tunnel: FakeTunnel; gets: number; sessions: FakeSession[] }
  >();
  #eth = 0;

  handle = (req: Message): Uint8Array[] => {
    if (req.header.type !== FAMILY) return [nack(req, 2)];
    const g = decodeGenl(req.data);
    const a = new Map<number, Attribute>(decodeAttributes(g.attributes).map((x) => [x.type, x]));
    const u32 = (t: number): number | undefined => {
      const x = a.get(t);
      return x === undefined
        ? undefined
        : new DataView(x.data.buffer, x.data.byteOffset).getUint32(0, true);
    };
    const u16 = (t: number): number =>
      new DataView(a.get(t)?.data.buffer ?? new ArrayBuffer(2), a.get(t)?.data.byteOffset ?? 0)
        .getUint16(0, true);
    const u8 = (t: number): number | undefined => a.get(t)?.data[0];
    const isDump = (req.header.flags & NLM_F_DUMP) === NLM_F_DUMP;
    const tid = u32(L2TP_ATTR.CONN_ID) ?? 0;
    const sid = u32(L2TP_ATTR.SESSION_ID) ?? 0;
    const key = `${tid}/${sid}`;
    switch (g.header.command) {
      case L2TP_CMD.TUNNEL_CREATE: {
        if (this.tunnels.has(tid)) return [nack(req, 17)];
        this.tunnels.set(tid, {
          id: tid,
          peer: u32(L2TP_ATTR.PEER_CONN_ID) ?? 0,
          version: u8(L2TP_ATTR.PROTO_VERSION) ?? 0,
          encap: u16(L2TP_ATTR.ENCAP_TYPE),
          saddr: a.get(L2TP_ATTR.IP_SADDR)?.data.slice(),
          daddr: a.get(L2TP_ATTR.IP_DADDR)?.data.slice(),
          sport: a.has(L2TP_ATTR.UDP_SPORT) ? u16(L2TP_ATTR.UDP_SPORT) : 0,
          dport: a.has(L2TP_ATTR.UDP_DPORT) ? u16(L2TP_ATTR.UDP_DPORT) : 0,
        });
        return [ack(req)];
      }
      case L2TP_CMD.TUNNEL_DELETE: {
        const gone = this.tunnels.get(tid);
        if (!gone || !this.tunnels.delete(tid)) return [nack(req, 19)];
        const dying: FakeSession[] = [];
        for (const [k, s] of this.sessions) {
          if (s.tunnel !== tid) continue;
          dying.push(s);
          this.sessions.delete(k);
        }
        if (this.lingerGets > 0 || (dying.length > 0 && this.sessionsPerGet !== Infinity)) {
          this.#lingering.set(tid, { tunnel: gone, gets: this.lingerGets, sessions: dying });
        }
        return [ack(req)];
      }
      case L2TP_CMD.TUNNEL_MODIFY:
        return [this.tunnels.has(tid) ? ack(req) : nack(req, 19)];
      case L2TP_CMD.TUNNEL_GET: {
        if (isDump) {
          const parts = [...this.tunnels.values()].map((t) => this.#tunnelReply(req, t, true));
          return [concat(...parts, done(req))];
        }
        const linger = this.#lingering.get(tid);
        if (linger && linger.sessions.length > 0) {
          linger.sessions.splice(0, this.sessionsPerGet);
          return [this.#tunnelReply(req, linger.tunnel, false), ack(req)];
        }
        if (linger && linger.gets-- > 0) {
          return [this.#tunnelReply(req, linger.tunnel, false), ack(req)];
        }
        this.#lingering.delete(tid);
        const t = this.tunnels.get(tid);
        return t === undefined ? [nack(req, 19)] : [this.#tunnelReply(req, t, false), ack(req)];
      }
      case L2TP_CMD.SESSION_CREATE: {
        const t = this.tunnels.get(tid);
        if (t === undefined) return [nack(req, 19)];
        if (this.sessions.has(key)) {
          return [nack(req, 17, { message: "Session already exists" })];
        }
        const pw = u16(L2TP_ATTR.PW_TYPE);
        if (t.version === 2 && pw !== L2TP_PWTYPE.PPP) return [nack(req, 93)];
        const ifnameAttr = a.get(L2TP_ATTR.IFNAME);
        this.sessions.set(key, {
          tunnel: tid,
          id: sid,
          peer: u32(L2TP_ATTR.PEER_SESSION_ID) ?? 0,
          pw,
          ifname: pw !== L2TP_PWTYPE.ETH
            ? undefined
            : ifnameAttr
            ? new TextDecoder().decode(ifnameAttr.data.subarray(0, -1))
            : `l2tpeth${this.#eth++}`,
          cookie: a.get(L2TP_ATTR.COOKIE)?.data.slice(),
          sendSeq: u8(L2TP_ATTR.SEND_SEQ) ?? 0,
          recvSeq: u8(L2TP_ATTR.RECV_SEQ) ?? 0,
          lns: u8(L2TP_ATTR.LNS_MODE) ?? 0,
        });
        return [ack(req)];
      }
      case L2TP_CMD.SESSION_DELETE:
        return [this.sessions.delete(key) ? ack(req) : nack(req, 19)];
      case L2TP_CMD.SESSION_MODIFY: {
        const s = this.sessions.get(key);
        if (s === undefined) return [nack(req, 19)];
        s.sendSeq = u8(L2TP_ATTR.SEND_SEQ) ?? s.sendSeq;
        s.recvSeq = u8(L2TP_ATTR.RECV_SEQ) ?? s.recvSeq;
        return [ack(req)];
      }
      case L2TP_CMD.SESSION_GET: {
        if (isDump) {
          const dying = [...this.#lingering.values()].flatMap((l) => l.sessions);
          const parts = [...this.sessions.values(), ...dying].map((s) =>
            this.#sessionReply(req, s, true)
          );
          return [concat(...parts, done(req))];
        }
        const s = this.sessions.get(key);
        return s === undefined ? [nack(req, 19)] : [this.#sessionReply(req, s, false), ack(req)];
      }
    }
    return [nack(req, 95)];
  };

  #stats(ae: AttributeEncoder): void {
    ae.nested(L2TP_ATTR.STATS, (n) => {
      for (let i = 1; i <= 8; i++) n.u64(i, BigInt(i));
      n.u64(10, 10n).u64(11, 11n);
    }, false);
  }

  #tunnelReply(req: Message, t: FakeTunnel, multi: boolean): Uint8Array {
    const ae = new AttributeEncoder()
      .u8(L2TP_ATTR.PROTO_VERSION, t.version).u32(L2TP_ATTR.CONN_ID, t.id)
      .u32(L2TP_ATTR.PEER_CONN_ID, t.peer).u32(L2TP_ATTR.DEBUG, 0)
      .u16(L2TP_ATTR.ENCAP_TYPE, t.encap);
    this.#stats(ae);
    if (t.encap === 0) {
      ae.u8(L2TP_ATTR.UDP_CSUM, 0).u16(L2TP_ATTR.UDP_SPORT, t.sport).u16(
        L2TP_ATTR.UDP_DPORT,
        t.dport,
      );
    }
    if (t.saddr) ae.bytes(L2TP_ATTR.IP_SADDR, t.saddr);
    if (t.daddr) ae.bytes(L2TP_ATTR.IP_DADDR, t.daddr);
    return genlReply(req, {
      header: { command: L2TP_CMD.TUNNEL_GET, version: 1 },
      attributes: ae.encode(),
    }, multi);
  }

  #sessionReply(req: Message, s: FakeSession, multi: boolean): Uint8Array {
    const t = this.tunnels.get(s.tunnel);
    const ae = new AttributeEncoder()
      .u32(L2TP_ATTR.CONN_ID, s.tunnel).u32(L2TP_ATTR.SESSION_ID, s.id)
      .u32(L2TP_ATTR.PEER_CONN_ID, t?.peer ?? 0).u32(L2TP_ATTR.PEER_SESSION_ID, s.peer)
      .u32(L2TP_ATTR.DEBUG, 0).u16(L2TP_ATTR.PW_TYPE, s.pw);
    if (s.ifname) ae.string(L2TP_ATTR.IFNAME, s.ifname);
    if (s.cookie) ae.bytes(L2TP_ATTR.COOKIE, s.cookie);
    ae.u8(L2TP_ATTR.RECV_SEQ, s.recvSeq).u8(L2TP_ATTR.SEND_SEQ, s.sendSeq)
      .u8(L2TP_ATTR.LNS_MODE, s.lns);
    this.#stats(ae);
    return genlReply(req, {
      header: { command: L2TP_CMD.SESSION_GET, version: 1 },
      attributes: ae.encode(),
    }, multi);
  }
}

interface Rig {
  kernel: FakeL2tpKernel;
  conn: FakeConnection;
  dp: KernelDataPlane;
  mtus: [string, number][];
}

function rig(currentMtu = 1500, failMtu = false, now?: () => number): Rig {
  const kernel = new FakeL2tpKernel();
  const conn = new FakeConnection({ families: { l2tp: FAMILY }, handler: kernel.handle });
  const mtus: [string, number][] = [];
  const dp = new KernelDataPlane(conn, {
    now,
    getMtu: () => currentMtu,
    setMtu: (ifname, mtu) => {
      if (failMtu) throw new OsError(`set MTU of ${ifname}`, 1, "Operation not permitted");
      mtus.push([ifname, mtu]);
    },
  });
  return { kernel, conn, dp, mtus };
}

function commands(conn: FakeConnection): number[] {
  return conn.sent.map((m) => decodeGenl(m.data).header.command);
}

const TUNNEL = {
  tunnelId: 42,
  peerTunnelId: 45,
  version: 3 as const,
  encap: "udp" as const,
  local: { address: "192.168.1.1", port: 5000 },
  peer: { address: "192.168.1.2", port: 5001 },
};

Deno.test("KernelDataPlane: create tunnel and sessions, list, modify, delete", async () => {
  const { conn, dp, mtus } = rig();
  await dp.createTunnel(TUNNEL);
  const eth = await dp.createSession({
    tunnelId: 42,
    sessionId: 128,
    peerSessionId: 5196755,
    pseudowire: "eth",
    cookie: new Uint8Array([1, 2, 3, 4]),
    mtu: 1400,
  });
  assert.equal(eth.ifname, "l2tpeth0");
  assert.equal(eth.peerTunnelId, 45);
  assert.deepEqual(eth.cookie, new Uint8Array([1, 2, 3, 4]));
  assert.equal(eth.stats.rxInvalid, 11n);
  assert.deepEqual(mtus, [["l2tpeth0", 1400]]);
  const ppp = await dp.createSession({
    tunnelId: 42,
    sessionId: 129,
    peerSessionId: 7,
    pseudowire: "ppp",
    sendSeq: true,
  });
  assert.equal(ppp.ifname, undefined);
  assert.equal(ppp.sendSeq, true);
  assert.deepEqual(commands(conn), [
    L2TP_CMD.TUNNEL_CREATE,
    L2TP_CMD.SESSION_CREATE,
    L2TP_CMD.SESSION_GET,
    L2TP_CMD.SESSION_CREATE,
    L2TP_CMD.SESSION_GET,
  ]);

  const tunnels = await dp.listTunnels();
  assert.equal(tunnels.length, 1);
  assert.deepEqual(
    {
      id: tunnels[0].tunnelId,
      local: tunnels[0].local,
      peer: tunnels[0].peer,
      csum: tunnels[0].udpChecksum,
    },
    { id: 42, local: TUNNEL.local, peer: TUNNEL.peer, csum: false },
  );
  assert.equal(tunnels[0].stats.txPackets, 1n);
  assert.deepEqual((await dp.getTunnel(42))?.version, 3);
  assert.deepEqual((await dp.listSessions()).map((s) => s.sessionId), [128, 129]);
  assert.deepEqual((await dp.listSessions(42)).map((s) => s.pseudowire), ["eth", "ppp"]);
  assert.deepEqual(await dp.listSessions(99), []);

  await dp.modifySession(42, 128, { sendSeq: true, recvSeq: true });
  const modified = await dp.getSession(42, 128);
  assert.equal(modified?.sendSeq, true);
  assert.equal(modified?.recvSeq, true);
  await dp.modifyTunnel(42, { debug: 0 });

  await dp.deleteSession(42, 129);
  assert.equal(await dp.getSession(42, 129), undefined);
  await dp.deleteTunnel(42);
  assert.equal(await dp.getTunnel(42), undefined);
  assert.deepEqual(await dp.listTunnels(), []);
  assert.deepEqual(await dp.listSessions(), []);

  dp.close();
  dp.close();
  assert.equal(conn.closed, true);
  await assert.rejects(dp.listTunnels(), /Cannot use data plane: it is closed/);
});

Deno.test("KernelDataPlane: deleteTunnel waits until the kernel has really let go", async () => {
  const { conn, dp, kernel } = rig();
  await dp.createTunnel(TUNNEL);
  kernel.lingerGets = 3;
  await dp.deleteTunnel(42);
  const gets = conn.sent.filter((m) => decodeGenl(m.data).header.command === L2TP_CMD.TUNNEL_GET);
  assert.equal(gets.length, 4, "read back until the tunnel was gone");
  assert.equal(await dp.getTunnel(42), undefined);
});

/** A clock that moves `stepMs` every time it is read. */
function steppingClock(stepMs: number): () => number {
  let t = 0;
  return () => (t += stepMs);
}

function countCommand(conn: FakeConnection, command: number): number {
  return conn.sent.filter((m) => decodeGenl(m.data).header.command === command).length;
}

async function withSessions(dp: KernelDataPlane, tunnelId: number, n: number): Promise<void> {
  for (let i = 1; i <= n; i++) {
    await dp.createSession({ tunnelId, sessionId: i, peerSessionId: i, pseudowire: "ppp" });
  }
}

Deno.test("KernelDataPlane: deleteTunnel waits past the base window while sessions keep going", async () => {
  // 300 sessions removed 30 per check, the clock moving 1.5 s per check: the kernel takes about
  // 16 s (the old fixed 5 s wait gave up at 5 s).
  const { conn, dp, kernel } = rig(1500, false, steppingClock(1500));
  await dp.createTunnel(TUNNEL);
  await withSessions(dp, 42, 300);
  kernel.sessionsPerGet = 30;
  await dp.deleteTunnel(42);
  assert.equal(countCommand(conn, L2TP_CMD.TUNNEL_GET), 11, "10 checks saw it, the 11th did not");
  assert.equal(await dp.getTunnel(42), undefined);
  assert.deepEqual(await dp.listSessions(), []);
});

Deno.test("KernelDataPlane: deleteTunnel gives up when a whole window removes no session", async () => {
  const { dp, kernel } = rig(1500, false, steppingClock(2000));
  await dp.createTunnel(TUNNEL);
  await withSessions(dp, 42, 5);
  await dp.createTunnel({ ...TUNNEL, tunnelId: 43, local: { address: "192.168.1.1", port: 5002 } });
  await withSessions(dp, 43, 3); // another tunnel's sessions do not count
  kernel.sessionsPerGet = 0;
  // Window 1: 5 s; at 6 s five sessions are left (renewed: 5 s + 5 × 100 ms); at 12 s still five.
  await assert.rejects(
    dp.deleteTunnel(42),
    (e: unknown) =>
      e instanceof Error &&
      e.message ===
        "Cannot delete tunnel 42: still present 12000 ms after the kernel acknowledged the " +
          "delete; 5 of its sessions are left and none was removed in the last 6000 ms",
  );
  dp.close();
});

Deno.test("KernelDataPlane: deleteTunnel gives up after the base window when no session is left", async () => {
  const { dp, kernel } = rig(1500, false, steppingClock(3000));
  await dp.createTunnel(TUNNEL);
  kernel.lingerGets = 1000;
  await assert.rejects(
    dp.deleteTunnel(42),
    (e: unknown) =>
      e instanceof Error &&
      e.message ===
        "Cannot delete tunnel 42: still present 6000 ms after the kernel acknowledged the " +
          "delete; it has no sessions left",
  );
  dp.close();
});

Deno.test("KernelDataPlane: the delete wait can be tuned", async () => {
  const kernel = new FakeL2tpKernel();
  const conn = new FakeConnection({ families: { l2tp: FAMILY }, handler: kernel.handle });
  const dp = new KernelDataPlane(conn, {
    now: steppingClock(1000),
    deleteWait: { baseMs: 1500 },
  });
  await dp.createTunnel(TUNNEL);
  kernel.lingerGets = 1000;
  await assert.rejects(dp.deleteTunnel(42), /still present 2000 ms after/);
  dp.close();
});

Deno.test("KernelDataPlane: a missing tunnel or session reads as undefined without an error", async () => {
  const { conn, dp } = rig();
  assert.equal(await dp.getTunnel(7), undefined);
  assert.equal(await dp.getSession(7, 1), undefined);
  assert.deepEqual(commands(conn), [L2TP_CMD.TUNNEL_GET, L2TP_CMD.SESSION_GET]);
  dp.close();
});

Deno.test("KernelDataPlane: the golden TUNNEL_CREATE bytes reach the connection", async () => {
  const { conn, dp } = rig();
  await dp.createTunnel({
    tunnelId: 42,
    peerTunnelId: 45,
    version: 3,
    encap: "ip",
    local: { address: "192.0.2.1", port: 0 },
    peer: { address: "192.0.2.2", port: 0 },
  });
  const hex = [...conn.sentBytes[0]].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  assert.equal(
    hex,
    "44 00 00 00 1c 00 05 00 01 00 00 00 92 10 00 00 01 01 00 00 " +
      "08 00 09 00 2a 00 00 00 08 00 0a 00 2d 00 00 00 05 00 07 00 03 00 00 00 " +
      "06 00 02 00 01 00 00 00 08 00 18 00 c0 00 02 01 08 00 19 00 c0 00 02 02",
  );
  dp.close();
});

Deno.test("KernelDataPlane: kernel errors carry errno and extended ack", async () => {
  const { dp } = rig();
  await dp.createTunnel(TUNNEL);
  const spec = { tunnelId: 42, sessionId: 128, peerSessionId: 1, pseudowire: "ppp" as const };
  await dp.createSession(spec);
  await assert.rejects(
    dp.createSession(spec),
    (e: unknown) =>
      e instanceof NetlinkError && e.errno === 17 &&
      e.message === "Cannot create session 42/128: File exists (errno 17): Session already exists",
  );
  await assert.rejects(
    dp.createTunnel(TUNNEL),
    (e: unknown) =>
      e instanceof NetlinkError && e.message === "Cannot create tunnel 42: File exists (errno 17)",
  );
  await assert.rejects(
    dp.deleteTunnel(9),
    /^NetlinkError: Cannot delete tunnel 9: No such device \(errno 19\)$/,
  );
  dp.close();
});

Deno.test("KernelDataPlane: invalid specs are rejected before the kernel is asked", async () => {
  const { conn, dp } = rig();
  await assert.rejects(
    dp.createTunnel({ ...TUNNEL, version: 2, encap: "ip" }),
    /Cannot create tunnel 42: IP encapsulation needs L2TPv3/,
  );
  await assert.rejects(
    dp.createSession({
      tunnelId: 42,
      sessionId: 1,
      peerSessionId: 1,
      pseudowire: "eth",
      cookie: new Uint8Array(5),
    }),
    /Cannot create session 42\/1: cookie must be 0, 4 or 8 bytes, not 5/,
  );
  assert.equal(conn.sent.length, 0);
  dp.close();
});

Deno.test("KernelDataPlane: session IDs are checked against a tunnel version read from the kernel", async () => {
  const { kernel, conn, dp } = rig();
  kernel.tunnels.set(7, { id: 7, peer: 8, version: 2, encap: 0, sport: 1701, dport: 1701 });
  await assert.rejects(
    dp.createSession({ tunnelId: 7, sessionId: 70000, peerSessionId: 1, pseudowire: "ppp" }),
    /Cannot create session 7\/70000: session ID 70000 is not a non-zero 16-bit/,
  );
  assert.deepEqual(commands(conn), [L2TP_CMD.TUNNEL_GET]);
  const s = await dp.createSession({
    tunnelId: 7,
    sessionId: 3,
    peerSessionId: 4,
    pseudowire: "ppp",
  });
  assert.equal(s.sessionId, 3);
  // The version is cached: no second TUNNEL_GET.
  assert.deepEqual(commands(conn), [
    L2TP_CMD.TUNNEL_GET,
    L2TP_CMD.SESSION_CREATE,
    L2TP_CMD.SESSION_GET,
  ]);
  dp.close();
});

Deno.test("KernelDataPlane: a failed MTU change deletes the new session", async () => {
  const { conn, dp } = rig(1500, true);
  await dp.createTunnel(TUNNEL);
  await assert.rejects(
    dp.createSession({
      tunnelId: 42,
      sessionId: 128,
      peerSessionId: 1,
      pseudowire: "eth",
      mtu: 1400,
    }),
    (e: unknown) =>
      e instanceof Error &&
      e.message ===
        "Cannot create session 42/128: Cannot set MTU of l2tpeth0: Operation not permitted (errno 1)",
  );
  assert.deepEqual(commands(conn).slice(1), [
    L2TP_CMD.SESSION_CREATE,
    L2TP_CMD.SESSION_GET,
    L2TP_CMD.SESSION_DELETE,
  ]);
  assert.equal(await dp.getSession(42, 128), undefined);
  dp.close();
});

Deno.test("KernelDataPlane: the MTU is left alone when it already matches", async () => {
  const { dp, mtus } = rig(1400);
  await dp.createTunnel(TUNNEL);
  await dp.createSession({
    tunnelId: 42,
    sessionId: 1,
    peerSessionId: 1,
    pseudowire: "eth",
    ifname: "pw0",
    mtu: 1400,
  });
  assert.deepEqual(mtus, []);
  assert.equal((await dp.getSession(42, 1))?.ifname, "pw0");
  dp.close();
});

Deno.test("KernelDataPlane: a missing l2tp family fails clearly and is retried later", async () => {
  const kernel = new FakeL2tpKernel();
  using conn = new FakeConnection({ handler: kernel.handle });
  const dp = new KernelDataPlane(conn);
  await assert.rejects(
    dp.listTunnels(),
    (e: unknown) =>
      e instanceof LibnlError &&
      /^Cannot resolve generic netlink family l2tp: .*is the l2tp_netlink module loaded\?$/.test(
        e.message,
      ),
  );
  conn.families.set("l2tp", FAMILY);
  assert.deepEqual(await dp.listTunnels(), []);
  assert.equal(await dp.familyId(), FAMILY);
  dp.close();
});

Deno.test("KernelDataPlane: listings skip sessions of pseudowire types it does not model", async () => {
  const { kernel, dp } = rig();
  await dp.createTunnel(TUNNEL);
  await dp.createSession({ tunnelId: 42, sessionId: 1, peerSessionId: 1, pseudowire: "ppp" });
  kernel.sessions.set("42/2", {
    tunnel: 42,
    id: 2,
    peer: 2,
    pw: L2TP_PWTYPE.PPP_AC,
    sendSeq: 0,
    recvSeq: 0,
    lns: 0,
  });
  assert.deepEqual((await dp.listSessions()).map((s) => s.sessionId), [1]);
  dp.close();
});

Deno.test("KernelDataPlane: Symbol.dispose closes the connection", () => {
  const { conn, dp } = rig();
  {
    using _dp = dp;
  }
  assert.equal(conn.closed, true);
});
