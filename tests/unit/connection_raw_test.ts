/**
 * ControlConnection against a raw peer (hand-made datagrams over an in-memory network with a fake
 * clock): unknown mandatory AVPs, unexpected messages, malformed messages in sequence (RFC 2661
 * §7.1, RFC 3931 §7.1), and floods that must write only a few log lines.
 *
 * @module
 */

import assert from "node:assert/strict";
import { FakeClock } from "../../control/clock.ts";
import { ControlConnection, type ControlConnectionOptions } from "../../control/connection.ts";
import {
  AvpType,
  CdnResult,
  ErrorCode,
  MessageType,
  type MessageTypeCode,
  StopCcnResult,
} from "../../control/constants.ts";
import type { AvpInput } from "../../control/avp.ts";
import { decodeControl, encodeControl, getAvp } from "../../control/message.ts";
import { MemoryNetwork } from "../../control/memory_socket.ts";
import type { Log } from "../../lib/log.ts";
import { rateLimitedLog } from "../../lib/log_limit.ts";
import { A, B, ethSession, pair, pppSession, recorder, settle } from "./_control_rig.ts";

/** A hand-driven peer: the test plays the initiator's part, byte by byte. */
function rawPeer(
  version: 2 | 3,
  extra: Partial<ControlConnectionOptions> & { clock?: FakeClock } = {},
): {
  clock: FakeClock;
  conn: ControlConnection;
  rec: ReturnType<typeof recorder>;
  send: (
    ns: number,
    nr: number,
    type: MessageTypeCode,
    avps: AvpInput[],
    sessionId?: number,
  ) => void;
  /** A ZLB acknowledging everything heard so far, with `ns` the next Ns (not consumed). */
  ack: (ns: number) => void;
  /** Sequenced messages heard from the connection (the Nr to send). */
  heard: () => number;
  inbox: () => ReturnType<typeof decodeControl>[];
  close: () => Promise<void>;
} {
  const clock = extra.clock ?? new FakeClock();
  const net = new MemoryNetwork();
  const me = net.socket(A);
  const theirs = net.socket(B);
  theirs.connect(A);
  const rec = recorder();
  const conn = new ControlConnection({
    version,
    encap: "udp",
    role: "responder",
    clock,
    hostName: "lns",
    socket: theirs,
    peer: A,
    hooks: rec.hooks,
    log: rec.log,
    sessions: [version === 2 ? pppSession("any") : ethSession("pw", "x")],
    ...extra,
  });
  conn.start();
  const got: Uint8Array[] = [];
  const seen: ReturnType<typeof decodeControl>[] = [];
  void (async (): Promise<void> => {
    for await (const d of me) got.push(d.data);
  })();
  return {
    clock,
    conn,
    rec,
    send: (ns, nr, type, avps, sessionId = 0): void => {
      me.send(
        encodeControl({ version, tunnelId: conn.localTunnelId, sessionId, ns, nr, type, avps }),
        B,
      );
    },
    ack: (ns): void => {
      const nr = got.filter((g) => g.length > 12 && !isV3Ack(g)).length;
      me.send(encodeControl({ version, tunnelId: conn.localTunnelId, ns, nr, type: null }), B);
    },
    heard: () => got.filter((g) => g.length > 12 && !isV3Ack(g)).length,
    inbox: () => {
      for (let i = seen.length; i < got.length; i++) {
        seen.push(decodeControl(got[i], { ignoreMalformed: true }));
      }
      return seen;
    },
    close: async (): Promise<void> => {
      conn.abort();
      await settle(clock);
      await conn.done;
      me.close();
      theirs.close();
    },
  };
}

/** An L2TPv3 ACK message (Message Type 20): not sequenced. */
function isV3Ack(g: Uint8Array): boolean {
  return g[1] === 3 && g.length >= 20 && g[18] === 0 && g[19] === MessageType.ACK;
}

