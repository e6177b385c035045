/**
 * Tests for dataplane/socket.ts over loopback (no root, no l2tp modules needed).
 *
 * @module
 */

import assert from "node:assert/strict";
import { errno, libc, OsError } from "../../dataplane/ffi/libc.ts";
import {
  Errno,
  F_GETFD,
  FD_CLOEXEC,
  openPppol2tpSocket,
  openTunnelSocket,
  setInheritable,
  TunnelSocket,
} from "../../dataplane/socket.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** fcntl(F_GETFD) result and errno: [-1, EBADF] for a closed fd. */
function fdFlags(fd: number): [number, number] {
  const r = libc().fcntl(fd, F_GETFD, 0);
  return [r, r < 0 ? errno() : 0];
}

/**
 * Open fds of this process, found by probing fcntl(F_GETFD) (reading /proc/self/fd would need
 * --allow-all).
 */
function openFds(): number {
  let n = 0;
  for (let fd = 0; fd < 4096; fd++) if (libc().fcntl(fd, F_GETFD, 0) >= 0) n++;
  return n;
}

function exchange(a: TunnelSocket, b: TunnelSocket): void {
  assert.equal(a.send(enc.encode("ping")), 4);
  const got = b.recv();
  assert.ok(got, "b received nothing");
  assert.equal(dec.decode(got.data), "ping");
  assert.deepEqual(got.from, a.local);
  assert.equal(b.send(enc.encode("pong!"), got.from), 5);
  const back = a.recv();
  assert.ok(back, "a received nothing");
  assert.equal(dec.decode(back.data), "pong!");
  assert.deepEqual(back.from, b.local);
}

Deno.test("UDP IPv4 loopback: bind port 0, connect, send and receive both ways", () => {
  using b = openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } });
  const bLocal = b.local;
  assert.equal(bLocal.address, "127.0.0.1");
  assert.ok(bLocal.port > 0, "kernel assigned a port");
  using a = openTunnelSocket({
    encap: "udp",
    local: { address: "127.0.0.1", port: 0 },
    peer: bLocal,
  });
  assert.equal(a.family, 4);
  assert.equal(a.encap, "udp");
  assert.deepEqual(a.peer, bLocal);
  assert.equal(b.peer, undefined);
  assert.equal(a.localConnId, undefined);
  exchange(a, b);
});

Deno.test("UDP IPv6 loopback: bind port 0, connect, send and receive both ways", () => {
  using b = openTunnelSocket({ encap: "udp", local: { address: "::1", port: 0 } });
  using a = openTunnelSocket({ encap: "udp", local: { address: "::1", port: 0 }, peer: b.local });
  assert.equal(a.family, 6);
  assert.equal(a.local.address, "::1");
  assert.ok(a.local.port > 0);
  assert.deepEqual(a.peer, b.local);
  exchange(a, b);
});

Deno.test("connect() on an existing socket sets the peer; the local address narrows", () => {
  using b = openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } });
  using a = openTunnelSocket({ encap: "udp", local: { address: "0.0.0.0", port: 0 } });
  assert.equal(a.local.address, "0.0.0.0");
  a.connect(b.local);
  assert.equal(a.local.address, "127.0.0.1");
  assert.deepEqual(a.peer, b.local);
  exchange(a, b);
});

Deno.test("recv returns null when nothing is queued (EAGAIN)", () => {
  using s = openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } });
  assert.equal(s.recv(), null);
});

Deno.test("binding a used port fails with an OsError naming the address and EADDRINUSE", () => {
  using a = openTunnelSocket({
    encap: "udp",
    local: { address: "127.0.0.1", port: 0 },
    reuseAddress: false,
  });
  const port = a.local.port;
  const before = openFds();
  assert.throws(
    () => openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port } }),
    (e: unknown) => {
      assert.ok(e instanceof OsError);
      assert.equal(e.errno, Errno.EADDRINUSE);
      assert.equal(
        e.message,
        `Cannot bind UDP socket to 127.0.0.1:${port}: Address already in use (errno 98)`,
      );
      return true;
    },
  );
  // The failed socket's fd was closed.
  assert.equal(openFds(), before);
});

Deno.test("IPv6 bind errors bracket the address", () => {
  using a = openTunnelSocket({
    encap: "udp",
    local: { address: "::1", port: 0 },
    reuseAddress: false,
  });
  const port = a.local.port;
  assert.throws(
    () => openTunnelSocket({ encap: "udp", local: { address: "::1", port } }),
    (e: unknown) => {
      assert.ok(e instanceof OsError);
      assert.equal(
        e.message,
        `Cannot bind UDP socket to [::1]:${port}: Address already in use (errno 98)`,
      );
      return true;
    },
  );
});

