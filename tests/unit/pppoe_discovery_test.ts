import { BROADCAST_MAC } from "../../control/mac.ts";
import assert from "node:assert/strict";
import { FakeClock } from "../../control/clock.ts";
import {
  decodePppoe,
  type DiscoveryFrame,
  encodePppoe,
  findTag,
  findTagText,
  type OutgoingFrame,
  PppoeCode,
  type PppoeCodeValue,
  type PppoePacket,
  type PppoeTag,
  PppoeTagType,
  tag,
} from "../../control/pppoe/codec.ts";
import { AC_COOKIE_LENGTH, AcCookieJar } from "../../control/pppoe/cookie.ts";
import {
  type DiscoveryCounters,
  type DiscoveryEvent,
  DiscoveryServer,
  type DiscoveryServerOptions,
} from "../../control/pppoe/discovery.ts";
import { prng } from "./_prng.ts";

const AC = new Uint8Array([0x02, 0, 0, 0, 0, 0x01]);
const HOST = new Uint8Array([0x02, 0, 0, 0, 0, 0x02]);
const HOST2 = new Uint8Array([0x02, 0, 0, 0, 0, 0x03]);
const OTHER_AC = new Uint8Array([0x02, 0, 0, 0, 0, 0x99]);
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

/** Bytes from hexadecimal, spaces ignored. */
function fromHex(text: string): Uint8Array {
  const h = text.replace(/\s+/g, "");
  return new Uint8Array(h.length / 2).map((_, i) => parseInt(h.slice(2 * i, 2 * i + 2), 16));
}

/** A random source that answers 2-byte draws (session IDs) from a script, then from a PRNG. */
function scriptedRandom(ids: number[], seed = 1): (n: number) => Uint8Array {
  const rand = prng(seed);
  return (n: number): Uint8Array => {
    if (n === 2 && ids.length > 0) {
      const id = ids.shift() ?? 0;
      return bytes(id >> 8, id & 0xff);
    }
    return new Uint8Array(n).map(() => Math.floor(rand() * 256));
  };
}

function server(
  options: Partial<DiscoveryServerOptions> = {},
): { ac: DiscoveryServer; clock: FakeClock } {
  const clock = new FakeClock(1_000_000);
  const ac = new DiscoveryServer({ localMac: AC, services: ["isp", "voip"], clock, ...options });
  return { ac, clock };
}

function frame(
  code: PppoeCodeValue,
  tags: PppoeTag[],
  opts: { source?: Uint8Array; destination?: Uint8Array; sessionId?: number } = {},
): DiscoveryFrame {
  const broadcast = code === PppoeCode.PADI;
  return {
    source: opts.source ?? HOST,
    destination: opts.destination ?? (broadcast ? BROADCAST_MAC : AC),
    payload: encodePppoe({ code, sessionId: opts.sessionId ?? 0, tags }),
  };
}

function only(out: { frames: OutgoingFrame[] }): { to: Uint8Array; packet: PppoePacket } {
  assert.equal(out.frames.length, 1, "expected exactly one frame");
  return { to: out.frames[0].destination, packet: decodePppoe(out.frames[0].payload) };
}

function tagsOf(p: PppoePacket, type: number): string[] {
  return p.tags.filter((t) => t.type === type).map((t) => new TextDecoder().decode(t.value));
}

/** PADI then PADR for `service`; returns the PADR's output (and the PADR frame). */
function open(
  ac: DiscoveryServer,
  service: string,
  opts: { source?: Uint8Array; hostUniq?: Uint8Array; relay?: Uint8Array } = {},
): { out: ReturnType<DiscoveryServer["receive"]>; padr: DiscoveryFrame } {
  const extra: PppoeTag[] = [];
  if (opts.hostUniq) extra.push(tag(PppoeTagType.HOST_UNIQ, opts.hostUniq));
  if (opts.relay) extra.push(tag(PppoeTagType.RELAY_SESSION_ID, opts.relay));
  const pado = only(
    ac.receive(frame(PppoeCode.PADI, [tag(PppoeTagType.SERVICE_NAME, service), ...extra], opts)),
  );
  const cookie = findTag(pado.packet, PppoeTagType.AC_COOKIE);
  assert.ok(cookie);
  const padr = frame(PppoeCode.PADR, [
    tag(PppoeTagType.SERVICE_NAME, service),
    tag(PppoeTagType.AC_COOKIE, cookie),
    ...extra,
  ], opts);
  return { out: ac.receive(padr), padr };
}

function sessionEvent(e: DiscoveryEvent | undefined): Extract<DiscoveryEvent, { type: "session" }> {
  assert.ok(e !== undefined && e.type === "session", `not a session event: ${e?.type}`);
  return e;
}