const UNKNOWN_MANDATORY: AvpInput = {
  kind: "unknown",
  vendorId: 0,
  type: 200,
  value: new Uint8Array([1]),
  mandatory: true,
};

Deno.test("unknown mandatory AVP: CDN (result 2, error 8) in a session message", async () => {
  const p = rawPeer(2);
  // SCCRQ (to tunnel 0), then SCCCN: the responder is up.
  const sccrq = encodeControl({
    version: 2,
    tunnelId: 0,
    ns: 0,
    nr: 0,
    type: MessageType.SCCRQ,
    avps: [
      { type: AvpType.ProtocolVersion, value: { version: 1, revision: 0 } },
      { type: AvpType.HostName, value: "peer" },
      { type: AvpType.FramingCapabilities, value: { sync: true, async: true } },
      { type: AvpType.AssignedTunnelId, value: 77 },
    ],
  });
  p.conn.receive({ data: sccrq, from: A });
  await settle(p.clock, 50);
  p.send(1, 1, MessageType.SCCCN, []);
  await settle(p.clock, 200);
  assert.equal(await p.conn.established, true);
  // An ICRQ with an unknown mandatory AVP: the session is refused.
  p.send(2, 1, MessageType.ICRQ, [
    { type: AvpType.AssignedSessionId, value: 55 },
    { type: AvpType.CallSerialNumber, value: 1 },
    UNKNOWN_MANDATORY,
  ]);
  await settle(p.clock, 200);
  const cdn = p.inbox().find((m) => m.type === MessageType.CDN);
  assert.ok(cdn, "a CDN comes back");
  assert.equal(cdn.sessionId, 55, "addressed to the peer's session");
  assert.equal(cdn.tunnelId, 77);
  const result = getAvp(cdn, AvpType.ResultCode);
  assert.equal(result?.resultCode, CdnResult.GeneralError);
  assert.equal(result?.errorCode, ErrorCode.UnknownMandatoryAvp);
  assert.equal(p.rec.sessionUps.length, 0);
  assert.equal(p.conn.state, "established", "the tunnel stays up");
  // Malformed datagrams are dropped without harm.
  p.conn.receive({ data: new Uint8Array([0xc8, 0x02, 0, 5]), from: A });
  p.conn.receive({ data: new Uint8Array(0), from: A });
  p.conn.receive({ data: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]), from: A });
  await settle(p.clock, 100);
  assert.equal(p.conn.state, "established");

  // A tunnel message with one (a HELLO): StopCCN, result 2, error 8.
  p.send(3, 1, MessageType.HELLO, [UNKNOWN_MANDATORY]);
  await settle(p.clock, 200);
  const stop = p.inbox().find((m) => m.type === MessageType.StopCCN);
  assert.ok(stop);
  assert.deepEqual(
    [getAvp(stop, AvpType.ResultCode)?.resultCode, getAvp(stop, AvpType.ResultCode)?.errorCode],
    [StopCcnResult.GeneralError, ErrorCode.UnknownMandatoryAvp],
  );
  assert.equal(p.conn.state, "closing");
  assert.equal(p.rec.tunnelDowns.length, 1);
  await p.close();
});

