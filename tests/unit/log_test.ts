import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import {
  flushLogs,
  flushLogsSync,
  formatJsonRecord,
  formatTextRecord,
  getLog,
  type Log,
  LogQueue,
  resetLogging,
  setupLogging,
} from "../../lib/log.ts";

/** Run `fn` with logging captured; returns the lines written. */
function capture(
  level: "trace" | "debug" | "info" | "warning" | "error",
  format: "text" | "json",
  fn: () => void,
): string[] {
  const lines: string[] = [];
  setupLogging({ level, format, write: (line) => lines.push(line) });
  try {
    fn();
  } finally {
    resetLogging();
  }
  return lines;
}

Deno.test("JSON lines carry timestamp, level, category, message and the context", () => {
  const lines = capture("info", "json", () => {
    getLog("tunnel", { tunnel: "t1", session: "s1" }).info("session up: {ifname}", {
      ifname: "l2tpeth0",
      rx: 12n,
      cookie: new Uint8Array([0xde, 0xad]),
      error: new TypeError("bad"),
    });
  });
  assert.equal(lines.length, 1);
  assert.ok(lines[0].endsWith("\n"));
  assert.equal(lines[0].indexOf("\n"), lines[0].length - 1, "one line per record");
  const record = JSON.parse(lines[0]);
  assert.match(record.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(record.level, "info");
  assert.equal(record.category, "l2tpd.tunnel");
  assert.equal(record.message, "session up: l2tpeth0");
  assert.equal(record.tunnel, "t1");
  assert.equal(record.session, "s1");
  assert.equal(record.ifname, "l2tpeth0");
  assert.equal(record.rx, "12");
  assert.equal(record.cookie, "dead");
  assert.deepEqual(record.error, { name: "TypeError", message: "bad" });
});

Deno.test("text lines are human-readable and do not repeat interpolated properties", () => {
  const lines = capture("info", "text", () => {
    getLog("daemon", { tunnel: "t1" }).warn("tunnel {tid} is slow", { tid: 5, peer: "a b" });
  });
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /^\d{4}-\d\d-\d\dT[\d:.]+Z WARNING \[l2tpd\.daemon\] tunnel 5 is slow tunnel=t1 peer="a b"\n$/,
  );
});

Deno.test("the level filters records", () => {
  const log = (): void => {
    const l = getLog();
    l.trace("t");
    l.debug("d");
    l.info("i");
    l.warn("w");
    l.error("e");
  };
  const levels = (lines: string[]): string[] => lines.map((l) => JSON.parse(l).level);
  assert.deepEqual(levels(capture("info", "json", log)), ["info", "warning", "error"]);
  assert.deepEqual(levels(capture("debug", "json", log)), ["debug", "info", "warning", "error"]);
  assert.deepEqual(levels(capture("error", "json", log)), ["error"]);
});

Deno.test("only the l2tpd category is configured; logtape loggers under it work too", () => {
  const lines = capture("info", "json", () => {
    getLogger(["other"]).info("not ours");
    getLogger(["l2tpd", "daemon"]).info("ours");
  });
  assert.deepEqual(lines.map((l) => JSON.parse(l).message), ["ours"]);
});

Deno.test("after resetLogging nothing is written", () => {
  const lines: string[] = [];
  setupLogging({ level: "info", format: "text", write: (line) => lines.push(line) });
  resetLogging();
  getLog().error("dropped");
  assert.deepEqual(lines, []);
});

Deno.test("a logtape Logger is a Log; context nests with with()", () => {
  const lines = capture("info", "json", () => {
    const log: Log = getLog("tunnel", { tunnel: "t1" }).with({ session: "s9" });
    log.info("x");
  });
  const record = JSON.parse(lines[0]);
  assert.equal(record.tunnel, "t1");
  assert.equal(record.session, "s9");
});

Deno.test("formatters: property names that clash with the fixed fields are prefixed", () => {
  const line = formatJsonRecord({
    category: ["l2tpd"],
    level: "info",
    message: ["m"],
    timestamp: 0,
    properties: { message: "prop", level: 1 },
  });
  assert.deepEqual(JSON.parse(line), {
    timestamp: "1970-01-01T00:00:00.000Z",
    level: "info",
    category: "l2tpd",
    message: "m",
    _message: "prop",
    _level: 1,
  });
  assert.equal(
    formatTextRecord({
      category: ["l2tpd"],
      level: "error",
      message: ["n=", 3, ""],
      timestamp: 0,
      properties: { q: "", z: null },
    }),
    '1970-01-01T00:00:00.000Z ERROR   [l2tpd] n=3 q="" z=null\n',
  );
});

const decoder = new TextDecoder();

/** A writer whose writes stay pending until `release()`; records every chunk. */
function slowWriter(): {
  chunks: string[];
  pending: number;
  release: () => void;
  write: (data: Uint8Array) => Promise<number>;
} {
  const waiting: (() => void)[] = [];
  const w = {
    chunks: [] as string[],
    get pending(): number {
      return waiting.length;
    },
    release: (): void => {
      for (const r of waiting.splice(0)) r();
    },
    write: (data: Uint8Array): Promise<number> => {
      w.chunks.push(decoder.decode(data));
      return new Promise<number>((resolve) => waiting.push(() => resolve(data.length)));
    },
  };
  return w;
}