function assertCountersAddUp(c: DiscoveryCounters): void {
  const malformed = Object.values(c.malformed).reduce((a, b) => a + b, 0);
  assert.equal(
    c.received,
    c.padi + c.padr + c.padt_in + c.loopback + c.not_for_us + c.unexpected + malformed,
    "received",
  );
  assert.equal(
    c.padi + c.padr,
    c.pado + c.pads + c.pads_error + c.unknown_service + c.bad_cookie + c.reply_too_big,
    "taken in",
  );
  assert.equal(c.pads, c.sessions_opened + c.padr_retransmitted, "pads");
  assert.equal(c.pads_error, c.refused_service + c.refused_full + c.refused_per_mac, "refused");
  assert.equal(c.padt_in, c.terminated_by_peer + c.unknown_padt, "padt_in");
}

Deno.test("PADI for any service: PADO with AC-Name, every service, cookie, tags echoed", () => {
  const { ac } = server({ acName: "ac-east" });
  const hostUniq = bytes(0xde, 0xad, 0x00, 0xbe, 0xef);
  const relay = bytes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xb);
  const out = ac.receive(frame(PppoeCode.PADI, [
    tag(PppoeTagType.SERVICE_NAME, ""),
    tag(PppoeTagType.VENDOR_SPECIFIC, bytes(0, 0, 0x0d, 0xe9, 1, 0)),
    tag(PppoeTagType.HOST_UNIQ, hostUniq),
    tag(PppoeTagType.RELAY_SESSION_ID, relay),
  ]));
  const { to, packet } = only(out);
  assert.deepEqual(to, HOST);
  assert.equal(packet.code, PppoeCode.PADO);
  assert.equal(packet.sessionId, 0);
  assert.deepEqual(tagsOf(packet, PppoeTagType.AC_NAME), ["ac-east"]);
  // §5.2: the PADI's Service-Name (here empty), then the other services offered.
  assert.deepEqual(tagsOf(packet, PppoeTagType.SERVICE_NAME), ["", "isp", "voip"]);
  assert.equal(findTag(packet, PppoeTagType.AC_COOKIE)?.length, AC_COOKIE_LENGTH);
  assert.deepEqual(findTag(packet, PppoeTagType.HOST_UNIQ), hostUniq);
  assert.deepEqual(findTag(packet, PppoeTagType.RELAY_SESSION_ID), relay);
  assert.equal(findTag(packet, PppoeTagType.VENDOR_SPECIFIC), undefined);
  assert.equal(out.events.length, 0);
  assert.equal(ac.size, 0);
  assert.equal(ac.counters.padi, 1);
  assert.equal(ac.counters.pado, 1);
});

Deno.test("PADI for one service: PADO offers just that one, no Host-Uniq if none", () => {
  const { ac } = server();
  const { packet } = only(ac.receive(frame(PppoeCode.PADI, [tag(0x0101, "voip")])));
  assert.deepEqual(tagsOf(packet, PppoeTagType.SERVICE_NAME), ["voip"]);
  assert.equal(findTag(packet, PppoeTagType.HOST_UNIQ), undefined);
  assert.equal(findTag(packet, PppoeTagType.RELAY_SESSION_ID), undefined);
  assert.deepEqual(tagsOf(packet, PppoeTagType.AC_NAME), ["kpppoed"]);
});

Deno.test("PADI unicast to our MAC is answered; to another unicast MAC it is not for us", () => {
  const { ac } = server();
  only(ac.receive(frame(PppoeCode.PADI, [tag(0x0101, "isp")], { destination: AC })));
  const out = ac.receive(frame(PppoeCode.PADI, [tag(0x0101, "isp")], { destination: OTHER_AC }));
  assert.equal(out.frames.length, 0);
  assert.equal(ac.counters.not_for_us, 1);
  assert.equal(ac.counters.pado, 1);
});

Deno.test("PADI for an unknown service: no answer (§5.2), counted as unknown_service", () => {
  const { ac } = server();
  const out = ac.receive(frame(PppoeCode.PADI, [tag(0x0101, "iptv")]));
  assert.deepEqual(out, { frames: [], events: [] });
  assert.equal(ac.counters.unknown_service, 1);
  assert.equal(ac.counters.pado, 0);
});

Deno.test("PADI or PADR without a Service-Name tag: malformed, dropped", () => {
  const { ac } = server();
  assert.equal(ac.receive(frame(PppoeCode.PADI, [tag(0x0103, bytes(1))])).frames.length, 0);
  assert.equal(
    ac.receive(frame(PppoeCode.PADR, [tag(0x0104, new Uint8Array(24))])).frames.length,
    0,
  );
  assert.equal(ac.counters.malformed["missing-service-name"], 2);
  assert.equal(ac.counters.padi + ac.counters.padr, 0);
});

