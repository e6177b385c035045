/**
 * The control connection (tunnel) state machine, as a table (RFC 2661 §7.2, RFC 3931 §7.2).
 *
 * The table is data: each row says, for a state and an event, which actions run and which state
 * follows. {@linkcode ControlConnection} (control/connection.ts) classifies what happens (a
 * message received and whether it is acceptable, a local request, a timer, the transport's end)
 * into an event, looks the row up with {@linkcode tunnelTransition} and runs the actions. An
 * action may produce a follow-up event (the kernel tunnel came up or failed), looked up in the new
 * state. An event with no row is ignored (and logged) by the engine.
 *
 * States, as in the RFCs, plus two of ours:
 * - `idle`: nothing sent yet (an initiator before `open`, a responder before the SCCRQ);
 * - `wait-ctl-reply`: initiator, SCCRQ sent;
 * - `wait-ctl-conn`: responder, SCCRP sent;
 * - `wait-ctl-ack` (ours): initiator, SCCCN sent; the kernel tunnel is created once the peer has
 *   acknowledged it, so that a peer refusing our SCCCN never sees a kernel tunnel appear;
 * - `wait-up` (ours): the kernel tunnel is being created (the `tunnelUp` hook runs);
 * - `established`;
 * - `closing`: a StopCCN was sent or received; the transport keeps acknowledging and
 *   retransmitting for the hold time (RFC 2661 §5.7: 31 s) while the kernel state is gone;
 * - `dead`: over.
 *
 * Tie breaking (RFC 2661 §4.4.3, RFC 3931 §5.4.3): an SCCRQ from the peer that crosses ours is not
 * part of our control connection; the engine compares Tie Breaker values (lower wins) and feeds
 * `tie-win` (discard theirs), `tie-lose` (drop ours and answer theirs as responder) or `tie-again`
 * (equal values: start again with a new value).
 *
 * @example Usage
 * ```ts
 * import { tunnelTransition } from "./tunnel_fsm.ts";
 * const row = tunnelTransition("wait-ctl-reply", "recv-sccrp");
 * console.log(row?.actions, row?.to); // [ "send-scccn" ] wait-ctl-ack
 * ```
 *
 * @module
 */

/**
 * Tunnel states (see the module documentation).
 *
 * @example Usage
 * ```ts
 * import type { TunnelState } from "./tunnel_fsm.ts";
 * const s: TunnelState = "wait-ctl-reply";
 * console.log(s); // wait-ctl-reply
 * ```
 */
export type TunnelState =
  | "idle"
  | "wait-ctl-reply"
  | "wait-ctl-conn"
  | "wait-ctl-ack"
  | "wait-up"
  | "established"
  | "closing"
  | "dead";

/**
 * Every tunnel state, in lifecycle order.
 *
 * @example Usage
 * ```ts
 * import { TUNNEL_STATES } from "./tunnel_fsm.ts";
 * console.log(TUNNEL_STATES.length); // 8
 * ```
 */
export const TUNNEL_STATES: readonly TunnelState[] = [
  "idle",
  "wait-ctl-reply",
  "wait-ctl-conn",
  "wait-ctl-ack",
  "wait-up",
  "established",
  "closing",
  "dead",
];

/**
 * Tunnel events.
 *
 * - `open`: local request to open (initiator);
 * - `close`: local request to close (administrative);
 * - `recv-X` / `recv-X-bad`: message X received, acceptable / not acceptable (authentication,
 *   missing or invalid AVPs, unsupported version, limits);
 * - `recv-session`: any session message (ICRQ ... SLI);
 * - `tie-win`, `tie-lose`, `tie-again`: a crossing SCCRQ and the tie breaker's verdict;
 * - `scccn-acked`: the peer acknowledged our SCCCN;
 * - `up-ok`, `up-failed`: outcome of creating the kernel tunnel;
 * - `unknown-avp`: a tunnel message with an unknown mandatory AVP, or an unknown message type
 *   with the M bit set (RFC 2661 §4.1, RFC 3931 §5.2);
 * - `timeout`: establishment took too long;
 * - `transport-failed`: a message went unacknowledged (peer silent);
 * - `transport-ended`: the transport ended (StopCCN hold over, or closed locally).
 *
 * @example Usage
 * ```ts
 * import type { TunnelEvent } from "./tunnel_fsm.ts";
 * const e: TunnelEvent = "recv-stopccn";
 * console.log(e); // recv-stopccn
 * ```
 */