const tick = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("LogQueue: push never writes; one write carries every line queued meanwhile", async () => {
  const w = slowWriter();
  const q = new LogQueue({
    write: w.write,
    writeSync: () => assert.fail("no sync write"),
    delayMs: 0,
  });
  for (let i = 0; i < 100; i++) q.push(`line ${i}\n`);
  assert.equal(w.chunks.length, 0, "nothing is written synchronously");
  await tick();
  assert.equal(w.chunks.length, 1, "one write for 100 lines");
  assert.equal(w.chunks[0].split("\n").length - 1, 100);
  // While that write is in progress, new lines wait, then go out together.
  for (let i = 100; i < 150; i++) q.push(`line ${i}\n`);
  await tick();
  assert.equal(w.chunks.length, 1);
  assert.equal(q.size, 50);
  w.release();
  await tick();
  assert.equal(w.chunks.length, 2);
  assert.ok(w.chunks[1].startsWith("line 100\n") && w.chunks[1].endsWith("line 149\n"));
  const done = q.flush();
  w.release();
  await done;
  assert.equal(q.size, 0);
});

Deno.test("LogQueue: lines wait for the write delay and then go out in one write", async () => {
  const w = slowWriter();
  const q = new LogQueue({ write: w.write, delayMs: 1_000 });
  q.push("a\n");
  await tick();
  q.push("b\n");
  await tick();
  assert.equal(w.chunks.length, 0, "nothing is written before the delay");
  const done = q.flush(); // what shutdown does: no waiting for the delay
  w.release();
  await done;
  assert.deepEqual(w.chunks, ["a\nb\n"]);
});

Deno.test("LogQueue: a full queue drops the oldest lines and says so once", async () => {
  const w = slowWriter();
  const q = new LogQueue({
    write: w.write,
    maxLines: 10,
    droppedLine: (n) => `dropped ${n}\n`,
    delayMs: 0,
  });
  q.push("first\n");
  await tick(); // "first" is being written (slowly)
  for (let i = 0; i < 1000; i++) q.push(`${i}\n`);
  assert.equal(q.size, 10);
  assert.equal(q.dropped, 990);
  const flushed = q.flush();
  for (let i = 0; i < 5; i++) {
    w.release();
    await tick();
  }
  await flushed;
  const later = w.chunks.slice(1).join("");
  assert.equal(later, "dropped 990\n990\n991\n992\n993\n994\n995\n996\n997\n998\n999\n");
  assert.equal(q.dropped, 990, "the total stays");
});

Deno.test("LogQueue: flushSync writes what is queued at once; a failing writer is survived", () => {
  const out: string[] = [];
  const q = new LogQueue({
    write: () => Promise.reject(new Error("EPIPE")),
    writeSync: (d) => (out.push(decoder.decode(d)), d.length),
  });
  q.push("a\n");
  q.push("b\n");
  q.flushSync();
  assert.deepEqual(out, ["a\nb\n"]);
  assert.equal(q.size, 0);
  const broken = new LogQueue({
    writeSync: () => {
      throw new Error("EBADF");
    },
  });
  broken.push("lost\n");
  broken.flushSync(); // does not throw
  assert.equal(broken.size, 0);
});

Deno.test("LogQueue: a writer that rejects loses its lines, never the process", async () => {
  let calls = 0;
  const q = new LogQueue({ write: () => (calls++, Promise.reject(new Error("EPIPE"))) });
  q.push("x\n");
  await q.flush();
  q.push("y\n");
  await q.flush();
  assert.equal(calls, 2);
  assert.throws(() => new LogQueue({ maxLines: 0 }), /Cannot create log queue: maxLines 0/);
});

Deno.test("setupLogging without write: lines go through the queue; flushLogs drains it", async () => {
  // Default sink writes stderr: set it up, log nothing at its level, and check the API shape.
  setupLogging({ level: "error", format: "json", queueLines: 5 });
  getLog().info("below the level: not queued");
  await flushLogs();
  flushLogsSync();
  resetLogging();
  await flushLogs(); // nothing set up: resolves at once
});

Deno.test("the dropped-lines notice is a record in the configured format", () => {
  // The notice is formatted like every other line: JSON Lines stay JSON.
  const line = formatJsonRecord({
    category: ["l2tpd", "log"],
    level: "warning",
    message: ["log: dropped ", 3, " lines"],
    rawMessage: "log: dropped {dropped} lines",
    timestamp: 0,
    properties: { dropped: 3 },
  });
  assert.equal(JSON.parse(line).message, "log: dropped 3 lines");
  assert.equal(
    formatTextRecord({
      category: ["l2tpd", "log"],
      level: "warning",
      message: ["log: dropped ", 3, " lines"],
      rawMessage: "log: dropped {dropped} lines",
      timestamp: 0,
      properties: { dropped: 3 },
    }),
    "1970-01-01T00:00:00.000Z WARNING [l2tpd.log] log: dropped 3 lines\n",
  );
});
