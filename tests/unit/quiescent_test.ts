import assert from "node:assert/strict";
import { FakeClock } from "../../control/clock.ts";
import { type QuiescentSocket, QuiescentTunnel } from "../../control/quiescent.ts";
import { peekHeader } from "../../control/header.ts";
import { MessageType } from "../../control/constants.ts";
import type { ControlMessage } from "../../control/message.ts";
import type { Datagram } from "../../dataplane/socket.ts";

/** One end of an in-memory datagram link; `cut` makes it drop everything it is given. */
class FakeSocket implements QuiescentSocket {
  peer?: FakeSocket;
  cut = false;
  sent: Uint8Array[] = [];
  #queue: Datagram[] = [];
  #wake?: () => void;
  #closed = false;

  send(data: Uint8Array): boolean {
    this.sent.push(data.slice());
    if (!this.cut && this.peer) this.peer.deliver(data.slice());
    return true;
  }

  deliver(data: Uint8Array): void {
    this.#queue.push({ data, from: { address: "192.0.2.1", port: 1701 } });
    this.#wake?.();
  }

  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Datagram> {
    while (!this.#closed) {
      const d = this.#queue.shift();
      if (d) {
        yield d;
        continue;
      }
      await new Promise<void>((r) => this.#wake = r);
    }
  }
}

function pair(): [FakeSocket, FakeSocket] {
  const a = new FakeSocket();
  const b = new FakeSocket();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

const flush = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

async function advance(clock: FakeClock, ms: number, step = 250): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(step);
    await flush();
  }
}

for (const [version, encap] of [[2, "udp"], [3, "udp"], [3, "ip"]] as const) {
  Deno.test(`quiescent v${version}/${encap}: HELLOs are exchanged and acknowledged while both live`, async () => {
    const clock = new FakeClock();
    const [sa, sb] = pair();
    const got: ControlMessage[] = [];
    const common = { version, encap, helloTimeoutMs: 1000, clock, maxRetries: 3 } as const;
    const a = new QuiescentTunnel({ ...common, peerTunnelId: 45, socket: sa });
    const b = new QuiescentTunnel({
      ...common,
      peerTunnelId: 42,
      socket: sb,
      onMessage: (m) => got.push(m),
    });
    await advance(clock, 10_000);
    assert.ok(got.length >= 5, `b received HELLOs from a: ${got.length}`);
    assert.ok(got.every((m) => m.type === MessageType.HELLO));
    assert.equal(got[0].tunnelId, 45, "a addresses b by b's tunnel ID (45)");
    assert.equal(a.transport.inFlight, 0, "every HELLO was acknowledged");
    // On an L2TP/IP socket the 4-byte zero session ID is the kernel's business, not ours.
    const first = sa.sent[0];
    assert.equal(peekHeader(first, "udp").kind, "control");
    a.close();
    b.close();
    sa.close();
    sb.close();
    assert.equal((await a.ended).reason, "closed");
  });
}

Deno.test("quiescent: a silent peer is declared dead after hello timeout plus retransmissions", async () => {
  const clock = new FakeClock();
  const [sa, sb] = pair();
  const a = new QuiescentTunnel({
    version: 3,
    encap: "udp",
    peerTunnelId: 45,
    socket: sa,
    helloTimeoutMs: 1000,
    retryTimeoutMs: 1000,
    maxRetries: 3,
    clock,
  });
  sa.cut = true; // the peer is gone: nothing a sends arrives, nothing comes back
  let ended: string | undefined;
  a.ended.then((e) => ended = e.reason);
  // HELLO at 1 s, retransmissions at 2, 4 and 8 s after it; dead at 1 + 1 + 2 + 4 + 8 = 16 s.
  await advance(clock, 15_000);
  assert.equal(ended, undefined, "still retrying at 15 s");
  await advance(clock, 2_000);
  assert.equal(ended, "failed");
  const hellos = sa.sent.filter((p) => {
    const h = peekHeader(p, "udp");
    return h.kind === "control" && h.length > 12;
  });
  assert.equal(hellos.length, 4, "one HELLO and three retransmissions");
  a.close();
  sa.close();
  sb.close();
});

Deno.test("quiescent: a positive hello timeout is required", () => {
  const [sa] = pair();
  assert.throws(
    () =>
      new QuiescentTunnel({
        version: 3,
        encap: "udp",
        peerTunnelId: 1,
        socket: sa,
        helloTimeoutMs: 0,
      }),
    /Cannot start quiescent tunnel: hello timeout must be positive/,
  );
});