Deno.test("PADI or PADR with a nonzero SESSION_ID: malformed, dropped", () => {
  const { ac } = server();
  const tags = [tag(0x0101, "isp")];
  assert.equal(ac.receive(frame(PppoeCode.PADI, tags, { sessionId: 5 })).frames.length, 0);
  assert.equal(ac.receive(frame(PppoeCode.PADR, tags, { sessionId: 5 })).frames.length, 0);
  assert.equal(ac.counters.malformed["nonzero-session-id"], 2);
});

Deno.test("our own MAC as source is loopback; multicast or short MACs are malformed", () => {
  const { ac } = server();
  const tags = [tag(0x0101, "isp")];
  assert.equal(ac.receive(frame(PppoeCode.PADI, tags, { source: AC })).frames.length, 0);
  assert.equal(ac.counters.loopback, 1);
  const multicast = bytes(0x01, 0, 0x5e, 0, 0, 1);
  assert.equal(ac.receive(frame(PppoeCode.PADI, tags, { source: multicast })).frames.length, 0);
  assert.equal(ac.receive(frame(PppoeCode.PADI, tags, { source: BROADCAST_MAC })).frames.length, 0);
  assert.equal(ac.counters.malformed["bad-source-mac"], 2);
  assert.equal(
    ac.receive(frame(PppoeCode.PADI, tags, { source: bytes(2, 0, 0) })).frames.length,
    0,
  );
  assert.equal(
    ac.receive(frame(PppoeCode.PADI, tags, { destination: new Uint8Array(7) })).frames.length,
    0,
  );
  assert.equal(ac.counters.malformed["bad-mac"], 2);
  assert.equal(ac.counters.pado, 0);
});

Deno.test("decode errors are counted by reason and receive() returns nothing", () => {
  const { ac } = server();
  const payloads: [string, Uint8Array][] = [
    ["truncated", bytes(0x11, 0x09, 0)],
    ["bad-version", bytes(0x21, 0x09, 0, 0, 0, 0)],
    ["bad-type", bytes(0x12, 0x09, 0, 0, 0, 0)],
    ["unknown-code", bytes(0x11, 0x42, 0, 0, 0, 0)],
    ["length-overrun", bytes(0x11, 0x09, 0, 0, 0, 8, 1, 1, 0, 0)],
    ["tag-truncated", bytes(0x11, 0x09, 0, 0, 0, 2, 1, 1)],
    ["tag-overrun", bytes(0x11, 0x09, 0, 0, 0, 4, 1, 1, 0, 9)],
  ];
  for (const [, payload] of payloads) {
    const out = ac.receive({ source: HOST, destination: BROADCAST_MAC, payload });
    assert.deepEqual(out, { frames: [], events: [] });
  }
  const c = ac.counters;
  for (const [reason] of payloads) assert.equal(c.malformed[reason as "truncated"], 1, reason);
  assert.equal(c.received, payloads.length);
  assertCountersAddUp(c);
});

Deno.test("PADO and PADS received (meant for a host) are counted as unexpected", () => {
  const { ac } = server();
  ac.receive(frame(PppoeCode.PADO, [tag(0x0102, "x")], { destination: AC }));
  ac.receive(frame(PppoeCode.PADS, [tag(0x0101, "")], { destination: AC, sessionId: 3 }));
  assert.equal(ac.counters.unexpected, 2);
});

Deno.test("PADR with a valid cookie: PADS byte-exact, Host-Uniq and relay ID echoed, event", () => {
  const { ac, clock } = server({ random: scriptedRandom([0x1234]) });
  const hostUniq = bytes(0xca, 0xfe);
  const relay = bytes(0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab);
  const { out } = open(ac, "isp", { hostUniq, relay });
  assert.equal(out.frames.length, 1);
  assert.deepEqual(out.frames[0].destination, HOST);
  assert.deepEqual(
    out.frames[0].payload,
    fromHex(
      "11 65 1234 001d" + // PADS, SESSION_ID 0x1234, LENGTH 7 + 6 + 16 = 29
        "0101 0003 697370" + // Service-Name "isp"
        "0103 0002 cafe" + // Host-Uniq
        "0110 000c a0a1a2a3a4a5a6a7a8a9aaab", // Relay-Session-Id
    ),
  );
  const e = sessionEvent(out.events[0]);
  assert.equal(e.sessionId, 0x1234);
  assert.deepEqual(e.peerMac, HOST);
  assert.equal(e.service, "isp");
  assert.deepEqual(e.hostUniq, hostUniq);
  assert.deepEqual(e.relaySessionId, relay);
  assert.deepEqual(ac.sessions(), [{
    sessionId: 0x1234,
    peerMac: HOST,
    service: "isp",
    hostUniq,
    relaySessionId: relay,
    createdAt: clock.now(),
  }]);
  assert.equal(ac.counters.sessions_opened, 1);
  assert.equal(ac.counters.pads, 1);
});