Deno.test("unexpected messages: an ICCN for no session is dropped, an ICRP gets a CDN", async () => {
  const p = rawPeer(2);
  p.conn.receive({
    data: encodeControl({
      version: 2,
      tunnelId: 0,
      ns: 0,
      nr: 0,
      type: MessageType.SCCRQ,
      avps: [
        { type: AvpType.HostName, value: "peer" },
        { type: AvpType.FramingCapabilities, value: { sync: true, async: true } },
        { type: AvpType.AssignedTunnelId, value: 77 },
      ],
    }),
    from: A,
  });
  await settle(p.clock, 50);
  p.send(1, 1, MessageType.SCCCN, []);
  await settle(p.clock, 100);
  p.send(2, 1, MessageType.ICCN, [], 999);
  p.send(3, 1, MessageType.ICRP, [{ type: AvpType.AssignedSessionId, value: 31 }], 999);
  await settle(p.clock, 200);
  const cdns = p.inbox().filter((m) => m.type === MessageType.CDN);
  assert.equal(cdns.length, 1);
  assert.equal(cdns[0].sessionId, 31);
  assert.equal(getAvp(cdns[0], AvpType.ResultCode)?.errorCode, ErrorCode.InvalidSessionId);
  // An SCCRQ in sequence on an established tunnel: StopCCN (state machine error).
  p.send(4, 1, MessageType.SCCRQ, [{ type: AvpType.AssignedTunnelId, value: 78 }]);
  await settle(p.clock, 200);
  const stop = p.inbox().find((m) => m.type === MessageType.StopCCN);
  assert.equal(
    getAvp(stop ?? { avps: [] }, AvpType.ResultCode)?.resultCode,
    StopCcnResult.FsmError,
  );
  await p.close();
});

/** Bring a raw peer's responder up: SCCRQ (tunnel 77), SCCCN. The peer's next Ns is 2. */
async function upRaw(p: ReturnType<typeof rawPeer>, version: 2 | 3 = 2): Promise<void> {
  p.conn.receive({
    data: encodeControl({
      version,
      tunnelId: 0,
      ns: 0,
      nr: 0,
      type: MessageType.SCCRQ,
      avps: version === 2
        ? [
          { type: AvpType.ProtocolVersion, value: { version: 1, revision: 0 } },
          { type: AvpType.HostName, value: "peer" },
          { type: AvpType.FramingCapabilities, value: { sync: true, async: true } },
          { type: AvpType.AssignedTunnelId, value: 77 },
          { type: AvpType.ReceiveWindowSize, value: 512 },
        ]
        : [
          { type: AvpType.HostName, value: "peer" },
          { type: AvpType.RouterId, value: 1 },
          { type: AvpType.AssignedControlConnectionId, value: 77 },
          { type: AvpType.PseudowireCapabilities, value: [5] },
        ],
    }),
    from: A,
  });
  await settle(p.clock, 50);
  p.send(1, 1, MessageType.SCCCN, []);
  await settle(p.clock, 200);
  assert.equal(await p.conn.established, true);
}

/** A malformed AVP: raw bytes with the flags given. */
function malformed(type: number, bytes: number[], mandatory = true): AvpInput {
  return { kind: "malformed", vendorId: 0, type, value: new Uint8Array(bytes), mandatory };
}

Deno.test("malformed in sequence (RFC 2661 §7.1): CDN for a session message, StopCCN for a tunnel message", async () => {
  const p = rawPeer(2);
  await upRaw(p);
  // An ICRQ whose mandatory Call Serial Number has 3 bytes: CDN, result 2, error 2.
  p.send(2, 1, MessageType.ICRQ, [
    { type: AvpType.AssignedSessionId, value: 55 },
    malformed(AvpType.CallSerialNumber, [0, 0, 1]),
  ]);
  await settle(p.clock, 200);
  const cdn = p.inbox().find((m) => m.type === MessageType.CDN);
  assert.ok(cdn, "a CDN comes back");
  assert.equal(cdn.sessionId, 55, "addressed to the peer's session");
  const result = getAvp(cdn, AvpType.ResultCode);
  assert.deepEqual([result?.resultCode, result?.errorCode], [CdnResult.GeneralError, 2]);
  assert.match(result?.errorMessage ?? "", /Call Serial Number AVP with a 3-byte value/);
  assert.equal(p.conn.sessionCount, 0);
  assert.equal(p.conn.state, "established", "the tunnel stays up");
  const warn = p.rec.logs.filter((l) => l.level === "warn");
  assert.equal(warn.length, 1);
  assert.match(warn[0].text, /malformed ICRQ from 192\.0\.2\.1:1701: Call Serial Number/);
  // The same with the M bit clear is ignored (RFC 2661 §7.1): the call is accepted.
  p.send(3, 1, MessageType.ICRQ, [
    { type: AvpType.AssignedSessionId, value: 56 },
    { type: AvpType.CallSerialNumber, value: 2 },
    malformed(AvpType.RxConnectSpeed, [0, 1], false),
  ]);
  await settle(p.clock, 200);
  const icrp = p.inbox().find((m) => m.type === MessageType.ICRP);
  assert.equal(icrp?.sessionId, 56, "answered with an ICRP");
  // A HELLO with a malformed mandatory AVP (a Result Code of 1 byte): StopCCN, result 2, error 2.
  p.send(4, p.heard(), MessageType.HELLO, [malformed(AvpType.ResultCode, [1])]);
  await settle(p.clock, 200);
  const stop = p.inbox().find((m) => m.type === MessageType.StopCCN);
  assert.ok(stop);
  const sr = getAvp(stop, AvpType.ResultCode);
  assert.deepEqual([sr?.resultCode, sr?.errorCode], [StopCcnResult.GeneralError, 2]);
  assert.equal(p.conn.state, "closing");
  assert.match(p.rec.tunnelDowns[0].reason, /peer sent a malformed HELLO: Result Code AVP/);
  assert.deepEqual(p.rec.tunnelDowns[0].result, sr);
  await p.close();
});

