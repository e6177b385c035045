/**
 * Tests for dataplane/reactor.ts over loopback: echo v4/v6, batching, wake-up on close, detach, idle
 * exit (subprocess) and fd leaks.
 *
 * @module
 */

import assert from "node:assert/strict";
import { errno, libc } from "../../dataplane/ffi/libc.ts";
import { type Datagram, Reactor, type ReactorSocket } from "../../dataplane/reactor.ts";
import { Errno, F_GETFD, openTunnelSocket, TunnelSocket } from "../../dataplane/socket.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Open fds of this process, found by probing fcntl(F_GETFD) (reading /proc/self/fd would need
 * --allow-all).
 */
function openFds(): number {
  let n = 0;
  for (let fd = 0; fd < 4096; fd++) if (libc().fcntl(fd, F_GETFD, 0) >= 0) n++;
  return n;
}

/** Resolve when `cond` holds, polling with timers (bounded). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(cond(), `timed out waiting for: ${what}`);
}

/** `p`, or a failure after 10 s (so a missed wake-up fails the test instead of hanging it). */
async function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), 10_000);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

async function echoTest(address: string): Promise<void> {
  await using reactor = new Reactor();
  const server = reactor.udp({ local: { address, port: 0 } });
  const client = reactor.udp({ local: { address, port: 0 }, peer: server.local });
  const serving = (async (): Promise<number> => {
    let n = 0;
    for await (const d of server) {
      assert.ok(server.send(d.data, d.from));
      n++;
    }
    return n;
  })();
  const clientLocal = client.local;
  for (let i = 0; i < 20; i++) {
    assert.equal(client.send(enc.encode(`msg ${i}`)), true);
    const reply = await client.receive();
    assert.ok(reply !== null);
    assert.equal(dec.decode(reply.data), `msg ${i}`);
    assert.deepEqual(reply.from, server.local);
  }
  assert.equal(server.stats.received, 20);
  assert.equal(client.stats.sent, 20);
  server.close();
  assert.equal(await within(serving, "the server loop to end"), 20);
  // The server saw the client's address on every datagram.
  assert.equal(clientLocal.address, address);
}

Deno.test("UDP IPv4 echo through two reactor sockets", async () => {
  await echoTest("127.0.0.1");
});

Deno.test("UDP IPv6 echo through two reactor sockets", async () => {
  await echoTest("::1");
});

Deno.test("queued datagrams are read in recvmmsg batches, in order", async () => {
  await using reactor = new Reactor({ batch: 32 });
  const rx = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
  const tx = reactor.udp({ local: { address: "127.0.0.1", port: 0 }, peer: rx.local });
  const packets = Array.from({ length: 64 }, (_, i) => new Uint8Array([i, i, i]));
  assert.equal(tx.sendBatch(packets), 64);
  assert.equal(tx.stats.sent, 64);
  const got: Datagram[] = [];
  for await (const d of rx) {
    got.push(d);
    if (got.length === 64) break;
  }
  assert.deepEqual(
    got.map((d) => d.data[0]),
    packets.map((p) => p[0]),
  );
  assert.equal(rx.stats.received, 64);
  assert.equal(rx.stats.receiveBatches, 2, "64 queued datagrams take two 32-datagram calls");
  // Datagrams from one sender share one Endpoint object (decoded once).
  assert.equal(got[0].from, got[63].from);
  assert.deepEqual(got[0].from, tx.local);
});

Deno.test("sendBatch with destinations reaches several unconnected sockets", async () => {
  await using reactor = new Reactor();
  const a = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
  const b = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
  const tx = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
  const sent = tx.sendBatch([
    { data: enc.encode("to a"), to: a.local },
    { data: enc.encode("to b"), to: b.local },
    { data: enc.encode("to a again"), to: a.local },
  ]);
  assert.equal(sent, 3);
  assert.equal(dec.decode((await a.receive())?.data), "to a");
  assert.equal(dec.decode((await b.receive())?.data), "to b");
  assert.equal(dec.decode((await a.receive())?.data), "to a again");
  assert.throws(() => tx.send(new Uint8Array(1), { address: "::1", port: 1 }), TypeError);
});

Deno.test("epoll_wait is in flight only while a receive waits", async () => {
  await using reactor = new Reactor();
  const rx = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
  const tx = reactor.udp({ local: { address: "127.0.0.1", port: 0 }, peer: rx.local });
  assert.equal(reactor.polling, false);
  const pending = rx.receive();
  assert.equal(reactor.polling, true);
  tx.send(enc.encode("x"));
  const d = await pending;
  assert.equal(dec.decode(d?.data), "x");
  await until(() => !reactor.polling, "the wait loop to stop");
});

Deno.test("closing a socket ends a pending for-await loop", async () => {
  await using reactor = new Reactor();
  const sock = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
  const loop = (async (): Promise<number> => {
    let n = 0;
    for await (const _ of sock) n++;
    return n;
  })();
  await until(() => reactor.polling, "a wait in flight");
  sock.close();
  assert.equal(await within(loop, "the loop to end"), 0);
  assert.equal(sock.closed, true);
  assert.equal(await sock.receive(), null);
  sock.close(); // idempotent
  await until(() => !reactor.polling, "the wait loop to stop");
});

