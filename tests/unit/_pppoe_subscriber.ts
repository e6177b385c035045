/**
 * Subscribers played through a fake discovery port, for kpppoed's tests: {@linkcode FakePort}
 * records what the access concentrator sends, {@linkcode dial} runs PADI/PADO/PADR/PADS,
 * {@linkcode hangUp} sends a PADT.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  decodePppoe,
  encodePppoe,
  findTag,
  PppoeCode,
  type PppoePacket,
  PppoeTagType,
  tag,
} from "../../control/pppoe/codec.ts";
import type { DiscoveryPort, PortFrame } from "../../lib/kpppoed/service.ts";

export const AC_MAC = "02:00:00:00:aa:01";

/**
 * The receive side of a fake discovery port: frames given to {@linkcode QueuePort.deliver} are
 * read by the access concentrator in order, until {@linkcode QueuePort.close}. What it sends is
 * the subclass's to handle.
 */
export abstract class QueuePort implements DiscoveryPort {
  readonly mac = AC_MAC;
  #queue: PortFrame[] = [];
  #head = 0;
  #wake?: () => void;
  #closed = false;

  /** Queue one frame for the access concentrator. */
  deliver(frame: PortFrame): void {
    this.#queue.push(frame);
    this.#wake?.();
  }

  abstract send(payload: Uint8Array, to: string): boolean;

  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<PortFrame> {
    while (true) {
      if (this.#head < this.#queue.length) {
        const frame = this.#queue[this.#head++];
        if (this.#head === this.#queue.length) {
          this.#queue = [];
          this.#head = 0;
        }
        yield frame;
        continue;
      }
      if (this.#closed) return;
      await new Promise<void>((r) => (this.#wake = r));
      this.#wake = undefined;
    }
  }
}

/** A discovery port whose frames the test delivers and whose sends it records. */
export class FakePort extends QueuePort {
  readonly sent: { to: string; packet: PppoePacket }[] = [];

  send(payload: Uint8Array, to: string): boolean {
    this.sent.push({ to, packet: decodePppoe(payload) });
    return true;
  }

  /** The last frame sent to `to` with `code`. */
  last(to: string, code: number): PppoePacket | undefined {
    return this.sent.filter((s) => s.to === to && s.packet.code === code).at(-1)?.packet;
  }
}

/** A subscriber: PADI, then PADR with the PADO's cookie; resolves with its session ID. */
export async function dial(port: FakePort, mac: string, service = "internet"): Promise<number> {
  const serviceTag = tag(PppoeTagType.SERVICE_NAME, service);
  port.deliver({
    source: mac,
    packetType: "broadcast",
    payload: encodePppoe({ code: PppoeCode.PADI, sessionId: 0, tags: [serviceTag] }),
  });
  const pado = await until("PADO", () => port.last(mac, PppoeCode.PADO));
  const cookie = findTag(pado, PppoeTagType.AC_COOKIE);
  assert.ok(cookie, "the PADO carries an AC-Cookie");
  port.deliver({
    source: mac,
    packetType: "host",
    payload: encodePppoe({
      code: PppoeCode.PADR,
      sessionId: 0,
      tags: [serviceTag, tag(PppoeTagType.AC_COOKIE, cookie)],
    }),
  });
  const pads = await until("PADS", () => port.last(mac, PppoeCode.PADS));
  assert.notEqual(pads.sessionId, 0);
  return pads.sessionId;
}

export function hangUp(port: FakePort, mac: string, sessionId: number): void {
  port.deliver({
    source: mac,
    packetType: "host",
    payload: encodePppoe({ code: PppoeCode.PADT, sessionId, tags: [] }),
  });
}

export async function until<T>(what: string, probe: () => T | undefined | false): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