export type TunnelEvent =
  | "open"
  | "close"
  | "recv-sccrq"
  | "recv-sccrq-bad"
  | "recv-sccrp"
  | "recv-sccrp-bad"
  | "recv-scccn"
  | "recv-scccn-bad"
  | "recv-stopccn"
  | "recv-hello"
  | "recv-session"
  | "tie-win"
  | "tie-lose"
  | "tie-again"
  | "scccn-acked"
  | "up-ok"
  | "up-failed"
  | "unknown-avp"
  | "timeout"
  | "transport-failed"
  | "transport-ended";

/**
 * Every tunnel event.
 *
 * @example Usage
 * ```ts
 * import { TUNNEL_EVENTS } from "./tunnel_fsm.ts";
 * console.log(TUNNEL_EVENTS.includes("recv-sccrq")); // true
 * ```
 */
export const TUNNEL_EVENTS: readonly TunnelEvent[] = [
  "open",
  "close",
  "recv-sccrq",
  "recv-sccrq-bad",
  "recv-sccrp",
  "recv-sccrp-bad",
  "recv-scccn",
  "recv-scccn-bad",
  "recv-stopccn",
  "recv-hello",
  "recv-session",
  "tie-win",
  "tie-lose",
  "tie-again",
  "scccn-acked",
  "up-ok",
  "up-failed",
  "unknown-avp",
  "timeout",
  "transport-failed",
  "transport-ended",
];

/**
 * Tunnel actions, run in row order.
 *
 * - `send-sccrq`, `send-sccrp`, `send-scccn`: send the message;
 * - `send-stopccn`: send a StopCCN with the result the event carries (which starts the hold);
 * - `bring-up`: create the kernel tunnel (`tunnelUp` hook); follow-up `up-ok` or `up-failed`;
 * - `report-up`: announce the tunnel (event, `established` promise);
 * - `open-sessions`: tell sessions waiting for the tunnel, and replay deferred session messages;
 * - `defer`: keep a session message until the tunnel is up;
 * - `dispatch`: hand a session message to its session's state machine;
 * - `discard`: drop the message (the transport has acknowledged it);
 * - `restart-as-responder`: drop our SCCRQ's transport and answer the peer's SCCRQ instead;
 * - `restart`: drop our SCCRQ's transport and send a new SCCRQ with a new tie breaker;
 * - `bring-down`: sessions down, then the kernel tunnel (`sessionDown`, `tunnelDown` hooks);
 * - `finish`: release IDs and timers, resolve `done`.
 *
 * @example Usage
 * ```ts
 * import type { TunnelAction } from "./tunnel_fsm.ts";
 * const a: TunnelAction = "send-stopccn";
 * console.log(a); // send-stopccn
 * ```
 */
export type TunnelAction =
  | "send-sccrq"
  | "send-sccrp"
  | "send-scccn"
  | "send-stopccn"
  | "bring-up"
  | "report-up"
  | "open-sessions"
  | "defer"
  | "dispatch"
  | "discard"
  | "restart-as-responder"
  | "restart"
  | "bring-down"
  | "finish";

/**
 * One row of the tunnel table.
 *
 * @example Usage
 * ```ts
 * import type { TunnelTransition } from "./tunnel_fsm.ts";
 * const row: TunnelTransition = {
 *   from: "idle", on: "open", actions: ["send-sccrq"], to: "wait-ctl-reply", rfc: "RFC 2661 §7.2",
 * };
 * console.log(row.to); // wait-ctl-reply
 * ```
 */
