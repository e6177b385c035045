/**
 * ControlConnection (control/connection.ts): pairs of connections over an in-memory network with
 * a fake clock, L2TPv2 and L2TPv3, UDP and IP semantics: tunnel and session establishment and
 * teardown both ways, authentication (right and wrong secret), hidden AVPs, the L2TPv3 Message
 * Digest, the tie breaker, following an LNS that answers from another port, refusals and limits,
 * and a silent peer (a raw peer's malformed and unexpected messages: connection_raw_test.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import { digestKey } from "../../control/auth.ts";
import { FakeClock } from "../../control/clock.ts";
import { ControlConnection, type SessionParams } from "../../control/connection.ts";
import { parseConfig, tunnelEntry } from "../../lib/config.ts";
import {
  AvpType,
  CdnResult,
  MessageType,
  type MessageTypeCode,
  StopCcnResult,
} from "../../control/constants.ts";
import { decodeControl, encodeControl, getAvp } from "../../control/message.ts";
import {
  buildCallMessage,
  buildStopccn,
  readSessionAvps,
  readTunnelAvps,
} from "../../control/builders.ts";
import { IdAllocator } from "../../control/ids.ts";
import { MemoryNetwork } from "../../control/memory_socket.ts";
import {
  A,
  B,
  decoded,
  ep,
  ethSession,
  pair,
  pppSession,
  recorder,
  settle,
} from "./_control_rig.ts";

function types(msgs: { type: MessageTypeCode | null }[]): string[] {
  return msgs.filter((m) => m.type !== null && m.type !== MessageType.ACK).map((m) =>
    String(m.type)
  );
}

Deno.test("L2TPv2 LAC/LNS: tunnel and session up, session closed by the LAC, tunnel by the LAC", async () => {
  const lnsSession = pppSession("any", { lnsMode: true });
  const p = pair({ version: 2 }, {}, { sessions: [lnsSession] });
  p.b.start();
  p.a.start();
  const s = p.a.openSession(pppSession("dsl"));
  await settle(p.clock, 300);
  assert.equal(await p.a.established, true);
  assert.equal(await p.b.established, true);
  assert.equal(await s.established, true);
  assert.equal(p.a.state, "established");
  // Each side created its kernel tunnel, then the session, with crossed IDs.
  assert.deepEqual(p.ra.calls, [
    `tunnelUp ${p.a.localTunnelId}`,
    `sessionUp ${p.a.localTunnelId}/${s.localSessionId}`,
  ]);
  assert.equal(p.rb.calls.length, 2);
  const [ua, ub] = [p.ra.sessionUps[0], p.rb.sessionUps[0]];
  assert.equal(ua.peerSessionId, ub.localSessionId);
  assert.equal(ub.peerSessionId, ua.localSessionId);
  assert.equal(ua.peerTunnelId, p.b.localTunnelId);
  assert.equal(ub.peerTunnelId, p.a.localTunnelId);
  assert.deepEqual([ua.callType, ua.initiator, ub.initiator], ["incoming", true, false]);
  assert.equal(ub.session, lnsSession, "the LNS's session configuration comes back");
  assert.equal(ub.lnsMode, true);
  assert.equal(ua.pseudowire, "ppp");
  assert.equal(ua.cookie, undefined);
  assert.equal(ua.l2specType, undefined, "no L2-Specific Sublayer in L2TPv2");
  // On the wire: SCCRQ, SCCRP, SCCCN, ICRQ, ICRP, ICCN, and ZLB acknowledgements.
  assert.deepEqual(types(decoded(p.wire)), ["1", "2", "3", "10", "11", "12"]);
  const sccrq = decoded(p.wire)[0];
  assert.deepEqual(getAvp(sccrq, AvpType.ProtocolVersion), { version: 1, revision: 0 });
  assert.equal(getAvp(sccrq, AvpType.HostName), "a");
  assert.equal(getAvp(sccrq, AvpType.AssignedTunnelId), p.a.localTunnelId);
  assert.ok(getAvp(sccrq, AvpType.TieBreaker) !== undefined);

  await p.a.closeSession(s.localSessionId);
  await settle(p.clock, 200);
  assert.deepEqual(p.ra.calls.slice(2), [`sessionDown ${p.a.localTunnelId}/${s.localSessionId}`]);
  assert.equal(p.rb.sessionDowns.length, 1);
  assert.match(p.rb.sessionDowns[0].reason, /CDN from the peer: result 3 \(administrative\)/);
  assert.equal(p.a.sessionCount, 0);
  assert.equal(p.b.sessionCount, 0);

  await p.a.close();
  await settle(p.clock, 200);
  assert.equal(p.a.state, "closing");
  assert.equal(p.b.state, "closing");
  assert.equal(p.ra.tunnelDowns.length, 1);
  assert.equal(p.rb.tunnelDowns.length, 1);
  assert.match(p.rb.tunnelDowns[0].reason, /StopCCN from the peer: result 1 \(general request\)/);
  // The StopCCN hold (31 s) keeps both alive, then they end.
  await settle(p.clock, 31_000, 1000);
  await Promise.all([p.a.done, p.b.done]);
  assert.equal(p.a.state, "dead");
  assert.deepEqual(p.ra.events.map((e) => e.type), [
    "tunnel-up",
    "session-up",
    "session-down",
    "tunnel-down",
  ]);
  p.sa.close();
  p.sb.close();
});

Deno.test("L2TPv3 over IP: Message Digest, cookies, Remote End ID; torn down by the responder", async () => {
  const secret = "s3cret";
  const aPw = ethSession("pw", "pw-7", { peerCookie: new Uint8Array([1, 2, 3, 4]) });
  const bPw = ethSession("pw", "pw-7", {
    peerCookie: new Uint8Array([9, 8, 7, 6, 5, 4, 3, 2]),
    recvSeqnum: true,
  });
  const p = pair(
    { version: 3, encap: "ip", secret },
    { routerId: 0x0a000001 },
    { sessions: [bPw], routerId: 0x0a000002 },
  );
  p.b.start();
  p.a.start();
  const s = p.a.openSession(aPw);
  await settle(p.clock, 300);
  assert.equal(await s.established, true);
  // L2TP/IP sockets carry the control message itself: no zero Session ID in front.
  for (const d of p.wire) assert.equal(d.data[0] & 0x80, 0x80, "T bit first");
  // Every message is signed (the default over IP with a secret); the SCCRQ verifies without
  // nonces, as RFC 3931 §5.4.1 says.
  const msgs = decoded(p.wire, { version: 3 });
  for (const m of msgs) assert.ok(getAvp(m, AvpType.MessageDigest) !== undefined, `${m.type}`);
  decodeControl(p.wire[0].data, { digest: { key: digestKey(secret), required: true } });
  assert.equal(getAvp(msgs[0], AvpType.RouterId), 0x0a000001);
  assert.ok(getAvp(msgs[0], AvpType.ControlMessageAuthNonce) !== undefined);
  assert.deepEqual(getAvp(msgs[0], AvpType.PseudowireCapabilities), [5, 4, 7]);
  const icrq = msgs.find((m) => m.type === MessageType.ICRQ);
  assert.ok(icrq);
  assert.equal(getAvp(icrq, AvpType.PseudowireType), 5);
  assert.deepEqual(getAvp(icrq, AvpType.RemoteEndId), new TextEncoder().encode("pw-7"));
  // Cookies: what each side requires is what the other sends.
  const [ua, ub] = [p.ra.sessionUps[0], p.rb.sessionUps[0]];
  assert.deepEqual(ua.peerCookie, aPw.peerCookie);
  assert.deepEqual(ub.cookie, aPw.peerCookie);
  assert.deepEqual(ub.peerCookie, bPw.peerCookie);
  assert.deepEqual(ua.cookie, bPw.peerCookie);
  assert.equal(ua.l2specType, "default");
  // B requires sequence numbers (Data Sequencing AVP): A sends them.
  assert.equal(ub.recvSeq, true);
  assert.equal(ua.sendSeq, true);
  assert.deepEqual(ub.remoteEndId, aPw.remoteEndId);
  assert.equal(p.ra.tunnelUps[0].peer.port, 0);

  // The responder closes the session, then the tunnel.
  await p.b.closeSession(ub.localSessionId);
  await settle(p.clock, 200);
  assert.equal(p.ra.sessionDowns.length, 1);
  assert.match(p.ra.sessionDowns[0].reason, /CDN from the peer/);
  await p.b.close({ resultCode: StopCcnResult.ShuttingDown });
  await settle(p.clock, 200);
  assert.match(p.ra.tunnelDowns[0].reason, /result 6 \(shutting down\)/);
  await settle(p.clock, 31_000, 1000);
  await Promise.all([p.a.done, p.b.done]);
  p.sa.close();
  p.sb.close();
});

Deno.test("L2TPv2 shared secret: Challenge / Challenge Response both ways", async () => {
  const p = pair({ version: 2, secret: "shh" });
  p.b.start();
  p.a.start();
  await settle(p.clock, 300);
  assert.equal(await p.a.established, true);
  const msgs = decoded(p.wire);
  const [sccrq, sccrp, scccn] = msgs.filter((m) => m.type !== null);
  assert.equal(getAvp(sccrq, AvpType.Challenge)?.length, 16);
  assert.equal(getAvp(sccrp, AvpType.Challenge)?.length, 16);
  assert.equal(getAvp(sccrp, AvpType.ChallengeResponse)?.length, 16);
  assert.equal(getAvp(scccn, AvpType.ChallengeResponse)?.length, 16);
  await p.end();
});

Deno.test("a wrong secret is refused with StopCCN result 4 and a log line naming the peer", async () => {
  const p = pair({ version: 2 }, { secret: "right" }, { secret: "wrong" });
  p.b.start();
  p.a.start();
  await settle(p.clock, 300);
  assert.equal(await p.a.established, false);
  assert.equal(await p.b.established, false);
  const stop = decoded(p.wire).find((m) => m.type === MessageType.StopCCN);
  assert.ok(stop);
  assert.equal(getAvp(stop, AvpType.ResultCode)?.resultCode, StopCcnResult.NotAuthorized);
  const warn = p.ra.logs.find((l) => l.level === "warn");
  assert.match(warn?.text ?? "", /refusing 192\.0\.2\.2:1701: authentication failed: wrong/);
  assert.equal(p.ra.tunnelUps.length + p.rb.tunnelUps.length, 0, "no kernel tunnel");
  assert.equal(p.rb.tunnelDowns.length, 0, "the hook runs only for a tunnel that was up");
  const down = p.rb.events.find((e) => e.type === "tunnel-down");
  assert.ok(down?.type === "tunnel-down" && !down.tunnel.wasUp);
  assert.match(down.tunnel.reason, /result 4 \(not authorized\)/);
  await p.end();

  // A secret on one side only: the side without one cannot answer the Challenge.
  const q = pair({ version: 2 }, { secret: "right" }, {});
  q.b.start();
  q.a.start();
  await settle(q.clock, 300);
  assert.equal(await q.a.established, false);
  assert.match(
    q.rb.logs.find((l) => l.level === "warn")?.text ?? "",
    /refusing 192\.0\.2\.1:1701: .*no secret is configured/,
  );
  await q.end();
});

Deno.test("hidden AVPs on request: IDs are hidden on the wire and understood", async () => {
  const p = pair({ version: 2, secret: "k" }, { hideAvps: true }, { sessions: [pppSession("x")] });
  p.b.start();
  p.a.start();
  const s = p.a.openSession(pppSession("s"));
  await settle(p.clock, 300);
  assert.equal(await s.established, true);
  const fromA = decoded(p.wire, { secret: "k" }).filter((m) => m.from.address === A.address);
  const sccrq = fromA.find((m) => m.type === MessageType.SCCRQ);
  const icrq = fromA.find((m) => m.type === MessageType.ICRQ);
  assert.ok(sccrq && icrq);
  const hidden = (m: typeof sccrq, type: number): boolean | undefined =>
    m.avps.find((a) => a.type === type)?.hidden;
  assert.equal(hidden(sccrq, AvpType.AssignedTunnelId), true);
  assert.equal(hidden(sccrq, AvpType.HostName), false);
  assert.equal(hidden(icrq, AvpType.AssignedSessionId), true);
  assert.equal(hidden(icrq, AvpType.CallSerialNumber), true);
  assert.ok(sccrq.avps.some((a) => a.type === AvpType.RandomVector));
  assert.equal(getAvp(sccrq, AvpType.AssignedTunnelId), p.a.localTunnelId);
  // Without the secret the hidden value cannot be read.
  assert.throws(() => decodeControl(p.wire[0].data), /hidden/);
  await p.end();
});

Deno.test("L2TPv3 digest with the wrong secret: messages dropped, peer named, nothing created", async () => {
  const p = pair(
    { version: 3, encap: "ip", maxRetries: 2, setupTimeout: 0 },
    { secret: "one" },
    { secret: "two" },
  );
  p.b.start();
  p.a.start();
  await settle(p.clock, 10_000, 250);
  assert.equal(await p.a.established, false);
  assert.equal(p.b.state, "idle", "the responder never accepted the SCCRQ");
  assert.ok(
    p.rb.logs.some((l) =>
      l.level === "warn" && /192\.0\.2\.1:0.*Message Digest does not verify/.test(l.text)
    ),
    JSON.stringify(p.rb.logs),
  );
  assert.equal(p.ra.tunnelUps.length + p.rb.tunnelUps.length, 0);
  const down = p.ra.events.find((e) => e.type === "tunnel-down");
  assert.ok(down?.type === "tunnel-down");
  assert.match(down.tunnel.reason, /peer silent/);
  await p.end();
});

Deno.test("L2TPv3 over UDP with a secret: MD5 digest by default; none or SHA-1 when asked", async () => {
  const md5 = pair({ version: 3, secret: "k" });
  md5.b.start();
  md5.a.start();
  await settle(md5.clock, 300);
  assert.equal(await md5.a.established, true);
  assert.equal(getAvp(decoded(md5.wire)[0], AvpType.MessageDigest)?.digestType, 0);
  await md5.end();

  const plain = pair({ version: 3, secret: "k", messageDigest: "none" });
  plain.b.start();
  plain.a.start();
  await settle(plain.clock, 300);
  assert.equal(await plain.a.established, true);
  assert.equal(getAvp(decoded(plain.wire)[0], AvpType.MessageDigest), undefined);
  await plain.end();

  const sha = pair({ version: 3, secret: "k", messageDigest: "sha1" });
  sha.b.start();
  sha.a.start();
  await settle(sha.clock, 300);
  assert.equal(await sha.a.established, true);
  assert.equal(getAvp(decoded(sha.wire)[0], AvpType.MessageDigest)?.digestType, 1);
  await sha.end();
});

Deno.test("tie breaker: two initiators cross SCCRQs; the lower tie breaker keeps its tunnel", async () => {
  const clock = new FakeClock();
  const net = new MemoryNetwork();
  const sa = net.socket(A);
  const sb = net.socket(B);
  const ra = recorder();
  const rb = recorder();
  const common = { version: 2 as const, encap: "udp" as const, role: "initiator" as const, clock };
  const a = new ControlConnection({
    ...common,
    hostName: "a",
    socket: sa,
    peer: B,
    tieBreaker: 5n,
    hooks: ra.hooks,
    log: ra.log,
  });
  const b = new ControlConnection({
    ...common,
    hostName: "b",
    socket: sb,
    peer: A,
    tieBreaker: 9n,
    hooks: rb.hooks,
    log: rb.log,
  });
  a.start();
  b.start();
  await settle(clock, 500);
  assert.equal(await a.established, true);
  assert.equal(await b.established, true);
  assert.equal(a.role, "initiator");
  assert.equal(b.role, "responder", "the loser answers the winner's SCCRQ");
  assert.equal(a.peerTunnelId, b.localTunnelId);
  assert.equal(b.peerTunnelId, a.localTunnelId);
  assert.equal(ra.tunnelUps.length, 1);
  assert.equal(rb.tunnelUps.length, 1);
  assert.ok(ra.logs.some((l) => /we win the tie breaker/.test(l.text)));
  assert.ok(rb.logs.some((l) => /we lose the tie breaker/.test(l.text)));
  // Sessions work on the surviving tunnel, from either side.
  const s = b.openSession(pppSession("from-b"));
  await settle(clock, 300);
  assert.equal(await s.established, false, "a has no session to accept calls with");
  a.abort();
  b.abort();
  await settle(clock);
  await Promise.all([a.done, b.done]);
  sa.close();
  sb.close();

  // contest(): the same decision for an SCCRQ that reached a listener.
  const lone = new ControlConnection({
    ...common,
    hostName: "c",
    socket: net.socket(ep("192.0.2.3", 1701)),
    peer: B,
    tieBreaker: 7n,
  });
  assert.equal(lone.contest(1n), "none", "not started: no SCCRQ out");
  lone.start();
  await settle(clock);
  assert.equal(lone.contest(8n), "win");
  assert.equal(lone.contest(undefined), "win");
  assert.equal(lone.contest(6n), "lose");
  await settle(clock);
  await lone.done;
  assert.equal(await lone.established, false);
});

Deno.test("an LNS answering from another port is followed: connect, then the kernel tunnel", async () => {
  const clock = new FakeClock();
  const net = new MemoryNetwork();
  const lacSock = net.socket(ep("192.0.2.1", 40001));
  const lnsTunnelSock = net.socket(ep("192.0.2.2", 50000)); // not 1701
  lnsTunnelSock.connect(lacSock.local);
  const ra = recorder();
  const order: string[] = [];
  const connect = lacSock.connect.bind(lacSock);
  lacSock.connect = (peer, id): void => {
    order.push(`connect ${peer.port}`);
    connect(peer, id);
  };
  const lac = new ControlConnection({
    version: 2,
    encap: "udp",
    role: "initiator",
    clock,
    hostName: "lac",
    socket: lacSock,
    peer: ep("192.0.2.2", 1701),
    log: ra.log,
    hooks: {
      tunnelUp: (t): Promise<void> => {
        order.push(`tunnelUp ${t.peer.port}`);
        return Promise.resolve();
      },
    },
  });
  // The LNS got the SCCRQ on 1701 (a listener) and answers from its tunnel socket.
  const listenerSock = net.socket(ep("192.0.2.2", 1701));
  const lns = new ControlConnection({
    version: 2,
    encap: "udp",
    role: "responder",
    clock,
    hostName: "lns",
    socket: lnsTunnelSock,
    peer: lacSock.local,
  });
  lac.start();
  const first = await listenerSock.receive();
  assert.ok(first);
  const lns2 = new ControlConnection({
    version: 2,
    encap: "udp",
    role: "responder",
    clock,
    hostName: "lns",
    socket: lnsTunnelSock,
    peer: lacSock.local,
    initial: first,
  });
  void lns;
  lns2.start();
  await settle(clock, 300);
  assert.equal(await lac.established, true);
  assert.deepEqual(order, ["connect 50000", "tunnelUp 50000"]);
  assert.deepEqual(lacSock.connects, [{
    peer: ep("192.0.2.2", 50000),
    peerConnId: lns2.localTunnelId,
  }]);
  assert.deepEqual(lac.peer, ep("192.0.2.2", 50000));
  assert.ok(ra.logs.some((l) => /answered from port 50000: following it/.test(l.text)));
  lac.abort();
  lns2.abort();
  await settle(clock);
  await Promise.all([lac.done, lns2.done]);
  for (const s of [lacSock, lnsTunnelSock, listenerSock]) s.close();
});

Deno.test("a silent peer: HELLOs go unanswered, the transport fails, everything comes down", async () => {
  const p = pair(
    { version: 2, helloInterval: 1000, maxRetries: 2 },
    {},
    { sessions: [pppSession("x")] },
  );
  p.b.start();
  p.a.start();
  const s = p.a.openSession(pppSession("s"));
  await settle(p.clock, 300);
  assert.equal(await s.established, true);
  p.net.filter = (): null => null; // the link goes dead
  await settle(p.clock, 20_000, 250);
  await Promise.all([p.a.done, p.b.done]);
  for (const r of [p.ra, p.rb]) {
    assert.deepEqual(r.calls.map((c) => c.split(" ")[0]), [
      "tunnelUp",
      "sessionUp",
      "sessionDown",
      "tunnelDown",
    ]);
    assert.match(r.tunnelDowns[0].reason, /peer silent: Cannot deliver HELLO/);
  }
  p.sa.close();
  p.sb.close();
});

Deno.test("refusals: no matching Remote End ID, wrong pseudowire, session limit, sessionUp failing", async () => {
  const p = pair(
    { version: 3 },
    {},
    {
      sessions: [ethSession("a", "pw-a"), { ...ethSession("v", "pw-v"), pseudowire: "eth_vlan" }],
      maxSessions: 1,
    },
  );
  p.b.start();
  p.a.start();
  await settle(p.clock, 200);
  const unknown = p.a.openSession(ethSession("x", "pw-unknown"));
  const wrongPw = p.a.openSession(ethSession("v", "pw-v"));
  await settle(p.clock, 300);
  assert.equal(await unknown.established, false);
  assert.equal(await wrongPw.established, false);
  const cdns = decoded(p.wire).filter((m) => m.type === MessageType.CDN);
  assert.deepEqual(cdns.map((c) => getAvp(c, AvpType.ResultCode)?.resultCode), [
    CdnResult.PermanentUnavailable,
    CdnResult.UnsupportedPseudowire,
  ]);
  const downs = (): string[] =>
    p.ra.events.flatMap((e) => e.type === "session-down" ? [e.session.reason] : []);
  assert.match(downs()[0], /no session configured for Remote End ID "pw-unknown"/);
  const ok = p.a.openSession(ethSession("a", "pw-a"));
  await settle(p.clock, 300);
  assert.equal(await ok.established, true);
  const over = p.a.openSession(ethSession("a2", "pw-a"));
  await settle(p.clock, 300);
  assert.equal(await over.established, false);
  assert.match(downs().at(-1) ?? "", /result 4 .*limit of 1 sessions/);
  await p.end();

  // A kernel session that cannot be created: CDN, and the peer's session goes too.
  const q = pair({ version: 2 }, {}, { sessions: [pppSession("x")] }, {
    rb: recorder({ failSessionUp: true }),
  });
  q.b.start();
  q.a.start();
  const s = q.a.openSession(pppSession("s"));
  await settle(q.clock, 300);
  // The LAC was up as soon as the ICRP came; the LNS's failure on ICCN takes it down again.
  assert.equal(await s.established, true);
  await s.closed;
  assert.equal(q.ra.sessionDowns.length, 1);
  assert.match(q.ra.sessionDowns[0].reason, /cannot create the session/);
  assert.equal(q.rb.sessionDowns.length, 0, "never up on the failing side: no sessionDown");
  assert.equal(q.ra.sessionDowns[0].wasUp, true);
  await q.end();
});

Deno.test("outgoing calls: OCRQ / OCRP / OCCN from either side", async () => {
  const p = pair({ version: 2 }, { sessions: [pppSession("dial-in")] }, {
    sessions: [pppSession("any")],
  });
  p.b.start();
  p.a.start();
  await settle(p.clock, 200);
  // The LNS (responder) places an outgoing call through the LAC.
  const s = p.b.openSession(pppSession("dial-out", { callType: "outgoing" }));
  await settle(p.clock, 300);
  assert.equal(await s.established, true);
  assert.deepEqual(types(decoded(p.wire)).slice(3), ["7", "8", "9"]);
  assert.equal(p.rb.sessionUps[0].callType, "outgoing");
  assert.equal(p.rb.sessionUps[0].initiator, true);
  assert.equal(p.ra.sessionUps[0].initiator, false);
  await p.end();
  assert.equal(p.ra.sessionDowns.length, 1, "abort takes sessions down too");
});

Deno.test("L2TPv3 session tie breaker: both ends call for the same circuit; one session survives", async () => {
  const pwA = ethSession("pw", "circuit-1");
  const pwB = ethSession("pw", "circuit-1");
  const p = pair({ version: 3 }, { sessions: [pwA] }, { sessions: [pwB] });
  p.b.start();
  p.a.start();
  await settle(p.clock, 200);
  const fromA = p.a.openSession(pwA);
  const fromB = p.b.openSession(pwB);
  await settle(p.clock, 500);
  const results = [await fromA.established, await fromB.established];
  assert.equal(results.filter(Boolean).length, 1, `exactly one wins: ${results}`);
  assert.equal(p.a.sessionCount, 1);
  assert.equal(p.b.sessionCount, 1);
  assert.equal(p.ra.sessionUps.length, 1);
  assert.equal(p.rb.sessionUps.length, 1);
  assert.equal(p.ra.sessionUps[0].peerSessionId, p.rb.sessionUps[0].localSessionId);
  await p.end();
});

Deno.test("L2TPv3 circuit status: SLI sent and reported", async () => {
  const p = pair({ version: 3 }, {}, { sessions: [ethSession("pw", "c")] });
  p.b.start();
  p.a.start();
  const s = p.a.openSession(ethSession("pw", "c"));
  await settle(p.clock, 300);
  assert.equal(await s.established, true);
  p.a.setCircuitStatus(s.localSessionId, false);
  await settle(p.clock, 200);
  const info = p.rb.events.find((e) => e.type === "session-info");
  assert.ok(info && info.type === "session-info");
  assert.deepEqual(info.circuit, { active: false, new: false });
  assert.equal(p.b.state, "established");
  await p.end();
});

Deno.test("options: hidden AVPs need a secret, a digest needs L2TPv3, IDs are checked", () => {
  const net = new MemoryNetwork();
  const socket = net.socket(A);
  const base = {
    encap: "udp" as const,
    role: "initiator" as const,
    socket,
    peer: B,
    hostName: "x",
  };
  assert.throws(() => new ControlConnection({ ...base, version: 2, hideAvps: true }), TypeError);
  assert.throws(
    () => new ControlConnection({ ...base, version: 2, secret: "s", messageDigest: "md5" }),
    /Message Digest needs L2TPv3/,
  );
  assert.throws(() => new ControlConnection({ ...base, version: 2, encap: "ip" }), RangeError);
  assert.throws(
    () => new ControlConnection({ ...base, version: 2, localTunnelId: 70000 }),
    RangeError,
  );
  const c = new ControlConnection({ ...base, version: 2, localTunnelId: 42 });
  assert.equal(c.localTunnelId, 42);
  assert.equal(c.state, "idle");
  socket.close();
});

Deno.test("the event iterator yields tunnel and session events and ends with the connection", async () => {
  const p = pair({ version: 2 }, { onEvent: undefined }, { sessions: [pppSession("x")] });
  p.b.start();
  p.a.start();
  p.a.openSession(pppSession("s"));
  const seen: string[] = [];
  const reading = (async (): Promise<void> => {
    for await (const e of p.a) seen.push(e.type);
  })();
  await settle(p.clock, 300);
  p.a.abort("test over");
  await settle(p.clock);
  await reading;
  assert.deepEqual(seen, ["tunnel-up", "session-up", "session-down", "tunnel-down"]);
  await p.end();
});

Deno.test("IdAllocator: random non-zero IDs, unique while in use, 16 and 32 bits", () => {
  const v2 = new IdAllocator(16);
  const ids = new Set<number>();
  for (let i = 0; i < 5000; i++) {
    const id = v2.allocate();
    assert.ok(id >= 1 && id <= 0xffff);
    assert.ok(!ids.has(id));
    ids.add(id);
  }
  assert.equal(v2.size, 5000);
  const some = [...ids][0];
  assert.equal(v2.reserve(some), false);
  v2.release(some);
  assert.equal(v2.reserve(some), true);
  assert.throws(() => v2.reserve(0), RangeError);
  assert.throws(() => v2.reserve(65536), RangeError);
  // A random source that keeps repeating itself still yields free IDs, then runs out cleanly.
  const stuck = new IdAllocator(16, () => 7);
  const got = new Set<number>();
  for (let i = 0; i < 300; i++) got.add(stuck.allocate());
  assert.equal(got.size, 300);
  assert.ok(!got.has(0));
  const full = new IdAllocator(16, () => 7);
  for (let id = 1; id <= 0xffff; id++) if (id !== 40000) full.reserve(id);
  assert.equal(full.allocate(), 40000, "the last free one is found");
  assert.throws(() => full.allocate(), /all 65535 IDs are in use/);
  const v3 = new IdAllocator(32);
  assert.ok(v3.allocate() <= 0xffffffff);
  assert.equal(v3.max, 0xffffffff);
});

Deno.test("builders: the AVPs each version carries, and what the readers take back", () => {
  const v3 = buildCallMessage(MessageType.ICRQ, 3, {
    localSessionId: 10,
    peerSessionId: 0,
    serial: 3,
    pseudowireType: 4,
    remoteEndId: new Uint8Array([1]),
    cookie: new Uint8Array([1, 2, 3, 4]),
    l2spec: 1,
    dataSequencing: 2,
    circuit: { active: true, new: true },
    tieBreaker: 99n,
  }, true);
  const bytes = encodeControl({ version: 3, tunnelId: 5, ns: 0, nr: 0, ...v3 }, { secret: "k" });
  const m = decodeControl(bytes, { secret: "k" });
  const info = readSessionAvps(m, 3);
  assert.deepEqual(
    [info.ourSessionId, info.peerSessionId, info.serial, info.pseudowireType, info.l2spec],
    [0, 10, 3, 4, 1],
  );
  assert.deepEqual(info.cookie, new Uint8Array([1, 2, 3, 4]));
  assert.equal(info.dataSequencing, 2);
  assert.equal(info.tieBreaker, 99n);
  assert.ok(m.avps.find((a) => a.type === AvpType.LocalSessionId)?.hidden, "hidden on request");
  const v2 = buildCallMessage(MessageType.ICCN, 2, {
    localSessionId: 1,
    peerSessionId: 2,
    sequencingRequired: true,
  });
  const m2 = decodeControl(encodeControl({ version: 2, tunnelId: 5, ns: 0, nr: 0, ...v2 }));
  assert.equal(readSessionAvps(m2, 2).sequencingRequired, true);
  assert.ok(getAvp(m2, AvpType.TxConnectSpeed) !== undefined);
  assert.ok(getAvp(m2, AvpType.FramingType) !== undefined);
  const stop = buildStopccn(2, 7, { resultCode: 1 });
  const m3 = decodeControl(encodeControl({ version: 2, tunnelId: 5, ns: 0, nr: 0, ...stop }));
  assert.deepEqual(readTunnelAvps(m3, 2), { tunnelId: 7, result: { resultCode: 1 } });
  assert.throws(() =>
    buildCallMessage(MessageType.CDN, 2, { localSessionId: 1, peerSessionId: 2 })
  );
});

Deno.test("lib/config.ts's sessions and tunnel keys feed a connection as they are", async () => {
  const config = parseConfig(
    `[tunnel.t]
peer = "192.0.2.2"
version = "l2tpv3"
secret = "k"
hide_avps = true
[tunnel.t.session.a]
pseudowire = "eth_vlan"
remote_end_id = "c1"
peer_cookie = [1, 2, 3, 4]
`,
    "t.toml",
  );
  const t = tunnelEntry(config.tunnels[0]);
  const s: SessionParams = t.sessions[0]; // compile-time check: SessionConfig is a SessionParams
  const p = pair({ version: 3, secret: t.secret, hideAvps: t.hideAvps }, {}, { sessions: [s] });
  p.b.start();
  p.a.start();
  const opened = p.a.openSession(t.sessions[0]);
  await settle(p.clock, 300);
  assert.equal(await opened.established, true);
  assert.equal(p.rb.sessionUps[0].session, s);
  assert.equal(p.rb.sessionUps[0].pseudowire, "eth_vlan");
  assert.equal(
    getAvp(
      decoded(p.wire, { secret: "k" }).find((m) => m.type === MessageType.ICRQ) ?? { avps: [] },
      AvpType.PseudowireType,
    ),
    4,
  );
  await p.end();
});
