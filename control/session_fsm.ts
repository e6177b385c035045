/**
 * The session (call) state machines, as tables (RFC 2661 §7.4 and §7.5, RFC 3931 §7.3 and §7.4).
 *
 * A session is one of four kinds, each with its own table:
 * - `ic-sender`: we send the ICRQ (RFC 2661 §7.4.1 "LAC incoming", RFC 3931 §7.3.1 "ICRQ
 *   sender"): open → wait for the tunnel → ICRQ → wait-reply → ICRP → kernel session → ICCN →
 *   established;
 * - `ic-recipient`: we receive the ICRQ (RFC 2661 §7.4.2 "LNS incoming", RFC 3931 §7.3.2): ICRQ →
 *   ICRP → wait-connect → ICCN → kernel session → established;
 * - `oc-sender`: we send the OCRQ (RFC 2661 §7.5.2 "LNS outgoing", RFC 3931 §7.4.1): open →
 *   wait for the tunnel → OCRQ → wait-reply → OCRP → wait-connect → OCCN → kernel session →
 *   established;
 * - `oc-recipient`: we receive the OCRQ (RFC 2661 §7.5.1 "LAC outgoing", RFC 3931 §7.4.2): OCRQ
 *   → OCRP → wait-cs-answer → (our "call" is answered at once: there is no bearer) → kernel
 *   session → OCCN → established.
 *
 * In every kind a CDN from the peer cleans up; a local close, an unknown mandatory AVP
 * (RFC 3931 §5.2) or a set-up timeout sends a CDN first; a message that makes no sense in the
 * state (say an ICCN while waiting for an ICRP) gets a CDN and a clean up, as the RFCs' tables
 * say. WEN and SLI are accepted once established (`note`), and SLI is sent when the local
 * circuit status changes (L2TPv3). Session messages for no known session are run through the
 * `idle` rows of the recipient tables: an ICRP or OCRP gets a CDN, anything else is dropped.
 *
 * `wait-up` (ours) is the short state in which the kernel session is being created (the
 * `sessionUp` hook); a failure there sends a CDN.
 *
 * @example Usage
 * ```ts
 * import { sessionTransition } from "./session_fsm.ts";
 * const row = sessionTransition("ic-recipient", "idle", "recv-icrq");
 * console.log(row?.actions, row?.to); // [ "send-icrp" ] wait-connect
 * ```
 *
 * @module
 */

/**
 * The four kinds of session (see the module documentation).
 *
 * @example Usage
 * ```ts
 * import type { SessionKind } from "./session_fsm.ts";
 * const k: SessionKind = "ic-sender";
 * console.log(k); // ic-sender
 * ```
 */
export type SessionKind = "ic-sender" | "ic-recipient" | "oc-sender" | "oc-recipient";

/**
 * Every session kind.
 *
 * @example Usage
 * ```ts
 * import { SESSION_KINDS } from "./session_fsm.ts";
 * console.log(SESSION_KINDS.length); // 4
 * ```
 */
export const SESSION_KINDS: readonly SessionKind[] = [
  "ic-sender",
  "ic-recipient",
  "oc-sender",
  "oc-recipient",
];

/**
 * Session states.
 *
 * @example Usage
 * ```ts
 * import type { SessionState } from "./session_fsm.ts";
 * const s: SessionState = "wait-connect";
 * console.log(s); // wait-connect
 * ```
 */
export type SessionState =
  | "idle"
  | "wait-tunnel"
  | "wait-reply"
  | "wait-connect"
  | "wait-cs-answer"
  | "wait-up"
  | "established"
  | "dead";

/**
 * Every session state.
 *
 * @example Usage
 * ```ts
 * import { SESSION_STATES } from "./session_fsm.ts";
 * console.log(SESSION_STATES.includes("wait-cs-answer")); // true
 * ```
 */
export const SESSION_STATES: readonly SessionState[] = [
  "idle",
  "wait-tunnel",
  "wait-reply",
  "wait-connect",
  "wait-cs-answer",
  "wait-up",
  "established",
  "dead",
];

