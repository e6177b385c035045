/**
 * The tunnel state table (control/tunnel_fsm.ts), walked: every row names known states, events
 * and actions; every state is reachable and can reach `dead`; the establishment paths of both
 * roles; the RFC's treatment of unexpected messages; the StopCCN hold.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  TUNNEL_EVENTS,
  TUNNEL_FSM,
  TUNNEL_STATES,
  type TunnelAction,
  type TunnelEvent,
  type TunnelState,
  tunnelTransition,
} from "../../control/tunnel_fsm.ts";

const ACTIONS: readonly TunnelAction[] = [
  "send-sccrq",
  "send-sccrp",
  "send-scccn",
  "send-stopccn",
  "bring-up",
  "report-up",
  "open-sessions",
  "defer",
  "dispatch",
  "discard",
  "restart-as-responder",
  "restart",
  "bring-down",
  "finish",
];

/** Walk events from a state; returns the states visited and the actions run. */
function walk(
  start: TunnelState,
  events: TunnelEvent[],
): { states: TunnelState[]; actions: TunnelAction[][] } {
  let state = start;
  const states: TunnelState[] = [];
  const actions: TunnelAction[][] = [];
  for (const e of events) {
    const row = tunnelTransition(state, e);
    assert.ok(row, `no rule for ${e} in ${state}`);
    state = row.to;
    states.push(state);
    actions.push([...row.actions]);
  }
  return { states, actions };
}

Deno.test("tunnel table: rows use known states, events and actions, one row per pair", () => {
  const seen = new Set<string>();
  for (const r of TUNNEL_FSM) {
    assert.ok(TUNNEL_STATES.includes(r.from), r.from);
    assert.ok(TUNNEL_STATES.includes(r.to), r.to);
    assert.ok(TUNNEL_EVENTS.includes(r.on), r.on);
    for (const a of r.actions) assert.ok(ACTIONS.includes(a), a);
    assert.match(r.rfc, /RFC (2661|3931)/);
    const key = `${r.from} ${r.on}`;
    assert.ok(!seen.has(key), `duplicate ${key}`);
    seen.add(key);
    assert.equal(tunnelTransition(r.from, r.on), r);
  }
  assert.equal(TUNNEL_FSM.filter((r) => r.from === "dead").length, 0, "dead is final");
});

Deno.test("tunnel table: every state is reachable from idle and can reach dead", () => {
  const reach = (from: TunnelState, forward: boolean): Set<TunnelState> => {
    const seen = new Set<TunnelState>([from]);
    for (let grew = true; grew;) {
      grew = false;
      for (const r of TUNNEL_FSM) {
        const [a, b] = forward ? [r.from, r.to] : [r.to, r.from];
        if (seen.has(a) && !seen.has(b)) {
          seen.add(b);
          grew = true;
        }
      }
    }
    return seen;
  };
  assert.deepEqual([...reach("idle", true)].sort(), [...TUNNEL_STATES].sort());
  assert.deepEqual([...reach("dead", false)].sort(), [...TUNNEL_STATES].sort());
});

Deno.test("tunnel table: initiator establishment, SCCRQ → SCCRP → SCCCN (acknowledged) → up", () => {
  const { states, actions } = walk("idle", ["open", "recv-sccrp", "scccn-acked", "up-ok"]);
  assert.deepEqual(states, ["wait-ctl-reply", "wait-ctl-ack", "wait-up", "established"]);
  assert.deepEqual(actions, [
    ["send-sccrq"],
    ["send-scccn"],
    ["bring-up"],
    ["report-up", "open-sessions"],
  ]);
  // Session messages that overtake the SCCCN's acknowledgement wait for the tunnel.
  assert.deepEqual(tunnelTransition("wait-ctl-ack", "recv-session")?.actions, ["defer"]);
  assert.deepEqual(tunnelTransition("established", "recv-session")?.actions, ["dispatch"]);
});

Deno.test("tunnel table: responder establishment, SCCRQ → SCCRP, SCCCN → up", () => {
  const { states, actions } = walk("idle", ["recv-sccrq", "recv-scccn", "up-ok"]);
  assert.deepEqual(states, ["wait-ctl-conn", "wait-up", "established"]);
  assert.deepEqual(actions, [["send-sccrp"], ["bring-up"], ["report-up", "open-sessions"]]);
});

