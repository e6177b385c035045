/** The job queue: order, errors, and callbacks for when it runs out of jobs. */

import assert from "node:assert/strict";
import { JobQueue } from "../../control/job_queue.ts";

const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("jobs run one at a time in order, an asynchronous one to its end first", async () => {
  const order: string[] = [];
  const queue = new JobQueue((e) => assert.fail(String(e)));
  queue.enqueue(async () => {
    order.push("a1");
    await turn();
    order.push("a2");
  });
  queue.enqueue(() => void order.push("b"));
  order.push("queued");
  await turn();
  await turn();
  assert.deepEqual(order, ["a1", "queued", "a2", "b"]);
});

Deno.test("a throwing or rejecting job is reported and the next one runs", async () => {
  const errors: string[] = [];
  const queue = new JobQueue((e) => errors.push((e as Error).message));
  let ran = false;
  queue.enqueue(() => {
    throw new Error("sync");
  });
  queue.enqueue(() => Promise.reject(new Error("async")));
  queue.enqueue(() => void (ran = true));
  await turn();
  assert.deepEqual(errors, ["sync", "async"]);
  assert.equal(ran, true);
});

Deno.test("whenIdle runs at once on an idle queue", () => {
  const queue = new JobQueue((e) => assert.fail(String(e)));
  let ran = 0;
  queue.whenIdle(() => ran++);
  assert.equal(ran, 1);
});

Deno.test("whenIdle waits for every job, including ones queued after it", async () => {
  const order: string[] = [];
  const queue = new JobQueue((e) => assert.fail(String(e)));
  queue.enqueue(async () => {
    await turn();
    order.push("job1");
  });
  queue.whenIdle(() => order.push("idle1"));
  queue.whenIdle(() => order.push("idle2"));
  queue.enqueue(() => void order.push("job2"));
  assert.deepEqual(order, []);
  await turn();
  await turn();
  assert.deepEqual(order, ["job1", "job2", "idle1", "idle2"]);
});

Deno.test("a throwing idle callback is reported and the others still run", async () => {
  const errors: unknown[] = [];
  const queue = new JobQueue((e) => errors.push(e));
  const order: string[] = [];
  queue.enqueue(() => turn());
  queue.whenIdle(() => {
    throw new Error("Cannot ack: test");
  });
  queue.whenIdle(() => order.push("second"));
  await turn();
  await turn();
  assert.equal(errors.length, 1);
  assert.deepEqual(order, ["second"]);
});

Deno.test("an idle callback that queues a job starts a new drain", async () => {
  const order: string[] = [];
  const queue = new JobQueue((e) => assert.fail(String(e)));
  queue.enqueue(() => turn());
  queue.whenIdle(() => {
    order.push("idle");
    queue.enqueue(() => void order.push("job"));
    queue.whenIdle(() => order.push("idle again"));
  });
  await turn();
  await turn();
  assert.deepEqual(order, ["idle", "job", "idle again"]);
});