Deno.test("retransmitted PADR: the same PADS again, no second session", () => {
  const { ac, clock } = server();
  const { out, padr } = open(ac, "isp", { hostUniq: bytes(1, 2, 3) });
  clock.advance(3_000);
  const again = ac.receive(padr);
  const again2 = ac.receive(padr);
  assert.deepEqual(again.frames, out.frames);
  assert.deepEqual(again2.frames, out.frames);
  assert.equal(again.events.length, 0);
  assert.equal(ac.size, 1);
  assert.equal(ac.counters.padr_retransmitted, 2);
  assert.equal(ac.counters.sessions_opened, 1);
});

Deno.test("PADR with a missing, altered or foreign cookie is dropped, leaving no state", () => {
  const { ac } = server();
  const hostUniq = bytes(9, 9);
  const pado = only(ac.receive(frame(PppoeCode.PADI, [
    tag(0x0101, "isp"),
    tag(PppoeTagType.HOST_UNIQ, hostUniq),
  ])));
  const cookie = findTag(pado.packet, PppoeTagType.AC_COOKIE) ?? bytes();
  const altered = cookie.slice();
  altered[AC_COOKIE_LENGTH - 1] ^= 1;
  const attempts: DiscoveryFrame[] = [
    // No cookie.
    frame(PppoeCode.PADR, [tag(0x0101, "isp"), tag(PppoeTagType.HOST_UNIQ, hostUniq)]),
    // One bit changed.
    frame(PppoeCode.PADR, [tag(0x0101, "isp"), tag(0x0104, altered), tag(0x0103, hostUniq)]),
    // Truncated.
    frame(PppoeCode.PADR, [
      tag(0x0101, "isp"),
      tag(0x0104, cookie.subarray(0, 16)),
      tag(0x0103, hostUniq),
    ]),
    // Another host's MAC.
    frame(PppoeCode.PADR, [tag(0x0101, "isp"), tag(0x0104, cookie), tag(0x0103, hostUniq)], {
      source: HOST2,
    }),
    // Another Host-Uniq, and none.
    frame(PppoeCode.PADR, [tag(0x0101, "isp"), tag(0x0104, cookie), tag(0x0103, bytes(9))]),
    frame(PppoeCode.PADR, [tag(0x0101, "isp"), tag(0x0104, cookie)]),
    // Another (offered) service than the PADI asked for.
    frame(PppoeCode.PADR, [tag(0x0101, "voip"), tag(0x0104, cookie), tag(0x0103, hostUniq)]),
  ];
  for (const f of attempts) assert.deepEqual(ac.receive(f), { frames: [], events: [] });
  assert.equal(ac.counters.bad_cookie, attempts.length);
  assert.equal(ac.size, 0);
  // The genuine PADR still works.
  const ok = ac.receive(
    frame(PppoeCode.PADR, [tag(0x0101, "isp"), tag(0x0104, cookie), tag(0x0103, hostUniq)]),
  );
  assert.equal(sessionEvent(ok.events[0]).service, "isp");
});

Deno.test("cookie expiry: good one bucket on, refused once older than two buckets", () => {
  const { ac, clock } = server({ cookieBucketMs: 30_000 });
  const cookieOf = (source: Uint8Array): Uint8Array => {
    const { packet } = only(ac.receive(frame(PppoeCode.PADI, [tag(0x0101, "isp")], { source })));
    return findTag(packet, PppoeTagType.AC_COOKIE) ?? bytes();
  };
  const padr = (source: Uint8Array, cookie: Uint8Array): DiscoveryFrame =>
    frame(PppoeCode.PADR, [tag(0x0101, "isp"), tag(0x0104, cookie)], { source });
  // clock starts at 1,000,000 ms: bucket 33, 10 s into it.
  const early = cookieOf(HOST);
  const late = cookieOf(HOST2);
  clock.advance(35_000); // next bucket: both still good
  assert.equal(ac.receive(padr(HOST, early)).events.length, 1);
  clock.advance(25_000); // two buckets on: older than two bucket lengths, its key is gone
  assert.deepEqual(ac.receive(padr(HOST2, late)), { frames: [], events: [] });
  assert.equal(ac.counters.bad_cookie, 1);
  assert.equal(ac.size, 1);
});