Deno.test("tunnel table: unacceptable or unexpected messages get a StopCCN (RFC 2661 §7.2)", () => {
  const cases: [TunnelState, TunnelEvent][] = [
    ["idle", "recv-sccrq-bad"],
    ["idle", "recv-sccrp"],
    ["idle", "recv-scccn"],
    ["wait-ctl-reply", "recv-sccrp-bad"],
    ["wait-ctl-reply", "recv-scccn"],
    ["wait-ctl-conn", "recv-scccn-bad"],
    ["wait-ctl-conn", "recv-sccrq"],
    ["wait-ctl-conn", "recv-sccrp"],
    ["wait-ctl-ack", "recv-sccrp"],
    ["established", "recv-sccrq"],
    ["established", "recv-sccrp"],
    ["established", "recv-scccn"],
    ["wait-up", "up-failed"],
  ];
  for (const [state, event] of cases) {
    const row = tunnelTransition(state, event);
    assert.ok(row, `${state} ${event}`);
    assert.equal(row.actions[0], "send-stopccn", `${state} ${event}`);
    assert.equal(row.to, "closing", `${state} ${event}`);
  }
  for (const state of ["wait-ctl-reply", "wait-ctl-conn", "wait-ctl-ack", "established"] as const) {
    assert.deepEqual(tunnelTransition(state, "unknown-avp")?.actions, [
      "send-stopccn",
      "bring-down",
    ]);
    assert.deepEqual(tunnelTransition(state, "close")?.actions, ["send-stopccn", "bring-down"]);
  }
  for (const state of ["wait-ctl-reply", "wait-ctl-conn", "wait-ctl-ack"] as const) {
    assert.equal(tunnelTransition(state, "timeout")?.to, "closing");
  }
  assert.equal(tunnelTransition("established", "timeout"), undefined);
});

Deno.test("tunnel table: a StopCCN received tears down without an answer; the hold ends in dead", () => {
  for (const state of ["wait-ctl-reply", "wait-ctl-conn", "wait-ctl-ack", "established"] as const) {
    const row = tunnelTransition(state, "recv-stopccn");
    assert.deepEqual(row?.actions, ["bring-down"], state);
    assert.equal(row?.to, "closing");
  }
  // closing only acknowledges, until the transport's hold time is over.
  for (const event of TUNNEL_EVENTS) {
    const row = tunnelTransition("closing", event);
    if (event === "transport-ended" || event === "transport-failed") {
      assert.deepEqual(row?.actions, ["finish"]);
      assert.equal(row?.to, "dead");
    } else if (row !== undefined) {
      assert.deepEqual(row.actions, ["discard"], event);
      assert.equal(row.to, "closing");
    }
  }
});

Deno.test("tunnel table: a failed or ended transport brings every live state down to dead", () => {
  for (const state of TUNNEL_STATES.filter((s) => s !== "closing" && s !== "dead")) {
    for (const event of ["transport-failed", "transport-ended"] as const) {
      const row = tunnelTransition(state, event);
      assert.deepEqual(row?.actions, ["bring-down", "finish"], `${state} ${event}`);
      assert.equal(row?.to, "dead");
    }
  }
});

Deno.test("tunnel table: tie breaker outcomes while our SCCRQ is out (RFC 3931 §5.4.3)", () => {
  assert.deepEqual(walk("wait-ctl-reply", ["tie-win"]).states, ["wait-ctl-reply"]);
  assert.deepEqual(tunnelTransition("wait-ctl-reply", "tie-win")?.actions, ["discard"]);
  const lose = walk("wait-ctl-reply", ["tie-lose", "recv-sccrq", "recv-scccn", "up-ok"]);
  assert.deepEqual(lose.states, ["idle", "wait-ctl-conn", "wait-up", "established"]);
  assert.deepEqual(lose.actions[0], ["restart-as-responder"]);
  assert.deepEqual(tunnelTransition("wait-ctl-reply", "tie-again")?.actions, ["restart"]);
  for (const state of ["idle", "established", "closing"] as const) {
    assert.equal(tunnelTransition(state, "tie-lose"), undefined, state);
  }
});
