/**
 * Every tunnel/session combination the kernel allows, programmed through KernelDataPlane:
 * created, read back (our GET and our dump, and independently `ip -j l2tp show`), modified and
 * deleted. v2/v3 × UDP/IP × IPv4/IPv6 × managed/unmanaged × eth/ppp.
 *
 * @module
 */

import assert from "node:assert/strict";
import { KernelDataPlane } from "../../dataplane/kernel.ts";
import { getInterfaceMtu } from "../../dataplane/netdev.ts";
import type { Encap, L2tpVersion, PseudowireType, SessionSpec } from "../../dataplane/dataplane.ts";
import { openTunnelSocket, type TunnelSocket } from "../../dataplane/socket.ts";
import { NetlinkError } from "../../dataplane/netlink/errors.ts";
import { hex, ipSessions, ipTunnels, kernelTest, sh } from "./_helpers.ts";

interface Case {
  version: L2tpVersion;
  encap: Encap;
  family: 4 | 6;
  managed: boolean;
  pseudowire: PseudowireType;
}

const cases: Case[] = [];
for (const family of [4, 6] as const) {
  cases.push({ version: 2, encap: "udp", family, managed: true, pseudowire: "ppp" });
  for (const encap of ["udp", "ip"] as const) {
    for (const managed of [true, false]) {
      for (const pseudowire of ["eth", "ppp"] as const) {
        cases.push({ version: 3, encap, family, managed, pseudowire });
      }
    }
  }
}

let nextId = 100;