Deno.test("PADR for an unknown service: PADS with SESSION_ID 0 and Service-Name-Error", () => {
  const { ac } = server();
  const relay = bytes(1, 2, 3);
  const out = ac.receive(frame(PppoeCode.PADR, [
    tag(0x0101, "iptv"),
    tag(0x0103, bytes(4, 5)),
    tag(0x0110, relay),
  ]));
  const { to, packet } = only(out);
  assert.deepEqual(to, HOST);
  assert.equal(packet.code, PppoeCode.PADS);
  assert.equal(packet.sessionId, 0);
  assert.ok(findTag(packet, PppoeTagType.SERVICE_NAME_ERROR) !== undefined);
  assert.deepEqual(tagsOf(packet, PppoeTagType.SERVICE_NAME), ["iptv"]);
  assert.deepEqual(findTag(packet, PppoeTagType.HOST_UNIQ), bytes(4, 5));
  assert.deepEqual(findTag(packet, PppoeTagType.RELAY_SESSION_ID), relay);
  assert.equal(out.events.length, 0);
  assert.equal(ac.size, 0);
  assert.equal(ac.counters.refused_service, 1);
  assert.equal(ac.counters.pads_error, 1);
});

Deno.test("a cookie for any service is good for each; an empty PADR gets the first", () => {
  const { ac } = server();
  const pado = only(ac.receive(frame(PppoeCode.PADI, [tag(0x0101, "")])));
  const cookie = findTag(pado.packet, PppoeTagType.AC_COOKIE) ?? bytes();
  const voip = ac.receive(frame(PppoeCode.PADR, [tag(0x0101, "voip"), tag(0x0104, cookie)]));
  assert.equal(sessionEvent(voip.events[0]).service, "voip");
  const any = ac.receive(frame(PppoeCode.PADR, [tag(0x0101, ""), tag(0x0104, cookie)]));
  assert.equal(sessionEvent(any.events[0]).service, "isp");
  // The PADS echoes the PADR's (empty) Service-Name.
  assert.deepEqual(tagsOf(only(any).packet, PppoeTagType.SERVICE_NAME), [""]);
  assert.equal(ac.size, 2);
});

Deno.test("per-MAC limit: PADS with SESSION_ID 0 and AC-System-Error; other hosts served", () => {
  const { ac } = server({ perMacLimit: 2 });
  for (let i = 0; i < 2; i++) open(ac, "isp", { hostUniq: bytes(i) });
  const refused = open(ac, "isp", { hostUniq: bytes(7) }).out;
  const { packet } = only(refused);
  assert.equal(packet.code, PppoeCode.PADS);
  assert.equal(packet.sessionId, 0);
  assert.ok(findTag(packet, PppoeTagType.AC_SYSTEM_ERROR) !== undefined);
  assert.deepEqual(findTag(packet, PppoeTagType.HOST_UNIQ), bytes(7));
  assert.equal(refused.events.length, 0);
  assert.equal(ac.counters.refused_per_mac, 1);
  assert.equal(open(ac, "isp", { source: HOST2 }).out.events.length, 1);
  assert.equal(ac.size, 3);
});

Deno.test("table full: PADS with SESSION_ID 0 and AC-System-Error; a PADT frees a place", () => {
  const { ac } = server({ maxSessions: 3, perMacLimit: 10 });
  const ids: number[] = [];
  for (let i = 0; i < 3; i++) {
    ids.push(sessionEvent(open(ac, "isp", { hostUniq: bytes(i) }).out.events[0]).sessionId);
  }
  const refused = only(open(ac, "isp", { source: HOST2 }).out).packet;
  assert.equal(refused.sessionId, 0);
  assert.ok(findTag(refused, PppoeTagType.AC_SYSTEM_ERROR) !== undefined);
  assert.equal(ac.counters.refused_full, 1);
  assert.equal(ac.size, 3);
  ac.receive(frame(PppoeCode.PADT, [], { sessionId: ids[0] }));
  assert.equal(open(ac, "isp", { source: HOST2 }).out.events.length, 1);
  assert.equal(ac.size, 3);
});

