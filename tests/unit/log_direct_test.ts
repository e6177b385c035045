/** The daemon's loggers: straight to setupLogging's sink, else through logtape. */

import assert from "node:assert/strict";
import { configureSync, type LogRecord, resetSync } from "@logtape/logtape";
import { getLog, resetLogging, setupLogging } from "../../lib/log.ts";

Deno.test("with setupLogging: levels below the lowest are dropped, templates filled, properties merged", () => {
  const lines: string[] = [];
  setupLogging({ level: "info", format: "json", write: (l) => lines.push(l) });
  try {
    const log = getLog("tunnel", { tunnel: "t1", session: undefined }).with({ peer: "p" });
    log.debug("hidden");
    log.info("{tunnel}: up with {peer}, id {id}", { id: 7, peer: "q" });
    log.warn("no properties");
    assert.equal(lines.length, 2);
    const first = JSON.parse(lines[0]);
    assert.equal(first.message, "t1: up with q, id 7", "the call's properties win");
    assert.equal(first.category, "l2tpd.tunnel");
    assert.equal(first.level, "info");
    assert.equal(first.id, 7);
    assert.equal("session" in first, false, "undefined context values are left out");
    assert.equal(JSON.parse(lines[1]).level, "warning");
  } finally {
    resetLogging();
  }
  getLog("tunnel").error("after reset: nowhere");
  assert.equal(lines.length, 2);
});

Deno.test("without setupLogging: records go through logtape's configuration", () => {
  const records: LogRecord[] = [];
  configureSync({
    reset: true,
    sinks: { mem: (r) => records.push(r) },
    loggers: [{ category: ["l2tpd"], lowestLevel: "debug", sinks: ["mem"] }],
  });
  try {
    getLog("session", { tunnel: "t2" }).debug("session {id} down", { id: 3 });
    assert.equal(records.length, 1);
    assert.deepEqual(records[0].category, ["l2tpd", "session"]);
    assert.equal(records[0].level, "debug");
    assert.deepEqual(records[0].properties, { tunnel: "t2", id: 3 });
    assert.deepEqual(records[0].message, ["session ", 3, " down"]);
  } finally {
    resetSync();
  }
});