for (const c of cases) {
  const label = `v${c.version} ${c.encap} IPv${c.family} ${c.managed ? "managed" : "unmanaged"} ` +
    c.pseudowire;
  kernelTest({
    name: `kernel data plane: ${label}: create, read back, modify, delete`,
    fn: async () => {
      const tid = nextId++;
      const ptid = tid + 1000;
      const loopback = c.family === 4 ? "127.0.0.1" : "::1";
      const port = c.encap === "udp" ? 20000 + tid * 2 : 0;
      const local = { address: loopback, port };
      const peer = { address: loopback, port: port ? port + 1 : 0 };
      using dp = await KernelDataPlane.open();
      let sock: TunnelSocket | undefined;
      try {
        if (c.managed) {
          sock = openTunnelSocket({ encap: c.encap, local, peer, connId: tid, peerConnId: ptid });
        }
        await dp.createTunnel({
          tunnelId: tid,
          peerTunnelId: ptid,
          version: c.version,
          encap: c.encap,
          ...(sock ? { fd: sock.fd } : { local, peer }),
        });

        // Read back: GET, dump, and iproute2.
        const t = await dp.getTunnel(tid);
        assert.ok(t, "tunnel readable after create");
        assert.equal(t.peerTunnelId, ptid);
        assert.equal(t.version, c.version);
        assert.equal(t.encap, c.encap);
        assert.equal(t.local?.address, loopback);
        assert.equal(t.peer?.address, loopback);
        if (c.encap === "udp") {
          assert.equal(t.local?.port, local.port);
          assert.equal(t.peer?.port, peer.port);
        }
        const dumped = (await dp.listTunnels()).find((x) => x.tunnelId === tid);
        assert.ok(dumped, "tunnel present in the dump");
        assert.deepEqual({ ...dumped, stats: undefined }, { ...t, stats: undefined });
        const ipt = (await ipTunnels()).find((x) => x.tunnel_id === tid);
        assert.ok(ipt, "ip l2tp show tunnel lists it");
        assert.equal(ipt.peer_tunnel, ptid);
        assert.equal(ipt.encap, c.encap === "udp" ? "UDP" : "IP");
        assert.equal(ipt.local, loopback);
        assert.equal(ipt.peer, loopback);

        // A session.
        const sid = tid * 10;
        const psid = sid + 1;
        const ifname = `l2tpk${tid}`;
        const spec: SessionSpec = {
          tunnelId: tid,
          sessionId: sid,
          peerSessionId: psid,
          pseudowire: c.pseudowire,
          ...(c.version === 3
            ? {
              cookie: new Uint8Array([1, 2, 3, tid & 0xff]),
              peerCookie: new Uint8Array([8, 7, 6, 5, 4, 3, 2, tid & 0xff]),
              l2specType: "default",
              l2specLen: 4,
            }
            : {}),
          ...(c.pseudowire === "eth" ? { ifname, mtu: 1400 } : {}),
        };
        const created = await dp.createSession(spec);
        assert.equal(created.sessionId, sid);
        if (c.pseudowire === "eth") {
          assert.equal(created.ifname, ifname);
          assert.equal(getInterfaceMtu(ifname), 1400);
        }
        const s = await dp.getSession(tid, sid);
        assert.ok(s, "session readable after create");
        assert.equal(s.peerSessionId, psid);
        assert.equal(s.pseudowire, c.pseudowire);
        if (c.version === 3) {
          assert.deepEqual(s.cookie, spec.cookie);
          assert.deepEqual(s.peerCookie, spec.peerCookie);
        }
        assert.equal(s.sendSeq, false);
        assert.equal(s.recvSeq, false);
        const sdump = (await dp.listSessions(tid)).find((x) => x.sessionId === sid);
        assert.ok(sdump, "session present in the dump");
        assert.deepEqual({ ...sdump, stats: undefined }, { ...s, stats: undefined });
        const ips = (await ipSessions()).find((x) => x.tunnel_id === tid && x.session_id === sid);
        assert.ok(ips, "ip l2tp show session lists it");
        assert.equal(ips.peer_session_id, psid);
        assert.equal(ips.peer_tunnel_id, ptid);
        if (c.version === 3 && spec.cookie && spec.peerCookie) {
          assert.equal(ips.cookie, hex(spec.cookie));
          assert.equal(ips.peer_cookie, hex(spec.peerCookie));
        }
        if (c.pseudowire === "eth") assert.equal(ips.interface, ifname);

        // Modify.
        await dp.modifySession(tid, sid, {
          sendSeq: true,
          recvSeq: true,
          lnsMode: true,
          reorderTimeoutMs: 200, // a whole number of jiffies at HZ 100, 250 and 1000
        });
        const m = await dp.getSession(tid, sid);
        assert.ok(m);
        assert.equal(m.sendSeq, true);
        assert.equal(m.recvSeq, true);
        assert.equal(m.lnsMode, true);
        assert.equal(m.reorderTimeoutMs, 200);
        await dp.modifySession(tid, sid, { sendSeq: false, reorderTimeoutMs: 0 });
        const m2 = await dp.getSession(tid, sid);
        assert.equal(m2?.sendSeq, false);
        assert.equal(m2?.recvSeq, true);
        assert.equal(m2?.reorderTimeoutMs, 0);
        await dp.modifyTunnel(tid, { debug: 0 });

        // Delete.
        await dp.deleteSession(tid, sid);
        assert.equal(await dp.getSession(tid, sid), undefined);
        assert.equal((await ipSessions()).some((x) => x.tunnel_id === tid), false);
        if (c.pseudowire === "eth") {
          const link = await sh(["ip", "link", "show", ifname], { allowFailure: true });
          assert.notEqual(link.code, 0, "the pseudowire interface is gone");
        }
        await dp.deleteTunnel(tid);
        assert.equal(await dp.getTunnel(tid), undefined);
        assert.equal((await ipTunnels()).some((x) => x.tunnel_id === tid), false);
      } finally {
        await dp.deleteTunnel(tid).catch(() => {});
        sock?.close();
      }
    },
  });
}

