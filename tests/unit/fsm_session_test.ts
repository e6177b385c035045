/**
 * The session state tables (control/session_fsm.ts), walked: every row is well formed; in each
 * kind every state is reachable and can reach `dead`; the four establishment paths; CDN and
 * teardown rules; stray messages; WEN/SLI.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  SESSION_EVENTS,
  SESSION_FSM,
  SESSION_KINDS,
  SESSION_STATES,
  type SessionAction,
  type SessionEvent,
  type SessionKind,
  type SessionState,
  sessionTransition,
} from "../../control/session_fsm.ts";

const ACTIONS: readonly SessionAction[] = [
  "send-icrq",
  "send-icrp",
  "send-iccn",
  "send-ocrq",
  "send-ocrp",
  "send-occn",
  "send-sli",
  "send-cdn",
  "answer",
  "bring-up",
  "report-up",
  "note",
  "cleanup",
];

function walk(
  kind: SessionKind,
  events: SessionEvent[],
): { states: SessionState[]; actions: SessionAction[] } {
  let state: SessionState = "idle";
  const states: SessionState[] = [];
  const actions: SessionAction[] = [];
  for (const e of events) {
    const row = sessionTransition(kind, state, e);
    assert.ok(row, `${kind}: no rule for ${e} in ${state}`);
    state = row.to;
    states.push(state);
    actions.push(...row.actions);
  }
  return { states, actions };
}

/** States a kind's table mentions. */
function statesOf(kind: SessionKind): Set<SessionState> {
  return new Set(SESSION_FSM[kind].flatMap((r) => [r.from, r.to]));
}

Deno.test("session tables: rows use known names, one row per pair, dead is final", () => {
  for (const kind of SESSION_KINDS) {
    const seen = new Set<string>();
    for (const r of SESSION_FSM[kind]) {
      assert.equal(r.kind, kind);
      assert.ok(SESSION_STATES.includes(r.from) && SESSION_STATES.includes(r.to));
      assert.ok(SESSION_EVENTS.includes(r.on), r.on);
      for (const a of r.actions) assert.ok(ACTIONS.includes(a), a);
      assert.match(r.rfc, /RFC (2661|3931)/);
      const key = `${r.from} ${r.on}`;
      assert.ok(!seen.has(key), `${kind}: duplicate ${key}`);
      seen.add(key);
      assert.equal(sessionTransition(kind, r.from, r.on), r);
      // A session that sends a CDN always cleans up right after.
      if (r.actions.includes("send-cdn")) {
        assert.equal(r.actions.at(-1), "cleanup", `${kind} ${key}`);
        assert.equal(r.to, "dead");
      }
    }
    assert.equal(SESSION_FSM[kind].filter((r) => r.from === "dead").length, 0);
  }
});

Deno.test("session tables: in each kind every state is reachable and can reach dead", () => {
  for (const kind of SESSION_KINDS) {
    const rows = SESSION_FSM[kind];
    const reach = (from: SessionState, forward: boolean): Set<SessionState> => {
      const seen = new Set<SessionState>([from]);
      for (let grew = true; grew;) {
        grew = false;
        for (const r of rows) {
          const [a, b] = forward ? [r.from, r.to] : [r.to, r.from];
          if (seen.has(a) && !seen.has(b)) {
            seen.add(b);
            grew = true;
          }
        }
      }
      return seen;
    };
    const all = [...statesOf(kind)].sort();
    assert.deepEqual([...reach("idle", true)].sort(), all, kind);
    assert.deepEqual([...reach("dead", false)].sort(), all, kind);
  }
});

Deno.test("session tables: the four establishment paths", () => {
  const icSender = walk("ic-sender", ["open", "tunnel-open", "recv-icrp", "up-ok"]);
  assert.deepEqual(icSender.states, ["wait-tunnel", "wait-reply", "wait-up", "established"]);
  assert.deepEqual(icSender.actions, ["send-icrq", "bring-up", "send-iccn", "report-up"]);

  const icRecipient = walk("ic-recipient", ["recv-icrq", "recv-iccn", "up-ok"]);
  assert.deepEqual(icRecipient.states, ["wait-connect", "wait-up", "established"]);
  assert.deepEqual(icRecipient.actions, ["send-icrp", "bring-up", "report-up"]);

  const ocSender = walk("oc-sender", ["open", "tunnel-open", "recv-ocrp", "recv-occn", "up-ok"]);
  assert.deepEqual(ocSender.states, [
    "wait-tunnel",
    "wait-reply",
    "wait-connect",
    "wait-up",
    "established",
  ]);
  assert.deepEqual(ocSender.actions, ["send-ocrq", "bring-up", "report-up"]);

  const ocRecipient = walk("oc-recipient", ["recv-ocrq", "answered", "up-ok"]);
  assert.deepEqual(ocRecipient.states, ["wait-cs-answer", "wait-up", "established"]);
  assert.deepEqual(ocRecipient.actions, [
    "send-ocrp",
    "answer",
    "bring-up",
    "send-occn",
    "report-up",
  ]);
});