Deno.test("SO_REUSEADDR lets two tunnel sockets share a local port", () => {
  using a = openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } });
  using b = openTunnelSocket({ encap: "udp", local: a.local });
  assert.equal(b.local.port, a.local.port);
});

Deno.test("mismatched address families are rejected before any syscall", () => {
  assert.throws(
    () =>
      openTunnelSocket({
        encap: "udp",
        local: { address: "127.0.0.1", port: 0 },
        peer: { address: "::1", port: 1 },
      }),
    /Cannot open tunnel socket: local 127.0.0.1 and peer ::1 are of different address families/,
  );
  using s = openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } });
  assert.throws(() => s.send(new Uint8Array(1), { address: "::1", port: 9 }), TypeError);
  assert.throws(() => s.connect({ address: "::1", port: 9 }), TypeError);
});

Deno.test("close() closes the fd (F_GETFD -> EBADF), is idempotent, and fd access throws", () => {
  const s = openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } });
  const fd = s.fd;
  assert.ok(fdFlags(fd)[0] >= 0);
  s.close();
  assert.deepEqual(fdFlags(fd), [-1, Errno.EBADF]);
  assert.equal(s.closed, true);
  s.close();
  s[Symbol.dispose]();
  assert.throws(() => s.fd, /Cannot use tunnel socket: it is closed/);
});

Deno.test("release() hands the fd over without closing it", () => {
  const s = openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } });
  const fd = s.release();
  assert.equal(s.closed, true);
  s.close(); // no-op: not ours any more
  assert.ok(fdFlags(fd)[0] >= 0, "fd still open");
  assert.equal(libc().close(fd), 0);
});

Deno.test("sockets are close-on-exec; setInheritable toggles FD_CLOEXEC", () => {
  using s = openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } });
  assert.equal(fdFlags(s.fd)[0] & FD_CLOEXEC, FD_CLOEXEC);
  setInheritable(s.fd, true);
  assert.equal(fdFlags(s.fd)[0] & FD_CLOEXEC, 0);
  setInheritable(s.fd, false);
  assert.equal(fdFlags(s.fd)[0] & FD_CLOEXEC, FD_CLOEXEC);
});

Deno.test("L2TP/IP sockets: bound with the connection id, or a clear missing-module error", () => {
  for (const [address, mod] of [["127.0.0.1", "l2tp_ip"], ["::1", "l2tp_ip6"]]) {
    let s: TunnelSocket | undefined;
    try {
      s = openTunnelSocket({ encap: "ip", local: { address, port: 0 }, connId: 4242 });
    } catch (e) {
      assert.ok(e instanceof OsError, String(e));
      assert.ok([Errno.EPROTONOSUPPORT, Errno.EAFNOSUPPORT].includes(e.errno as 93 | 97));
      assert.match(
        e.message,
        new RegExp(
          `^Cannot create L2TP/IP socket \\(IPv[46]\\): .* \\(errno 9[37]\\): the ${mod} ` +
            `kernel module is missing \\(load it with "modprobe ${mod}"\\)$`,
        ),
      );
      continue;
    }
    // The module is loaded on this host: the bound connection id reads back.
    try {
      assert.equal(s.localConnId, 4242);
      assert.equal(s.encap, "ip");
    } finally {
      s.close();
    }
  }
});

Deno.test("PPPoL2TP socket: a missing l2tp_ppp module gives a clear error", () => {
  using t = openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } });
  const before = openFds();
  try {
    const p = openPppol2tpSocket({
      tunnelFd: t.fd,
      tunnelId: 1,
      sessionId: 0,
      peerTunnelId: 2,
      peerSessionId: 0,
      peer: { address: "127.0.0.1", port: 1701 },
      version: 2,
    });
    // Module present: the socket exists (connect may succeed or fail on this unregistered tunnel).
    assert.ok(p.fd >= 0);
    p.close();
  } catch (e) {
    assert.ok(e instanceof OsError, String(e));
    if (e.errno === Errno.EAFNOSUPPORT || e.errno === Errno.EPROTONOSUPPORT) {
      assert.match(
        e.message,
        /^Cannot create PPPoL2TP socket: .*l2tp_ppp kernel module is missing/,
      );
    } else {
      assert.match(e.message, /^Cannot connect PPPoL2TP socket to tunnel 1\/session 0/);
    }
  }
  assert.equal(openFds(), before);
});