kernelTest({
  name: "kernel data plane: errors carry errno and the kernel's extended ack",
  fn: async () => {
    using dp = await KernelDataPlane.open();
    const tid = 900;
    const ep = (port: number): { address: string; port: number } => ({
      address: "127.0.0.1",
      port,
    });
    await dp.createTunnel({
      tunnelId: tid,
      peerTunnelId: 901,
      version: 3,
      encap: "udp",
      local: ep(29000),
      peer: ep(29001),
    });
    try {
      const dup = await dp.createTunnel({
        tunnelId: tid,
        peerTunnelId: 902,
        version: 3,
        encap: "udp",
        local: ep(29002),
        peer: ep(29003),
      }).then(() => undefined, (e) => e);
      assert.ok(dup instanceof NetlinkError, `expected NetlinkError, got ${dup}`);
      assert.equal(dup.errno, 17);
      assert.match(dup.message, /^Cannot create tunnel 900: .*File exists \(errno 17\)/);

      const noTunnel = await dp.createSession({
        tunnelId: 12345,
        sessionId: 1,
        peerSessionId: 1,
        pseudowire: "eth",
      }).then(() => undefined, (e) => e);
      assert.ok(noTunnel instanceof Error);
      assert.match(noTunnel.message, /^Cannot create session 12345\/1: /);

      assert.equal(await dp.getTunnel(4242), undefined, "missing tunnel reads as undefined");
    } finally {
      await dp.deleteTunnel(tid);
    }
  },
});

kernelTest({
  name: "kernel data plane: closing a managed tunnel's socket removes the tunnel",
  fn: async () => {
    using dp = await KernelDataPlane.open();
    const local = { address: "127.0.0.1", port: 29100 };
    const peer = { address: "127.0.0.1", port: 29101 };
    const sock = openTunnelSocket({ encap: "udp", local, peer });
    await dp.createTunnel({
      tunnelId: 950,
      peerTunnelId: 951,
      version: 3,
      encap: "udp",
      fd: sock.fd,
    });
    assert.ok(await dp.getTunnel(950));
    sock.close();
    // The kernel releases the tunnel asynchronously once the socket is gone.
    const deadline = Date.now() + 5000;
    while (await dp.getTunnel(950) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await dp.getTunnel(950), undefined);
  },
});

kernelTest({
  name: "kernel data plane: deleting a tunnel with 300 eth sessions waits for them all",
  fn: async () => {
    // The kernel acknowledges the delete at once and unregisters the 300 interfaces from a work
    // queue, one by one: about 12 s in the emulated VM, well past the 5 s a fixed wait allowed.
    using dp = await KernelDataPlane.open();
    const tid = 970;
    const spec = {
      tunnelId: tid,
      peerTunnelId: tid + 1,
      version: 3 as const,
      encap: "udp" as const,
      local: { address: "127.0.0.1", port: 29200 },
      peer: { address: "127.0.0.1", port: 29201 },
    };
    const n = 300;
    await dp.createTunnel(spec);
    try {
      const ifnames: string[] = [];
      for (let sid = 1; sid <= n; sid++) {
        const s = await dp.createSession({
          tunnelId: tid,
          sessionId: sid,
          peerSessionId: sid,
          pseudowire: "eth",
        });
        assert.ok(s.ifname);
        ifnames.push(s.ifname);
      }
      assert.equal((await dp.listSessions(tid)).length, n);
      const t0 = performance.now();
      await dp.deleteTunnel(tid);
      const ms = Math.round(performance.now() - t0);
      console.log(`deleted a tunnel with ${n} eth sessions in ${ms} ms`);
      assert.equal(await dp.getTunnel(tid), undefined);
      assert.deepEqual(await dp.listSessions(tid), []);
      assert.equal((await ipTunnels()).some((x) => x.tunnel_id === tid), false);
      const left = ifnames.filter((name) => {
        try {
          Deno.statSync(`/sys/class/net/${name}`);
          return true;
        } catch {
          return false;
        }
      });
      assert.deepEqual(left, [], "every pseudowire interface is gone");
      // Gone for real: the same ID and port can be used again at once.
      await dp.createTunnel(spec);
    } finally {
      await dp.deleteTunnel(tid).catch(() => {});
    }
  },
});
