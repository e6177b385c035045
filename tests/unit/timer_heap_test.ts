/**
 * The timer heap and the clocks built on it: order, cancellation, errors, and the system
 * clock's single platform timer.
 */

import assert from "node:assert/strict";
import { TimerHeap } from "../../control/timer_heap.ts";
import { FakeClock, systemClock } from "../../control/clock.ts";

Deno.test("timers run earliest first, ties in the order they were added", () => {
  const heap = new TimerHeap();
  const order: string[] = [];
  const dues = [50, 10, 30, 10, 20, 50, 0, 40, 30];
  dues.forEach((due, i) => heap.add(due, () => order.push(`${due}:${i}`)));
  assert.equal(heap.runDue(100), dues.length);
  assert.deepEqual(order, ["0:6", "10:1", "10:3", "20:4", "30:2", "30:8", "40:7", "50:0", "50:5"]);
  assert.equal(heap.size, 0);
});

Deno.test("runDue runs only what is due; cancelled timers never run", () => {
  const heap = new TimerHeap();
  const ran: number[] = [];
  const timers = Array.from(
    { length: 200 },
    (_, i) => heap.add((i * 7919) % 1000, () => ran.push(i)),
  );
  for (let i = 0; i < 200; i += 3) timers[i]?.cancel();
  timers[0]?.cancel(); // twice: nothing
  assert.equal(heap.runDue(499), ran.length);
  for (const i of ran) assert.ok((i * 7919) % 1000 <= 499 && i % 3 !== 0, `timer ${i}`);
  const first = ran.length;
  heap.runDue(1000);
  const all = new Set(ran);
  assert.equal(all.size, ran.length);
  for (let i = 0; i < 200; i++) assert.equal(all.has(i), i % 3 !== 0, `timer ${i}`);
  assert.ok(first > 0 && first < ran.length);
  timers[1]?.cancel(); // after it ran: nothing
  assert.equal(heap.size, 0);
});

Deno.test("a callback's new timer runs in the same call, unless only older ones may", () => {
  const heap = new TimerHeap();
  const order: string[] = [];
  heap.add(5, () => {
    order.push("a");
    heap.add(5, () => order.push("b"));
  });
  heap.runDue(5, undefined, true);
  assert.deepEqual(order, ["a"]);
  heap.runDue(5);
  assert.deepEqual(order, ["a", "b"]);
  heap.add(1, () => {
    order.push("c");
    heap.add(2, () => order.push("d"));
  });
  heap.runDue(3);
  assert.deepEqual(order, ["a", "b", "c", "d"]);
});

Deno.test("a throwing timer does not stop the rest; the first error is rethrown", () => {
  const heap = new TimerHeap();
  const ran: number[] = [];
  heap.add(1, () => {
    throw new Error("first");
  });
  heap.add(2, () => ran.push(2));
  heap.add(3, () => {
    throw new Error("second");
  });
  heap.add(4, () => ran.push(4));
  assert.throws(() => heap.runDue(10), /first/);
  assert.deepEqual(ran, [2, 4]);
  assert.equal(heap.size, 0);
});

Deno.test("onEmpty is told when cancelling empties the heap", () => {
  let empty = 0;
  const heap = new TimerHeap(() => empty++);
  const a = heap.add(1, () => {});
  const b = heap.add(2, () => {});
  a.cancel();
  assert.equal(empty, 0);
  b.cancel();
  assert.equal(empty, 1);
});

Deno.test("FakeClock: callbacks read their due time; an error leaves the clock at its target", () => {
  const clock = new FakeClock(100);
  const seen: number[] = [];
  clock.setTimer(30, () => seen.push(clock.now()));
  clock.setTimer(10, () => {
    seen.push(clock.now());
    clock.setTimer(5, () => seen.push(clock.now()));
  });
  clock.setTimer(20, () => {
    throw new Error("Cannot run: test");
  });
  assert.throws(() => clock.advance(50), /Cannot run: test/);
  assert.deepEqual(seen, [110, 115, 130]);
  assert.equal(clock.now(), 150);
  assert.equal(clock.pending, 0);
  assert.throws(() => clock.advance(-1), RangeError);
});

Deno.test("systemClock: an earlier timer is not held back by a later one a callback armed", async () => {
  const order: string[] = [];
  const done = Promise.withResolvers<void>();
  // The first timer's callback sets a late timer (armed first) while an earlier one is pending.
  systemClock.setTimer(0, () => {
    systemClock.setTimer(600, () => {
      order.push("late");
      done.resolve();
    });
  });
  systemClock.setTimer(20, () => order.push("early"));
  setTimeout(() => order.push("marker"), 300);
  await done.promise;
  assert.deepEqual(order, ["early", "marker", "late"]);
});

Deno.test("systemClock: a cancelled timer neither runs nor keeps the program waiting", async () => {
  let ran = false;
  const t = systemClock.setTimer(50, () => ran = true);
  t.cancel();
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(ran, false);
});
