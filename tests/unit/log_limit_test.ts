/**
 * lib/log_limit.ts: warnings, errors and fatal records limited per cause (the message template)
 * with a summary line per window; trace, debug and info untouched; `with()` sharing the limits;
 * and through a real formatter, what a flood of one cause writes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { FakeClock } from "../../control/clock.ts";
import { getLog, type Log, type LogProperties, resetLogging, setupLogging } from "../../lib/log.ts";
import { rateLimitedLog } from "../../lib/log_limit.ts";

/** A log that records `level rendered-message` lines. */
function captureLog(lines: string[], base: LogProperties = {}): Log {
  const line = (level: string) => (message: string, properties?: LogProperties): void => {
    const p = { ...base, ...properties };
    lines.push(`${level} ${message.replace(/\{(\w+)\}/g, (_, k: string) => String(p[k]))}`);
  };
  return {
    category: ["l2tpd", "test"],
    trace: line("trace"),
    debug: line("debug"),
    info: line("info"),
    warn: line("warning"),
    error: line("error"),
    fatal: line("fatal"),
    with: (properties) => captureLog(lines, { ...base, ...properties }),
  };
}

Deno.test("per cause: the first 5 in a window pass, then one summary when the window ends", () => {
  const lines: string[] = [];
  const clock = new FakeClock();
  const log = rateLimitedLog(captureLog(lines), { clock });
  for (let i = 1; i <= 1000; i++) log.warn("refusing call {id}", { id: i });
  assert.deepEqual(lines, [1, 2, 3, 4, 5].map((i) => `warning refusing call ${i}`));
  assert.equal(log.suppressed, 995);
  clock.advance(9_999);
  assert.equal(lines.length, 5, "no summary before the window ends");
  clock.advance(1);
  assert.equal(lines.length, 6);
  assert.equal(
    lines[5],
    "warning refusing call 1000 (suppressed 995 similar messages in the last 10 s)",
  );
  // A new window: the cause may write again.
  log.warn("refusing call {id}", { id: 1001 });
  assert.equal(lines.at(-1), "warning refusing call 1001");
  clock.advance(60_000);
  assert.equal(lines.length, 7, "nothing suppressed in that window: no summary");
  assert.equal(clock.pending, 0, "no timer left behind");
});

Deno.test("causes are templates: different templates have their own limits", () => {
  const lines: string[] = [];
  const clock = new FakeClock();
  const log = rateLimitedLog(captureLog(lines), { clock, perCauseBurst: 2, windowMs: 1000 });
  for (let i = 0; i < 10; i++) {
    log.warn("a {i}", { i });
    log.error("b {i}", { i });
  }
  assert.deepEqual(lines, ["warning a 0", "error b 0", "warning a 1", "error b 1"]);
  clock.advance(1000);
  assert.deepEqual(lines.slice(4).sort(), [
    "error b 9 (suppressed 8 similar messages in the last 1 s)",
    "warning a 9 (suppressed 8 similar messages in the last 1 s)",
  ]);
});

Deno.test("trace, debug and info pass unchanged; the summary takes the highest level", () => {
  const lines: string[] = [];
  const clock = new FakeClock();
  const log = rateLimitedLog(captureLog(lines), { clock, perCauseBurst: 1 });
  for (let i = 0; i < 50; i++) {
    log.trace("t");
    log.debug("d");
    log.info("i");
  }
  assert.equal(lines.length, 150);
  log.warn("x");
  log.warn("x");
  log.fatal("x");
  log.error("x");
  clock.advance(10_000);
  assert.deepEqual(lines.slice(150), [
    "warning x",
    "fatal x (suppressed 3 similar messages in the last 10 s)",
  ]);
});

Deno.test("with(): children share the limits and keep their own properties", () => {
  const lines: string[] = [];
  const clock = new FakeClock();
  const root = rateLimitedLog(captureLog(lines), { clock, perCauseBurst: 3 });
  const tunnels = Array.from({ length: 100 }, (_, i) => root.with({ tunnel: `t${i}` }));
  for (const t of tunnels) t.error("{tunnel}: cannot open a socket: EMFILE");
  assert.deepEqual(lines, [
    "error t0: cannot open a socket: EMFILE",
    "error t1: cannot open a socket: EMFILE",
    "error t2: cannot open a socket: EMFILE",
  ]);
  assert.equal(tunnels[7].suppressed, 97);
  root.flush();
  assert.deepEqual(lines.slice(3), [
    "error t99: cannot open a socket: EMFILE (suppressed 97 similar messages in the last 10 s)",
  ]);
  assert.equal(clock.pending, 0, "flush cancels the timer");
  root.flush();
  assert.equal(lines.length, 4, "a second flush has nothing to say");
});

Deno.test("the number of causes tracked is bounded", () => {
  const lines: string[] = [];
  const clock = new FakeClock();
  const log = rateLimitedLog(captureLog(lines), { clock, perCauseBurst: 0, maxCauses: 10 });
  for (let i = 0; i < 100; i++) log.warn(`cause ${i}`);
  // Burst 0: every record is suppressed; forgotten causes say so as they go.
  assert.equal(lines.length, 90);
  assert.ok(lines[0].startsWith("warning cause 0 (suppressed 1 similar messages"));
  log.flush();
  assert.equal(lines.length, 100);
});

Deno.test("options are checked", () => {
  const log = captureLog([]);
  assert.throws(() => rateLimitedLog(log, { perCauseBurst: -1 }), /Cannot rate-limit the log/);
  assert.throws(() => rateLimitedLog(log, { windowMs: 0 }), /windowMs 0/);
  assert.throws(() => rateLimitedLog(log, { maxCauses: 0 }), /maxCauses 0/);
});

Deno.test("through logtape: 1,000 refusals of one cause are 6 lines, text and JSON alike", () => {
  for (const format of ["text", "json"] as const) {
    const lines: string[] = [];
    setupLogging({ level: "info", format, write: (l) => lines.push(l) });
    try {
      const clock = new FakeClock();
      const log = rateLimitedLog(getLog("context"), { clock }).with({ tunnel: "lns" });
      for (let i = 0; i < 1000; i++) {
        log.warn("{tunnel}: refusing the peer's {type} (peer session {id}): {reason}", {
          type: "ICRQ",
          id: i + 1,
          reason: "limit of 2 sessions reached",
        });
        log.info("{event}", { event: "not limited" });
      }
      clock.advance(10_000);
      const warnings = lines.filter((l) => /WARNING|"warning"/.test(l));
      assert.equal(warnings.length, 6, format);
      const last = warnings[5];
      if (format === "json") {
        const r = JSON.parse(last);
        assert.equal(
          r.message,
          "lns: refusing the peer's ICRQ (peer session 1000): limit of 2 sessions reached " +
            "(suppressed 995 similar messages in the last 10 s)",
        );
        assert.equal(r.suppressed, 995);
        assert.equal(r.tunnel, "lns");
      } else {
        assert.match(
          last,
          /peer session 1000\): .* \(suppressed 995 similar messages in the last 10 s\)/,
        );
      }
      assert.equal(lines.length - warnings.length, 1000, "info lines are untouched");
    } finally {
      resetLogging();
    }
  }
});