Deno.test("session IDs: random, never 0 or 0xffff, never one in use", () => {
  const { ac } = server({ random: scriptedRandom([0, 0xffff, 0x4242, 0x4242, 0x0001]) });
  const a = sessionEvent(open(ac, "isp", { hostUniq: bytes(1) }).out.events[0]);
  const b = sessionEvent(open(ac, "isp", { hostUniq: bytes(2) }).out.events[0]);
  assert.equal(a.sessionId, 0x4242);
  assert.equal(b.sessionId, 0x0001);
  // With the real random source: distinct, in range, and not a sequence.
  const { ac: real } = server({ perMacLimit: 1000 });
  const seen: number[] = [];
  for (let i = 0; i < 300; i++) {
    seen.push(
      sessionEvent(open(real, "isp", { hostUniq: bytes(i >> 8, i & 0xff) }).out.events[0])
        .sessionId,
    );
  }
  assert.equal(new Set(seen).size, seen.length);
  assert.ok(seen.every((id) => id > 0 && id < 0xffff));
  const steps = seen.slice(1).filter((id, i) => id === seen[i] + 1).length;
  assert.ok(steps < 10, `${steps} sequential IDs`);
});

Deno.test("PADT from the peer ends its session: terminated event, slot and key freed", () => {
  const { ac } = server({ perMacLimit: 1 });
  const { padr, out } = open(ac, "isp");
  const id = sessionEvent(out.events[0]).sessionId;
  const end = ac.receive(frame(PppoeCode.PADT, [tag(PppoeTagType.GENERIC_ERROR, "user quit")], {
    sessionId: id,
  }));
  assert.equal(end.frames.length, 0);
  assert.deepEqual(end.events, [{
    type: "terminated",
    sessionId: id,
    peerMac: HOST,
    by: "peer",
    reason: "user quit",
  }]);
  assert.equal(ac.size, 0);
  assert.equal(ac.session(id), undefined);
  assert.equal(ac.counters.terminated_by_peer, 1);
  // The same PADR (cookie still valid) now opens a new session, the per-MAC slot being free.
  assert.equal(ac.receive(padr).events.length, 1);
});

Deno.test("PADT with another MAC, an unknown session or to another AC is ignored", () => {
  const { ac } = server();
  const id = sessionEvent(open(ac, "isp").out.events[0]).sessionId;
  assert.equal(
    ac.receive(frame(PppoeCode.PADT, [], { sessionId: id, source: HOST2 })).events.length,
    0,
  );
  assert.equal(ac.receive(frame(PppoeCode.PADT, [], { sessionId: id ^ 1 })).events.length, 0);
  assert.equal(ac.receive(frame(PppoeCode.PADT, [], { sessionId: 0 })).events.length, 0);
  assert.equal(ac.counters.unknown_padt, 3);
  assert.equal(
    ac.receive(frame(PppoeCode.PADT, [], { sessionId: id, destination: OTHER_AC })).events.length,
    0,
  );
  assert.equal(ac.counters.not_for_us, 1);
  assert.equal(ac.size, 1);
  // Broadcast PADTs are accepted.
  const end = ac.receive(frame(PppoeCode.PADT, [], { sessionId: id, destination: BROADCAST_MAC }));
  assert.equal(end.events[0]?.type, "terminated");
  assert.equal(end.events[0]?.type === "terminated" && end.events[0].reason, undefined);
});

Deno.test("terminate(): PADT to the peer with Generic-Error and relay ID, session gone", () => {
  const { ac } = server();
  const relay = bytes(0xee, 0xee, 0x01);
  const id = sessionEvent(open(ac, "isp", { relay, hostUniq: bytes(1) }).out.events[0]).sessionId;
  const padt = ac.terminate(id, "LNS closed the call");
  assert.ok(padt);
  assert.deepEqual(padt.destination, HOST);
  const p = decodePppoe(padt.payload);
  assert.equal(p.code, PppoeCode.PADT);
  assert.equal(p.sessionId, id);
  assert.equal(findTagText(p, PppoeTagType.GENERIC_ERROR), "LNS closed the call");
  assert.deepEqual(findTag(p, PppoeTagType.RELAY_SESSION_ID), relay);
  assert.equal(ac.size, 0);
  assert.equal(ac.terminate(id), undefined);
  assert.equal(ac.counters.padt_out, 1);
  // Without a reason: no Generic-Error tag. A later PADT from the peer is unknown.
  const id2 = sessionEvent(open(ac, "isp").out.events[0]).sessionId;
  const plain = decodePppoe(ac.terminate(id2)?.payload ?? bytes());
  assert.deepEqual(plain.tags, []);
  ac.receive(frame(PppoeCode.PADT, [], { sessionId: id2 }));
  assert.equal(ac.counters.unknown_padt, 1);
});