export interface TunnelTransition {
  /** State the row applies in. */
  readonly from: TunnelState;
  /** Event the row applies to. */
  readonly on: TunnelEvent;
  /** Actions, in order. */
  readonly actions: readonly TunnelAction[];
  /** Next state. */
  readonly to: TunnelState;
  /** Where the rule comes from. */
  readonly rfc: string;
}

type Rows = [
  from: TunnelState | readonly TunnelState[],
  on: TunnelEvent | readonly TunnelEvent[],
  actions: readonly TunnelAction[],
  to: TunnelState | "same",
  rfc: string,
][];

const CCS = "RFC 2661 §7.2, RFC 3931 §7.2";
const TIE = "RFC 2661 §4.4.3, RFC 3931 §5.4.3";
const STOP = "RFC 2661 §5.7, RFC 3931 §6.4";
const ALIVE: readonly TunnelState[] = [
  "idle",
  "wait-ctl-reply",
  "wait-ctl-conn",
  "wait-ctl-ack",
  "wait-up",
  "established",
];
const SETUP: readonly TunnelState[] = ["wait-ctl-reply", "wait-ctl-conn", "wait-ctl-ack"];
const STOP_AND_DOWN: readonly TunnelAction[] = ["send-stopccn", "bring-down"];

const ROWS: Rows = [
  // idle: an initiator opens; a responder answers the SCCRQ it was created for.
  ["idle", "open", ["send-sccrq"], "wait-ctl-reply", CCS],
  ["idle", "recv-sccrq", ["send-sccrp"], "wait-ctl-conn", CCS],
  ["idle", "recv-sccrq-bad", ["send-stopccn"], "closing", CCS],
  [
    "idle",
    ["recv-sccrp", "recv-sccrp-bad", "recv-scccn", "recv-scccn-bad", "recv-session"],
    ["send-stopccn"],
    "closing",
    CCS,
  ],
  ["idle", "close", ["finish"], "dead", CCS],
  // wait-ctl-reply: our SCCRQ is out.
  ["wait-ctl-reply", "recv-sccrp", ["send-scccn"], "wait-ctl-ack", CCS],
  ["wait-ctl-reply", "recv-sccrp-bad", STOP_AND_DOWN, "closing", CCS],
  ["wait-ctl-reply", "tie-win", ["discard"], "same", TIE],
  ["wait-ctl-reply", "tie-lose", ["restart-as-responder"], "idle", TIE],
  ["wait-ctl-reply", "tie-again", ["restart"], "same", TIE],
  [
    "wait-ctl-reply",
    ["recv-sccrq", "recv-sccrq-bad", "recv-scccn", "recv-scccn-bad", "recv-session"],
    STOP_AND_DOWN,
    "closing",
    CCS,
  ],
  // wait-ctl-conn: our SCCRP is out.
  ["wait-ctl-conn", "recv-scccn", ["bring-up"], "wait-up", CCS],
  ["wait-ctl-conn", "recv-scccn-bad", STOP_AND_DOWN, "closing", CCS],
  [
    "wait-ctl-conn",
    ["recv-sccrq", "recv-sccrq-bad", "recv-sccrp", "recv-sccrp-bad", "recv-session"],
    STOP_AND_DOWN,
    "closing",
    CCS,
  ],
  // wait-ctl-ack: our SCCCN is out; the responder may already send session messages.
  ["wait-ctl-ack", "scccn-acked", ["bring-up"], "wait-up", CCS],
  ["wait-ctl-ack", "recv-session", ["defer"], "same", CCS],
  [
    "wait-ctl-ack",
    ["recv-sccrq", "recv-sccrq-bad", "recv-sccrp", "recv-sccrp-bad", "recv-scccn"],
    STOP_AND_DOWN,
    "closing",
    CCS,
  ],
  // wait-up: the kernel tunnel is being created.
  ["wait-up", "up-ok", ["report-up", "open-sessions"], "established", CCS],
  ["wait-up", "up-failed", STOP_AND_DOWN, "closing", CCS],
  // established.
  ["established", "recv-session", ["dispatch"], "same", CCS],
  [
    "established",
    ["recv-sccrq", "recv-sccrq-bad", "recv-sccrp", "recv-sccrp-bad", "recv-scccn"],
    STOP_AND_DOWN,
    "closing",
    CCS,
  ],
  // Any live state: HELLO needs nothing but the transport's acknowledgement.
  [ALIVE, "recv-hello", ["discard"], "same", "RFC 2661 §6.5, RFC 3931 §6.5"],
  // Teardown from any live state.
  [SETUP, ["close", "unknown-avp", "timeout"], STOP_AND_DOWN, "closing", CCS],
  [["wait-up", "established"], ["close", "unknown-avp"], STOP_AND_DOWN, "closing", CCS],
  ["idle", "unknown-avp", ["send-stopccn"], "closing", CCS],
  // A responder whose SCCRQ never came through in sequence gives up when setup time runs out.
  ["idle", "timeout", ["finish"], "dead", CCS],
  [ALIVE.filter((s) => s !== "idle"), "recv-stopccn", ["bring-down"], "closing", STOP],
  ["idle", "recv-stopccn", [], "closing", STOP],
  [ALIVE, ["transport-failed", "transport-ended"], ["bring-down", "finish"], "dead", STOP],
  // closing: the hold time runs; everything the peer sends is only acknowledged.
  [
    "closing",
    [
      "recv-sccrq",
      "recv-sccrq-bad",
      "recv-sccrp",
      "recv-sccrp-bad",
      "recv-scccn",
      "recv-scccn-bad",
      "recv-stopccn",
      "recv-hello",
      "recv-session",
      "close",
      "unknown-avp",
      "timeout",
    ],
    ["discard"],
    "same",
    STOP,
  ],
  ["closing", ["transport-failed", "transport-ended"], ["finish"], "dead", STOP],
];