Deno.test("closing the reactor wakes pending receives on all sockets and closes them", async () => {
  const reactor = new Reactor();
  const a = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
  const b = reactor.udp({ local: { address: "::1", port: 0 } });
  const fdA = a.fd;
  const pa = a.receive();
  const pb = b.receive();
  await until(() => reactor.polling, "a wait in flight");
  reactor.close();
  assert.deepEqual(await within(Promise.all([pa, pb]), "receives to resolve"), [null, null]);
  await within(reactor.whenClosed(), "the reactor to close its fds");
  assert.equal(reactor.polling, false);
  assert.equal(libc().fcntl(fdA, F_GETFD, 0), -1);
  assert.equal(errno(), Errno.EBADF);
  assert.throws(() => reactor.udp({ local: { address: "127.0.0.1", port: 0 } }), /closed/);
});

Deno.test("detach stops serving, resolves waiters with null and hands over an open fd", async () => {
  await using reactor = new Reactor();
  const sock = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
  const local = sock.local;
  const pending = sock.receive();
  const fd = sock.detach();
  assert.equal(await pending, null);
  assert.equal(sock.closed, true);
  assert.throws(() => sock.detach(), /closed or detached/);
  // The fd is still open and still the same bound socket.
  const owned = new TunnelSocket(fd, "udp", 4);
  try {
    assert.deepEqual(owned.local, local);
  } finally {
    owned.close();
  }
});

Deno.test("datagrams longer than maxDatagram are dropped and counted", async () => {
  await using reactor = new Reactor({ maxDatagram: 16 });
  const rx = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
  const tx = reactor.udp({ local: { address: "127.0.0.1", port: 0 }, peer: rx.local });
  tx.send(new Uint8Array(100));
  tx.send(new Uint8Array([1, 2, 3]));
  const d = await rx.receive();
  assert.deepEqual(d?.data, new Uint8Array([1, 2, 3]));
  assert.equal(rx.stats.truncated, 1);
});

Deno.test("ICMP port unreachable is a soft error: counted, the socket keeps working", async () => {
  await using reactor = new Reactor();
  // A port that nothing listens on: bind, read the port, close.
  const gone = openTunnelSocket({ encap: "udp", local: { address: "127.0.0.1", port: 0 } });
  const deadPeer = gone.local;
  gone.close();
  const tx = reactor.udp({ local: { address: "127.0.0.1", port: 0 }, peer: deadPeer });
  for (let i = 0; i < 10 && tx.stats.errors === 0; i++) {
    tx.send(new Uint8Array([i]));
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.ok(tx.stats.errors >= 1);
  assert.equal(tx.lastError?.errno, Errno.ECONNREFUSED);
});

Deno.test("no fd leaks: reactor, sockets and traffic leave the open fds as found", async () => {
  const before = openFds();
  {
    await using reactor = new Reactor();
    const socks: ReactorSocket[] = [];
    for (let i = 0; i < 4; i++) {
      socks.push(reactor.udp({ local: { address: i % 2 ? "::1" : "127.0.0.1", port: 0 } }));
    }
    socks[1].send(enc.encode("v6"), socks[3].local);
    assert.equal(dec.decode((await socks[3].receive())?.data), "v6");
    const waiting = socks[0].receive();
    await until(() => reactor.polling, "a wait in flight");
    assert.ok(openFds() > before);
    reactor.close();
    assert.equal(await within(waiting, "the receive to resolve"), null);
  }
  assert.equal(openFds(), before);
});

async function runChild(code: string): Promise<{ status: Deno.CommandStatus; out: string }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Safety net only: a hanging child is killed so the test fails instead of hanging.
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const [status, out, err] = await Promise.all([
    child.status,
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
  ]);
  clearTimeout(timer);
  return { status, out: out + err };
}

const REACTOR_URL = new URL("../../dataplane/reactor.ts", import.meta.url).href;

Deno.test("a program with an idle reactor exits on its own", async () => {
  const { status, out } = await runChild(`
    import { Reactor } from "${REACTOR_URL}";
    const reactor = new Reactor();
    const a = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
    const b = reactor.udp({ local: { address: "127.0.0.1", port: 0 }, peer: a.local });
    const p = a.receive(); // goes through epoll_wait
    b.send(new Uint8Array([7]));
    const d = await p;
    console.log("got", d.data[0]);
    // No close(): nothing is pending, so the event loop must run dry.
  `);
  assert.equal(status.signal, null, `child was killed: ${out}`);
  assert.equal(status.code, 0, out);
  assert.match(out, /got 7/);
});

Deno.test("a program whose pending iterator is woken by close() exits", async () => {
  const { status, out } = await runChild(`
    import { Reactor } from "${REACTOR_URL}";
    const reactor = new Reactor();
    const a = reactor.udp({ local: { address: "::1", port: 0 } });
    setTimeout(() => reactor.close(), 50);
    let n = 0;
    for await (const _ of a) n++;
    console.log("loop ended", n);
  `);
  assert.equal(status.signal, null, `child was killed: ${out}`);
  assert.equal(status.code, 0, out);
  assert.match(out, /loop ended 0/);
});
