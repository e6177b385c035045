import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import {
  formatJsonRecord,
  formatTextRecord,
  getLog,
  type Log,
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