Deno.test("malformed in sequence: AVPs that cannot be delimited clear the tunnel (RFC 3931 §7.1)", async () => {
  const p = rawPeer(3);
  await upRaw(p, 3);
  // An ICRQ whose last AVP claims 40 bytes: nothing after it can be read.
  const icrq = encodeControl({
    version: 3,
    tunnelId: p.conn.localTunnelId,
    ns: 2,
    nr: 1,
    type: MessageType.ICRQ,
    avps: [{ type: AvpType.LocalSessionId, value: 9 }],
  });
  const bad = new Uint8Array(icrq.length + 6);
  bad.set(icrq);
  bad.set([0x80, 40, 0, 0, 0, 15], icrq.length);
  bad[3] = bad.length; // header Length
  p.conn.receive({ data: bad, from: A });
  await settle(p.clock, 200);
  const stop = p.inbox().find((m) => m.type === MessageType.StopCCN);
  assert.ok(stop, "StopCCN");
  const r = getAvp(stop, AvpType.ResultCode);
  assert.deepEqual([r?.resultCode, r?.errorCode], [StopCcnResult.GeneralError, 2]);
  // Acknowledged: the StopCCN carries Nr 3.
  assert.equal(stop.nr, 3);
  await p.close();
});

/** The log lines at info level and above, as a daemon running at its default level writes. */
function loud(lines: string[]): string[] {
  return lines.filter((l) => !l.startsWith("debug ") && !l.startsWith("trace "));
}

/** A lib/log.ts Log that records `level text` lines. */
function captureLog(lines: string[], base: Record<string, unknown> = {}): Log {
  const line = (level: string) => (message: string, props?: Record<string, unknown>): void => {
    const p = { ...base, ...props };
    lines.push(`${level} ${message.replace(/\{(\w+)\}/g, (_, k: string) => String(p[k]))}`);
  };
  return {
    category: ["l2tpd"],
    trace: line("trace"),
    debug: line("debug"),
    info: line("info"),
    warn: line("warning"),
    error: line("error"),
    fatal: line("fatal"),
    with: (props) => captureLog(lines, { ...base, ...props }),
  };
}

/** Send `n` messages from Ns 2 on, acknowledging as we go, then wait for every answer. */
async function flood(
  p: ReturnType<typeof rawPeer>,
  n: number,
  message: (i: number) => [MessageTypeCode, AvpInput[]],
  answers: (inbox: ReturnType<typeof decodeControl>[]) => number,
): Promise<void> {
  for (let i = 0; i < n; i++) {
    const [type, avps] = message(i);
    p.send(2 + i, p.heard(), type, avps);
    if (i % 25 === 24) await settle(p.clock, 0);
  }
  for (let round = 0; round < 400 && answers(p.inbox()) < n; round++) {
    p.ack(2 + n);
    await settle(p.clock, 0);
  }
  p.ack(2 + n);
  await settle(p.clock, 200);
}