/**
 * Session events.
 *
 * - `open`: local request (sender kinds); `tunnel-open`: the tunnel is established;
 * - `close`: local request to disconnect;
 * - `recv-X` / `recv-X-bad`: message X for this session, acceptable / not acceptable;
 * - `answered`: the OCRQ recipient's call is connected (immediately: there is no bearer);
 * - `up-ok`, `up-failed`: outcome of creating the kernel session;
 * - `unknown-avp`: a message for this session with an unknown mandatory AVP;
 * - `tie-lose`: our ICRQ/OCRQ lost the session tie breaker to the peer's (RFC 3931 §5.4.4);
 * - `circuit-status`: the local circuit changed (L2TPv3: send SLI);
 * - `timeout`: establishment took too long;
 * - `tunnel-down`: the control connection is going away.
 *
 * @example Usage
 * ```ts
 * import type { SessionEvent } from "./session_fsm.ts";
 * const e: SessionEvent = "recv-cdn";
 * console.log(e); // recv-cdn
 * ```
 */
export type SessionEvent =
  | "open"
  | "tunnel-open"
  | "close"
  | "recv-icrq"
  | "recv-icrq-bad"
  | "recv-icrp"
  | "recv-icrp-bad"
  | "recv-iccn"
  | "recv-iccn-bad"
  | "recv-ocrq"
  | "recv-ocrq-bad"
  | "recv-ocrp"
  | "recv-ocrp-bad"
  | "recv-occn"
  | "recv-occn-bad"
  | "recv-cdn"
  | "recv-wen"
  | "recv-sli"
  | "answered"
  | "up-ok"
  | "up-failed"
  | "unknown-avp"
  | "tie-lose"
  | "circuit-status"
  | "timeout"
  | "tunnel-down";

/**
 * Every session event.
 *
 * @example Usage
 * ```ts
 * import { SESSION_EVENTS } from "./session_fsm.ts";
 * console.log(SESSION_EVENTS.includes("recv-iccn")); // true
 * ```
 */
export const SESSION_EVENTS: readonly SessionEvent[] = [
  "open",
  "tunnel-open",
  "close",
  "recv-icrq",
  "recv-icrq-bad",
  "recv-icrp",
  "recv-icrp-bad",
  "recv-iccn",
  "recv-iccn-bad",
  "recv-ocrq",
  "recv-ocrq-bad",
  "recv-ocrp",
  "recv-ocrp-bad",
  "recv-occn",
  "recv-occn-bad",
  "recv-cdn",
  "recv-wen",
  "recv-sli",
  "answered",
  "up-ok",
  "up-failed",
  "unknown-avp",
  "tie-lose",
  "circuit-status",
  "timeout",
  "tunnel-down",
];

/**
 * Session actions, run in row order.
 *
 * - `send-icrq` ... `send-occn`, `send-sli`: send the message;
 * - `send-cdn`: send a CDN with the result the event carries;
 * - `answer`: the OCRQ recipient connects its (virtual) call: follow-up `answered`;
 * - `bring-up`: create the kernel session (`sessionUp` hook): follow-up `up-ok` / `up-failed`;
 * - `report-up`: announce the session (event, `established` promise);
 * - `note`: record what a WEN or SLI says (event only);
 * - `cleanup`: remove the kernel session if it was created (`sessionDown` hook), release the
 *   session ID, announce the end.
 *
 * @example Usage
 * ```ts
 * import type { SessionAction } from "./session_fsm.ts";
 * const a: SessionAction = "send-cdn";
 * console.log(a); // send-cdn
 * ```
 */
export type SessionAction =
  | "send-icrq"
  | "send-icrp"
  | "send-iccn"
  | "send-ocrq"
  | "send-ocrp"
  | "send-occn"
  | "send-sli"
  | "send-cdn"
  | "answer"
  | "bring-up"
  | "report-up"
  | "note"
  | "cleanup";

/**
 * One row of a session table.
 *
 * @example Usage
 * ```ts
 * import type { SessionTransition } from "./session_fsm.ts";
 * const row: SessionTransition = {
 *   kind: "ic-sender", from: "wait-reply", on: "recv-cdn", actions: ["cleanup"], to: "dead",
 *   rfc: "RFC 2661 §7.4.1",
 * };
 * console.log(row.to); // dead
 * ```
 */
export interface SessionTransition {
  /** Kind of session the row belongs to. */
  readonly kind: SessionKind;
  /** State the row applies in. */
  readonly from: SessionState;
  /** Event the row applies to. */
  readonly on: SessionEvent;
  /** Actions, in order. */
  readonly actions: readonly SessionAction[];
  /** Next state. */
  readonly to: SessionState;
  /** Where the rule comes from. */
  readonly rfc: string;
}

type Rows = [
  from: SessionState | readonly SessionState[],
  on: SessionEvent | readonly SessionEvent[],
  actions: readonly SessionAction[],
  to: SessionState | "same",
  rfc: string,
][];

