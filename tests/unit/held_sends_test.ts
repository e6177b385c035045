/** Held sends: what a busy connection sends goes out together, in order, and never late. */

import assert from "node:assert/strict";
import { HeldSends, HOLD_MAX_MS } from "../../control/held_sends.ts";
import { FakeClock } from "../../control/clock.ts";
import { JobQueue } from "../../control/job_queue.ts";

const bytes = (n: number): Uint8Array => new Uint8Array([n]);
const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

interface Rig {
  clock: FakeClock;
  queue: JobQueue;
  sent: number[][];
  held: HeldSends;
}

function rig(): Rig {
  const clock = new FakeClock();
  const queue = new JobQueue((e) => assert.fail(String(e)));
  const sent: number[][] = [];
  const held = new HeldSends(
    (ps) => sent.push(ps.map((p) => p[0] as number)),
    (flush) => queue.whenIdle(flush),
    clock,
  );
  return { clock, queue, sent, held };
}

Deno.test("an idle connection's datagram goes out at once, without a timer", () => {
  const { clock, sent, held } = rig();
  held.put(bytes(1));
  assert.deepEqual(sent, [[1]]);
  assert.equal(clock.pending, 0);
});

Deno.test("what the jobs of one batch send goes out in one call, in order, when they are done", async () => {
  const { clock, queue, sent, held } = rig();
  for (let i = 0; i < 4; i++) {
    queue.enqueue(async () => {
      held.put(bytes(i));
      await Promise.resolve();
      if (i === 3) held.put([bytes(10), bytes(11)]);
    });
  }
  assert.deepEqual(sent, [], "held while the jobs run");
  await turn();
  assert.deepEqual(sent, [[0, 1, 2, 3, 10, 11]]);
  assert.equal(clock.pending, 0, "the time limit was cancelled");
});

Deno.test("a job that waits long does not hold datagrams past the time limit", async () => {
  const { clock, queue, sent, held } = rig();
  let finish = (): void => {};
  queue.enqueue(() => {
    held.put(bytes(1));
    return new Promise<void>((resolve) => finish = resolve);
  });
  clock.advance(HOLD_MAX_MS - 1);
  assert.deepEqual(sent, []);
  clock.advance(1);
  assert.deepEqual(sent, [[1]]);
  finish();
  await turn();
  assert.deepEqual(sent, [[1]], "nothing sent twice");
});

Deno.test("flush sends what is held now; a failing send is reported, not thrown", () => {
  const errors: unknown[] = [];
  const clock = new FakeClock();
  const held = new HeldSends(
    () => {
      throw new Error("Cannot send: EPERM");
    },
    () => {},
    clock,
    (e) => errors.push(e),
  );
  held.put(bytes(1));
  assert.equal(held.size, 1);
  held.flush();
  assert.equal(held.size, 0);
  assert.equal(errors.length, 1);
  held.flush(); // nothing held: nothing sent
  assert.equal(errors.length, 1);
});