Deno.test("session tables: CDN from the peer cleans up without an answer, everywhere", () => {
  for (const kind of SESSION_KINDS) {
    for (const state of statesOf(kind)) {
      const row = sessionTransition(kind, state, "recv-cdn");
      // A sender's idle session exists only until "open"; wait-tunnel sent nothing yet.
      const senderIdle = state === "idle" && kind.endsWith("sender");
      if (state === "dead" || state === "wait-tunnel" || state === "wait-up" || senderIdle) {
        assert.equal(row, undefined, `${kind} ${state}`);
        continue;
      }
      assert.deepEqual(row?.actions, ["cleanup"], `${kind} ${state}`);
      assert.equal(row?.to, "dead");
    }
  }
});

Deno.test("session tables: close, unknown AVP and timeouts send a CDN; tunnel-down does not", () => {
  for (const kind of SESSION_KINDS) {
    for (const state of statesOf(kind)) {
      if (state === "idle" || state === "dead" || state === "wait-up") continue;
      const close = sessionTransition(kind, state, "close");
      const down = sessionTransition(kind, state, "tunnel-down");
      assert.deepEqual(down?.actions, ["cleanup"], `${kind} ${state} tunnel-down`);
      if (state === "wait-tunnel") {
        // Nothing was sent yet: nothing to disconnect.
        assert.deepEqual(close?.actions, ["cleanup"]);
        continue;
      }
      assert.deepEqual(close?.actions, ["send-cdn", "cleanup"], `${kind} ${state} close`);
      assert.deepEqual(sessionTransition(kind, state, "unknown-avp")?.actions, [
        "send-cdn",
        "cleanup",
      ]);
      if (state !== "established") {
        assert.deepEqual(sessionTransition(kind, state, "timeout")?.actions, [
          "send-cdn",
          "cleanup",
        ]);
      }
    }
    assert.deepEqual(sessionTransition(kind, "wait-up", "up-failed")?.actions, [
      "send-cdn",
      "cleanup",
    ]);
  }
});

Deno.test("session tables: messages out of place get a CDN (RFC 2661 §7.4, §7.5)", () => {
  const cases: [SessionKind, SessionState, SessionEvent][] = [
    ["ic-sender", "wait-reply", "recv-icrq"],
    ["ic-sender", "wait-reply", "recv-iccn"],
    ["ic-sender", "established", "recv-icrp"],
    ["ic-recipient", "wait-connect", "recv-icrq"],
    ["ic-recipient", "wait-connect", "recv-icrp"],
    ["ic-recipient", "established", "recv-iccn"],
    ["oc-sender", "wait-reply", "recv-occn"],
    ["oc-sender", "wait-connect", "recv-ocrp"],
    ["oc-recipient", "wait-cs-answer", "recv-ocrq"],
    ["oc-recipient", "established", "recv-occn"],
  ];
  for (const [kind, state, event] of cases) {
    assert.deepEqual(
      sessionTransition(kind, state, event)?.actions,
      ["send-cdn", "cleanup"],
      `${kind} ${state} ${event}`,
    );
  }
  // Bad requests and replies are refused with a CDN.
  assert.deepEqual(walk("ic-recipient", ["recv-icrq-bad"]).actions, ["send-cdn", "cleanup"]);
  assert.deepEqual(walk("oc-recipient", ["recv-ocrq-bad"]).actions, ["send-cdn", "cleanup"]);
  assert.deepEqual(
    walk("ic-sender", ["open", "tunnel-open", "recv-icrp-bad"]).actions,
    ["send-icrq", "send-cdn", "cleanup"],
  );
});

Deno.test("session tables: stray messages (no such session) and WEN/SLI", () => {
  for (const kind of ["ic-recipient", "oc-recipient"] as const) {
    for (const event of ["recv-icrp", "recv-ocrp"] as const) {
      assert.deepEqual(sessionTransition(kind, "idle", event)?.actions, ["send-cdn", "cleanup"]);
    }
    for (const event of ["recv-iccn", "recv-occn", "recv-cdn", "recv-wen", "recv-sli"] as const) {
      assert.deepEqual(sessionTransition(kind, "idle", event)?.actions, ["cleanup"], event);
    }
  }
  for (const kind of SESSION_KINDS) {
    for (const event of ["recv-wen", "recv-sli"] as const) {
      const row = sessionTransition(kind, "established", event);
      assert.deepEqual(row?.actions, ["note"]);
      assert.equal(row?.to, "established");
    }
    assert.deepEqual(sessionTransition(kind, "established", "circuit-status")?.actions, [
      "send-sli",
    ]);
  }
  // Losing the session tie breaker drops our own request quietly.
  assert.deepEqual(sessionTransition("ic-sender", "wait-reply", "tie-lose")?.actions, ["cleanup"]);
});