const CDN_CLEANUP: readonly SessionAction[] = ["send-cdn", "cleanup"];
const IC_MSGS: readonly SessionEvent[] = ["recv-icrq", "recv-icrp", "recv-iccn"];
const OC_MSGS: readonly SessionEvent[] = ["recv-ocrq", "recv-ocrp", "recv-occn"];
const ALL_CALL_MSGS: readonly SessionEvent[] = [...IC_MSGS, ...OC_MSGS];

function except(events: readonly SessionEvent[], ...drop: SessionEvent[]): SessionEvent[] {
  return events.filter((e) => !drop.includes(e));
}

/** Rows shared by every kind: the established state, and teardown while setting up. */
function common(rfc: string, setup: readonly SessionState[]): Rows {
  return [
    ["established", "recv-cdn", ["cleanup"], "dead", rfc],
    ["established", ALL_CALL_MSGS, CDN_CLEANUP, "dead", rfc],
    ["established", ["close", "unknown-avp"], CDN_CLEANUP, "dead", rfc],
    [
      "established",
      ["recv-wen", "recv-sli"],
      ["note"],
      "same",
      "RFC 2661 §6.13-14, RFC 3931 §6.13-14",
    ],
    ["established", "circuit-status", ["send-sli"], "same", "RFC 3931 §6.14"],
    ["established", "tunnel-down", ["cleanup"], "dead", rfc],
    [setup, "recv-cdn", ["cleanup"], "dead", rfc],
    [setup, ["close", "unknown-avp", "timeout"], CDN_CLEANUP, "dead", rfc],
    [[...setup, "wait-up"], "tunnel-down", ["cleanup"], "dead", rfc],
    [setup, ["recv-wen", "recv-sli"], ["note"], "same", rfc],
    ["wait-up", "up-failed", CDN_CLEANUP, "dead", rfc],
  ];
}

/** Rows of a recipient's idle state: the call request, and stray messages (no such session). */
function recipientIdle(rfc: string): Rows {
  return [
    ["idle", ["recv-icrp", "recv-ocrp"], CDN_CLEANUP, "dead", rfc],
    [
      "idle",
      ["recv-iccn", "recv-occn", "recv-cdn", "recv-wen", "recv-sli"],
      ["cleanup"],
      "dead",
      rfc,
    ],
    ["idle", "unknown-avp", CDN_CLEANUP, "dead", rfc],
  ];
}

/** Rows of a sender's first states: open, and waiting for the tunnel. */
function senderStart(rfc: string, request: SessionAction): Rows {
  return [
    ["idle", "open", [], "wait-tunnel", rfc],
    ["wait-tunnel", "tunnel-open", [request], "wait-reply", rfc],
    ["wait-tunnel", ["close", "timeout", "tunnel-down"], ["cleanup"], "dead", rfc],
  ];
}

const IC_SENDER = "RFC 2661 §7.4.1, RFC 3931 §7.3.1";
const IC_RECIPIENT = "RFC 2661 §7.4.2, RFC 3931 §7.3.2";
const OC_SENDER = "RFC 2661 §7.5.2, RFC 3931 §7.4.1";
const OC_RECIPIENT = "RFC 2661 §7.5.1, RFC 3931 §7.4.2";
const SESSION_TIE = "RFC 3931 §5.4.4";