function expand(rows: Rows): TunnelTransition[] {
  const out: TunnelTransition[] = [];
  const seen = new Set<string>();
  for (const [from, on, actions, to, rfc] of rows) {
    for (const f of typeof from === "string" ? [from] : from) {
      for (const e of typeof on === "string" ? [on] : on) {
        const key = `${f} ${e}`;
        if (seen.has(key)) throw new Error(`Cannot build tunnel table: two rules for ${key}`);
        seen.add(key);
        out.push(Object.freeze({ from: f, on: e, actions, to: to === "same" ? f : to, rfc }));
      }
    }
  }
  return out;
}

/**
 * The tunnel state table, one row per (state, event) pair that has a rule.
 *
 * @example Usage
 * ```ts
 * import { TUNNEL_FSM } from "./tunnel_fsm.ts";
 * const fromIdle = TUNNEL_FSM.filter((r) => r.from === "idle").map((r) => r.on);
 * console.log(fromIdle.includes("open")); // true
 * ```
 */
export const TUNNEL_FSM: readonly TunnelTransition[] = Object.freeze(expand(ROWS));

const INDEX: ReadonlyMap<string, TunnelTransition> = new Map(
  TUNNEL_FSM.map((r) => [`${r.from} ${r.on}`, r]),
);

/**
 * The row for a state and an event, or `undefined` if the event is ignored in that state.
 *
 * @param state The current state.
 * @param event The event.
 * @returns The row.
 *
 * @example Usage
 * ```ts
 * import { tunnelTransition } from "./tunnel_fsm.ts";
 * console.log(tunnelTransition("established", "recv-stopccn")?.to); // "closing"
 * console.log(tunnelTransition("dead", "close")); // undefined
 * ```
 */
export function tunnelTransition(
  state: TunnelState,
  event: TunnelEvent,
): TunnelTransition | undefined {
  return INDEX.get(`${state} ${event}`);
}
