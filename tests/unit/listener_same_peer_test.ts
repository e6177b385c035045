/**
 * Several tunnels from one peer address and port to our LNS (RFC 2661 allows any number of
 * tunnels between two hosts; xl2tpd sends every tunnel from its one UDP port, so two `[lac]`
 * sections for one LNS do this). Our LNS gives each accepted tunnel a socket bound to the
 * listening address and connected to the peer: with one peer port, those sockets all have the
 * same addresses and ports and the kernel delivers each datagram to one of them. The listener
 * must route what a tunnel's socket reads for another tunnel (and a new SCCRQ) to the right
 * place: a second tunnel dialled while the first is up comes up, and both keep working.
 *
 * The peer here is two of our initiators sharing one UDP socket through a small demultiplexer
 * (by the tunnel ID in the header, as xl2tpd does); the LNS is the daemon with the null data
 * plane, over real loopback sockets.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Daemon } from "../../lib/daemon.ts";
import { Reactor, type ReactorSocket } from "../../dataplane/reactor.ts";
import { NullDataPlane } from "../../dataplane/null.ts";
import { ControlConnection, type ControlSocket } from "../../control/connection.ts";
import { peekHeader } from "../../control/header.ts";
import type { Endpoint } from "../../dataplane/dataplane.ts";
import type { Datagram } from "../../dataplane/socket.ts";
import { namedTunnel, type SessionEntry } from "../../lib/config.ts";

/** One UDP socket shared by several initiators: datagrams go to the tunnel ID in the header. */
class SharedPort {
  readonly #sock: ReactorSocket;
  readonly #queues = new Map<number, { items: Datagram[]; wake?: () => void }>();
  #closed = false;

  constructor(sock: ReactorSocket) {
    this.#sock = sock;
    void this.#pump();
  }

  async #pump(): Promise<void> {
    for await (const d of this.#sock) {
      let id: number;
      try {
        const peek = peekHeader(d.data, "udp");
        if (peek.kind !== "control") continue;
        id = peek.tunnelId;
      } catch {
        continue;
      }
      const q = this.#queues.get(id);
      if (q === undefined) continue;
      q.items.push({ data: d.data.slice(), from: d.from });
      q.wake?.();
    }
    this.#closed = true;
    for (const q of this.#queues.values()) q.wake?.();
  }

  /** A ControlSocket for the tunnel with ID `tunnelId`. */
  socket(tunnelId: number): ControlSocket {
    const q: { items: Datagram[]; wake?: () => void } = { items: [] };
    this.#queues.set(tunnelId, q);
    const sock = this.#sock;
    let peer: Endpoint | undefined;
    const shared = (): boolean => this.#closed;
    return {
      send: (data: Uint8Array, to?: Endpoint) => sock.send(data, to ?? peer),
      connect: (p: Endpoint) => {
        peer = p; // the one socket stays unconnected: it serves every tunnel
      },
      async *[Symbol.asyncIterator](): AsyncGenerator<Datagram> {
        for (;;) {
          const d = q.items.shift();
          if (d !== undefined) {
            yield d;
            continue;
          }
          if (shared()) return;
          await new Promise<void>((r) => q.wake = r);
          q.wake = undefined;
        }
      },
    };
  }
}

const ppp = (name: string): SessionEntry => ({
  name,
  pseudowire: "ppp",
  sendSeqnum: false,
  recvSeqnum: false,
  l2specType: "none",
});

async function until(what: string, probe: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 8000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("LNS: a second tunnel from the same peer address and port comes up while the first is up; both keep working", async () => {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const lnsAt = { address: "127.0.0.1", port };
  using dp = new NullDataPlane();
  const lns = new Daemon({
    dataPlane: dp,
    pppd: false,
    config: {
      file: "same-peer.toml",
      tunnels: [namedTunnel({
        name: "lns",
        mode: "dynamic",
        role: "lns",
        version: 2,
        encap: "udp",
        managed: true,
        hostName: "lns",
        local: lnsAt,
        peer: { address: "127.0.0.1", port: 0 },
        retryTimeoutMs: 200,
        sessions: [ppp("any")],
      })],
    },
  });
  await lns.start();
  await using reactor = new Reactor();
  const sock = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
  const shared = new SharedPort(sock);
  const peer = (id: number): ControlConnection =>
    new ControlConnection({
      version: 2,
      encap: "udp",
      role: "initiator",
      hostName: `peer-${id}`,
      socket: shared.socket(id),
      peer: lnsAt,
      connected: false,
      localTunnelId: id,
      retryTimeout: 200,
    });
  const a = peer(101);
  const b = peer(102);
  try {
    a.start();
    assert.equal(await a.established, true, "first tunnel up");
    assert.equal(await a.openSession(ppp("a1")).established, true);
    await until(
      "the LNS's first tunnel and session",
      async () => (await dp.listTunnels()).length === 1 && (await dp.listSessions()).length === 1,
    );

    // The second SCCRQ comes from the same address and port as the first tunnel's messages,
    // so it reaches the first tunnel's socket at the LNS, not the listening one.
    b.start();
    assert.equal(await b.established, true, "second tunnel up");
    assert.equal(await b.openSession(ppp("b1")).established, true);
    // Both tunnels still carry control messages, whichever socket the kernel picks.
    assert.equal(await a.openSession(ppp("a2")).established, true);
    assert.equal(await b.openSession(ppp("b2")).established, true);
    await until(
      "two tunnels and four sessions at the LNS",
      async () => (await dp.listTunnels()).length === 2 && (await dp.listSessions()).length === 4,
    );
    const tunnels = await dp.listTunnels();
    assert.deepEqual(tunnels.map((t) => t.peerTunnelId).sort(), [101, 102]);

    await a.close();
    await until("the LNS to drop the first tunnel only", async () => {
      const left = await dp.listTunnels();
      return left.length === 1 && left[0].peerTunnelId === 102 &&
        (await dp.listSessions()).length === 2;
    });
    assert.equal(b.state, "established", "the second tunnel stays up");
  } finally {
    a.abort();
    b.abort();
    await Promise.all([a.done, b.done]);
    await lns.stop();
    sock.close();
  }
});