Deno.test("floods: 1,000 malformed ICRQs, ICRQs past max_sessions, malformed HELLOs write a few lines", async () => {
  const cdns = (inbox: ReturnType<typeof decodeControl>[]): number =>
    inbox.filter((m) => m.type === MessageType.CDN).length;
  const answers = (inbox: ReturnType<typeof decodeControl>[]): number =>
    inbox.filter((m) => m.type === MessageType.CDN || m.type === MessageType.ICRP).length;
  const malformedIcrq = (i: number): [MessageTypeCode, AvpInput[]] => [MessageType.ICRQ, [
    { type: AvpType.AssignedSessionId, value: 100 + i },
    malformed(AvpType.CallSerialNumber, [0, 0, 1]),
  ]];
  const icrq = (i: number): [MessageTypeCode, AvpInput[]] => [MessageType.ICRQ, [
    { type: AvpType.AssignedSessionId, value: 100 + i },
    { type: AvpType.CallSerialNumber, value: i },
  ]];
  const cases: [string, (i: number) => [MessageTypeCode, AvpInput[]], number][] = [
    ["malformed ICRQ", malformedIcrq, 1000],
    ["ICRQ past max_sessions", icrq, 998],
  ];
  for (const [what, message, refused] of cases) {
    const lines: string[] = [];
    const clock = new FakeClock();
    const log = rateLimitedLog(captureLog(lines), { clock });
    const p = rawPeer(2, { clock, log, maxSessions: 2 });
    await upRaw(p);
    await flood(p, 1000, message, answers);
    assert.equal(cdns(p.inbox()), refused, `${what}: every refused call gets its CDN`);
    assert.equal(p.conn.state, "established", what);
    const during = loud(lines);
    assert.ok(during.length <= 5, `${what}: ${during.length} lines: ${during.join("\n")}`);
    await settle(p.clock, 10_000, 1000);
    const after = loud(lines);
    assert.equal(after.length, during.length + 1, `${what}: one summary line`);
    assert.match(after.at(-1) ?? "", /\(suppressed \d+ similar messages in the last 10 s\)$/);
    log.flush();
    await p.close();
  }
  // Malformed tunnel messages: the first clears the tunnel, the rest change nothing.
  const lines: string[] = [];
  const clock = new FakeClock();
  const log = rateLimitedLog(captureLog(lines), { clock });
  const p = rawPeer(2, { clock, log });
  await upRaw(p);
  await flood(
    p,
    1000,
    () => [MessageType.HELLO, [malformed(AvpType.ResultCode, [1])]],
    () => 1000,
  );
  assert.equal(p.inbox().filter((m) => m.type === MessageType.StopCCN).length, 1);
  assert.ok(loud(lines).length <= 2, loud(lines).join("\n"));
  log.flush();
  await p.close();
});

Deno.test("setting up 1,000 sessions logs nothing at info level or above", async () => {
  const p = pair({ version: 2 }, {}, { sessions: [pppSession("any")] });
  p.b.start();
  p.a.start();
  await settle(p.clock, 300);
  const opened = Array.from({ length: 1000 }, (_, i) => p.a.openSession(pppSession(`s${i}`)));
  for (let i = 0; i < 40 && p.b.sessionCount < 1000; i++) await settle(p.clock, 100);
  assert.equal((await Promise.all(opened.map((s) => s.established))).every((x) => x), true);
  assert.equal(p.a.sessionCount, 1000);
  assert.equal(p.b.sessionCount, 1000);
  for (const r of [p.ra, p.rb]) {
    assert.deepEqual(r.logs.filter((l) => l.level !== "debug"), []);
    assert.equal(r.events.filter((e) => e.type === "session-up").length, 1000);
  }
  await p.end();
});