const TABLES: Record<SessionKind, Rows> = {
  "ic-sender": [
    ...senderStart(IC_SENDER, "send-icrq"),
    ["wait-reply", "recv-icrp", ["bring-up"], "wait-up", IC_SENDER],
    ["wait-reply", "recv-icrp-bad", CDN_CLEANUP, "dead", IC_SENDER],
    ["wait-reply", except(ALL_CALL_MSGS, "recv-icrp"), CDN_CLEANUP, "dead", IC_SENDER],
    ["wait-reply", "tie-lose", ["cleanup"], "dead", SESSION_TIE],
    ["wait-up", "up-ok", ["send-iccn", "report-up"], "established", IC_SENDER],
    ...common(IC_SENDER, ["wait-reply"]),
  ],
  "ic-recipient": [
    ["idle", "recv-icrq", ["send-icrp"], "wait-connect", IC_RECIPIENT],
    ["idle", "recv-icrq-bad", CDN_CLEANUP, "dead", IC_RECIPIENT],
    ...recipientIdle(IC_RECIPIENT),
    ["wait-connect", "recv-iccn", ["bring-up"], "wait-up", IC_RECIPIENT],
    ["wait-connect", "recv-iccn-bad", CDN_CLEANUP, "dead", IC_RECIPIENT],
    ["wait-connect", except(ALL_CALL_MSGS, "recv-iccn"), CDN_CLEANUP, "dead", IC_RECIPIENT],
    ["wait-up", "up-ok", ["report-up"], "established", IC_RECIPIENT],
    ...common(IC_RECIPIENT, ["wait-connect"]),
  ],
  "oc-sender": [
    ...senderStart(OC_SENDER, "send-ocrq"),
    ["wait-reply", "recv-ocrp", [], "wait-connect", OC_SENDER],
    ["wait-reply", "recv-ocrp-bad", CDN_CLEANUP, "dead", OC_SENDER],
    ["wait-reply", except(ALL_CALL_MSGS, "recv-ocrp"), CDN_CLEANUP, "dead", OC_SENDER],
    ["wait-reply", "tie-lose", ["cleanup"], "dead", SESSION_TIE],
    ["wait-connect", "recv-occn", ["bring-up"], "wait-up", OC_SENDER],
    ["wait-connect", "recv-occn-bad", CDN_CLEANUP, "dead", OC_SENDER],
    ["wait-connect", except(ALL_CALL_MSGS, "recv-occn"), CDN_CLEANUP, "dead", OC_SENDER],
    ["wait-up", "up-ok", ["report-up"], "established", OC_SENDER],
    ...common(OC_SENDER, ["wait-reply", "wait-connect"]),
  ],
  "oc-recipient": [
    ["idle", "recv-ocrq", ["send-ocrp", "answer"], "wait-cs-answer", OC_RECIPIENT],
    ["idle", "recv-ocrq-bad", CDN_CLEANUP, "dead", OC_RECIPIENT],
    ...recipientIdle(OC_RECIPIENT),
    ["wait-cs-answer", "answered", ["bring-up"], "wait-up", OC_RECIPIENT],
    ["wait-cs-answer", ALL_CALL_MSGS, CDN_CLEANUP, "dead", OC_RECIPIENT],
    ["wait-up", "up-ok", ["send-occn", "report-up"], "established", OC_RECIPIENT],
    ...common(OC_RECIPIENT, ["wait-cs-answer"]),
  ],
};

function expand(kind: SessionKind, rows: Rows): SessionTransition[] {
  const out: SessionTransition[] = [];
  const seen = new Set<string>();
  for (const [from, on, actions, to, rfc] of rows) {
    for (const f of typeof from === "string" ? [from] : from) {
      for (const e of typeof on === "string" ? [on] : on) {
        const key = `${f} ${e}`;
        if (seen.has(key)) throw new Error(`Cannot build ${kind} table: two rules for ${key}`);
        seen.add(key);
        out.push(
          Object.freeze({ kind, from: f, on: e, actions, to: to === "same" ? f : to, rfc }),
        );
      }
    }
  }
  return out;
}

/**
 * The session state tables, one per kind, one row per (state, event) pair that has a rule.
 *
 * @example Usage
 * ```ts
 * import { SESSION_FSM } from "./session_fsm.ts";
 * console.log(SESSION_FSM["oc-recipient"].some((r) => r.on === "recv-ocrq")); // true
 * ```
 */
export const SESSION_FSM: Readonly<Record<SessionKind, readonly SessionTransition[]>> = Object
  .freeze({
    "ic-sender": Object.freeze(expand("ic-sender", TABLES["ic-sender"])),
    "ic-recipient": Object.freeze(expand("ic-recipient", TABLES["ic-recipient"])),
    "oc-sender": Object.freeze(expand("oc-sender", TABLES["oc-sender"])),
    "oc-recipient": Object.freeze(expand("oc-recipient", TABLES["oc-recipient"])),
  });

const INDEX: ReadonlyMap<string, SessionTransition> = new Map(
  SESSION_KINDS.flatMap((k) => SESSION_FSM[k].map((r) => [`${k} ${r.from} ${r.on}`, r])),
);

/**
 * The row for a kind, state and event, or `undefined` if the event is ignored there.
 *
 * @param kind The session kind.
 * @param state The current state.
 * @param event The event.
 * @returns The row.
 *
 * @example Usage
 * ```ts
 * import { sessionTransition } from "./session_fsm.ts";
 * console.log(sessionTransition("ic-sender", "wait-reply", "recv-iccn")?.actions);
 * // [ "send-cdn", "cleanup" ]
 * ```
 */
export function sessionTransition(
  kind: SessionKind,
  state: SessionState,
  event: SessionEvent,
): SessionTransition | undefined {
  return INDEX.get(`${kind} ${state} ${event}`);
}