Deno.test("a reply that echoing would push past 1500 bytes is dropped and counted", () => {
  const { ac } = server();
  // A legal 1494-byte PADI whose Host-Uniq leaves no room for the AC-Name and cookie.
  const out = ac.receive(frame(PppoeCode.PADI, [
    tag(0x0101, ""),
    tag(PppoeTagType.HOST_UNIQ, new Uint8Array(1500 - 6 - 4 - 4)),
  ]));
  assert.equal(out.frames.length, 0);
  assert.equal(ac.counters.reply_too_big, 1);
  assertCountersAddUp(ac.counters);
});

Deno.test("sessions(), session() and counters are copies", () => {
  const { ac } = server();
  const id = sessionEvent(open(ac, "isp", { hostUniq: bytes(5) }).out.events[0]).sessionId;
  const listed = ac.sessions()[0];
  listed.peerMac.fill(0);
  listed.hostUniq?.fill(0);
  assert.deepEqual(ac.session(id)?.peerMac, HOST);
  assert.deepEqual(ac.session(id)?.hostUniq, bytes(5));
  const c = ac.counters;
  c.padi = 99;
  c.malformed.truncated = 99;
  assert.equal(ac.counters.padi, 1);
  assert.equal(ac.counters.malformed.truncated, 0);
});

Deno.test("constructor: refuses bad options with 'Cannot create PPPoE discovery server'", () => {
  const bad: Partial<DiscoveryServerOptions>[] = [
    { localMac: bytes(2, 0, 0) },
    { localMac: BROADCAST_MAC },
    { services: [] },
    { services: [""] },
    { services: ["a", "a"] },
    { services: ["x".repeat(1500)] },
    { acName: "x".repeat(1500) },
    { maxSessions: 0 },
    { maxSessions: 65535 },
    { maxSessions: 1.5 },
    { perMacLimit: 0 },
    { cookieBucketMs: 0 },
  ];
  for (const o of bad) {
    assert.throws(() => server(o), (e: unknown) => {
      return e instanceof RangeError &&
        /^Cannot create (PPPoE discovery server|AC-Cookie)/.test(e.message);
    }, JSON.stringify(o));
  }
  assert.equal(server({ maxSessions: 65534 }).ac.size, 0);
});

Deno.test("AcCookieJar: binds MAC, Host-Uniq (absent is not empty) and service", () => {
  const jar = new AcCookieJar({ clock: new FakeClock() });
  const input = { peerMac: HOST, hostUniq: bytes(1), service: "isp" };
  const cookie = jar.issue(input);
  assert.equal(cookie.length, AC_COOKIE_LENGTH);
  assert.ok(jar.verify(cookie, input));
  assert.ok(jar.verify(cookie, { ...input, service: new TextEncoder().encode("isp") }));
  assert.ok(!jar.verify(cookie, { ...input, peerMac: HOST2 }));
  assert.ok(!jar.verify(cookie, { ...input, hostUniq: bytes(2) }));
  assert.ok(!jar.verify(cookie, { ...input, hostUniq: undefined }));
  assert.ok(!jar.verify(cookie, { ...input, service: "is" }));
  assert.ok(!jar.verify(cookie.subarray(1), input));
  const empty = { peerMac: HOST, hostUniq: bytes(), service: "" };
  assert.ok(!jar.verify(jar.issue(empty), { peerMac: HOST, service: "" }));
  assert.ok(!new AcCookieJar().verify(cookie, input), "another jar has other keys");
  assert.notDeepEqual(jar.issue(input), jar.issue(input));
});

Deno.test("AcCookieJar: a cookie lives one to two buckets", () => {
  const clock = new FakeClock();
  const jar = new AcCookieJar({ clock, bucketMs: 1000 });
  const input = { peerMac: HOST, service: "" };
  const atStart = jar.issue(input);
  clock.advance(999);
  const atEnd = jar.issue(input);
  clock.advance(1000); // t = 1999: bucket 1
  assert.ok(jar.verify(atStart, input));
  assert.ok(jar.verify(atEnd, input));
  clock.advance(1); // t = 2000: bucket 2
  assert.ok(!jar.verify(atStart, input));
  assert.ok(!jar.verify(atEnd, input));
  assert.throws(() => new AcCookieJar({ bucketMs: -1 }), RangeError);
});

Deno.test("fuzz: 20,000 random and mutated frames: receive() never throws, counters add up", () => {
  const rand = prng(0x8863);
  const int = (n: number): number => Math.floor(rand() * n);
  const { ac, clock } = server({ maxSessions: 24, perMacLimit: 3, random: scriptedRandom([], 7) });
  const hosts = Array.from({ length: 16 }, (_, i) => bytes(0x02, 0, 0, 0, 1, i));
  const sources = [...hosts, AC, bytes(0x01, 0, 0x5e, 0, 0, 1), bytes(2, 0)];
  const destinations = [AC, AC, AC, BROADCAST_MAC, BROADCAST_MAC, OTHER_AC, bytes(1)];
  const pool: Uint8Array[] = [];
  const cookies: { source: Uint8Array; padr: Uint8Array }[] = [];
  let opened = 0, closed = 0;
  const services = ["", "isp", "voip", "iptv"];
  for (let i = 0; i < 20_000; i++) {
    const source = rand() < 0.85 ? hosts[int(hosts.length)] : sources[int(sources.length)];
    let destination = destinations[int(destinations.length)];
    let payload: Uint8Array;
    const kind = int(10);
    if (kind < 3) {
      const tags = [tag(0x0101, services[int(services.length)])];
      if (rand() < 0.5) tags.push(tag(0x0103, new Uint8Array(int(8)).fill(int(256))));
      if (rand() < 0.2) tags.push(tag(0x0110, new Uint8Array(int(12)).fill(0x55)));
      // Mostly PADIs; some PADRs out of the blue (no cookie, or a random one).
      if (rand() < 0.15) tags.push(tag(0x0104, new Uint8Array(int(2) * 24).fill(int(256))));
      const code = rand() < 0.85 ? PppoeCode.PADI : PppoeCode.PADR;
      payload = encodePppoe({ code, sessionId: 0, tags });
    } else if (kind < 6 && cookies.length > 0) {
      const c = cookies[int(cookies.length)];
      payload = c.padr;
      if (rand() < 0.9) destination = AC;
      const out = ac.receive({ source: c.source, destination, payload });
      for (const e of out.events) if (e.type === "session") opened++;
      continue;
    } else if (kind < 7 && ac.size > 0) {
      const s = ac.sessions()[int(ac.size)];
      payload = encodePppoe({ code: PppoeCode.PADT, sessionId: s.sessionId, tags: [] });
      const out = ac.receive({ source: rand() < 0.8 ? s.peerMac : source, destination, payload });
      closed += out.events.filter((e) => e.type === "terminated").length;
      continue;
    } else if (kind < 8 && ac.size > 0 && rand() < 0.3) {
      if (ac.terminate(ac.sessions()[0].sessionId, "bye") !== undefined) closed++;
      continue;
    } else if (kind < 9 && pool.length > 0) {
      payload = pool[int(pool.length)].slice();
      for (let k = 1 + int(4); k > 0; k--) payload[int(payload.length)] = int(256);
      if (rand() < 0.3) payload = payload.subarray(0, int(payload.length + 1));
    } else {
      payload = new Uint8Array(int(60)).map(() => int(256));
      if (payload.length > 1 && rand() < 0.7) payload[0] = 0x11;
    }
    const out = ac.receive({ source, destination, payload });
    for (const f of out.frames) {
      assert.deepEqual(f.destination, source);
      const p = decodePppoe(f.payload);
      if (p.code === PppoeCode.PADO) {
        // Make a PADR from it (with the PADI's tags) for later; sometimes damage it.
        const request = decodePppoe(payload);
        const padr = encodePppoe({
          code: PppoeCode.PADR,
          sessionId: 0,
          tags: [...request.tags, tag(0x0104, findTag(p, PppoeTagType.AC_COOKIE) ?? bytes())],
        });
        if (rand() < 0.2) padr[padr.length - 1] ^= 0xff;
        cookies.push({ source, padr });
        if (cookies.length > 200) cookies.shift();
      }
    }
    for (const e of out.events) {
      if (e.type === "session") opened++;
      else closed++;
    }
    if (pool.length < 50) pool.push(payload);
    if (rand() < 0.01) clock.advance(int(20_000));
    if (i % 1000 === 0) assertCountersAddUp(ac.counters);
  }
  const c = ac.counters;
  assertCountersAddUp(c);
  assert.ok(ac.size <= 24);
  assert.equal(ac.size, opened - closed);
  assert.equal(c.sessions_opened, opened);
  // The run must reach every branch, not just bounce off the decoder.
  for (
    const k of [
      "pado",
      "sessions_opened",
      "padr_retransmitted",
      "bad_cookie",
      "unknown_service",
      "refused_service",
      "refused_per_mac",
      "refused_full",
      "terminated_by_peer",
      "unknown_padt",
      "loopback",
      "not_for_us",
      "padt_out",
    ] as const
  ) {
    assert.ok(c[k] > 0, `${k} never happened: ${JSON.stringify(c)}`);
  }
  assert.ok(Object.values(c.malformed).filter((n) => n > 0).length >= 6);
});
