import assert from "node:assert/strict";
import {
  L2TP_ATTR,
  L2TP_CMD,
  parseSession,
  parseStats,
  parseTunnel,
  sessionCreateRequest,
  sessionDeleteRequest,
  sessionGetRequest,
  sessionModifyRequest,
  tunnelCreateRequest,
  tunnelDeleteRequest,
  tunnelGetRequest,
  tunnelModifyRequest,
  UnsupportedPseudowireError,
  validateSessionSpec,
  validateTunnelSpec,
} from "../../dataplane/l2tp_genl.ts";
import type { SessionSpec, TunnelSpec } from "../../dataplane/dataplane.ts";
import { AttributeEncoder, decodeAttributes } from "../../dataplane/netlink/attr.ts";
import { NetlinkDecodeError } from "../../dataplane/netlink/errors.ts";
import {
  decodeGenl,
  decodeMessages,
  encodeGenlMessage,
  GENL_HDRLEN,
  NLM_F_ACK,
  NLM_F_REQUEST,
  NLMSG_HDRLEN,
} from "../../dataplane/netlink/message.ts";

function hex(s: string): Uint8Array {
  return new Uint8Array(s.trim().split(/\s+/).map((b) => parseInt(b, 16)));
}

function types(attrs: Uint8Array): number[] {
  return decodeAttributes(attrs).map((a) => a.type);
}

const V3_IP: TunnelSpec = {
  tunnelId: 42,
  peerTunnelId: 45,
  version: 3,
  encap: "ip",
  local: { address: "192.0.2.1", port: 0 },
  peer: { address: "192.0.2.2", port: 0 },
};

Deno.test("TUNNEL_CREATE for v3 / IP encap / IPv4 unmanaged, byte by byte", () => {
  const bytes = encodeGenlMessage(
    { type: 0x1c, flags: NLM_F_REQUEST | NLM_F_ACK, sequence: 1, pid: 4242 },
    tunnelCreateRequest(V3_IP),
  );
  const want = hex(`
    44 00 00 00  1c 00  05 00  01 00 00 00  92 10 00 00
    01 01 00 00
    08 00 09 00  2a 00 00 00
    08 00 0a 00  2d 00 00 00
    05 00 07 00  03 00 00 00
    06 00 02 00  01 00 00 00
    08 00 18 00  c0 00 02 01
    08 00 19 00  c0 00 02 02`);
  assert.deepEqual(bytes, want);
});

Deno.test("TUNNEL_CREATE for a managed v2 tunnel sends the fd and no addresses", () => {
  const g = tunnelCreateRequest({
    tunnelId: 1,
    peerTunnelId: 65535,
    version: 2,
    encap: "udp",
    fd: 9,
    local: { address: "10.0.0.1", port: 1701 },
    peer: { address: "10.0.0.2", port: 1701 },
    debug: 15,
  });
  assert.deepEqual(g.header, { command: L2TP_CMD.TUNNEL_CREATE, version: 1 });
  assert.deepEqual(
    g.attributes,
    hex(`
    08 00 09 00 01 00 00 00
    08 00 0a 00 ff ff 00 00
    05 00 07 00 02 00 00 00
    06 00 02 00 00 00 00 00
    08 00 17 00 09 00 00 00
    08 00 11 00 0f 00 00 00`),
  );
});

Deno.test("TUNNEL_CREATE unmanaged UDP over IPv4: ports and checksum (sent only when on)", () => {
  const spec: TunnelSpec = {
    tunnelId: 42,
    peerTunnelId: 45,
    version: 3,
    encap: "udp",
    local: { address: "192.168.1.1", port: 5000 },
    peer: { address: "192.168.1.2", port: 5001 },
  };
  const off = tunnelCreateRequest(spec).attributes;
  assert.deepEqual(types(off), [9, 10, 7, 2, 24, 25, 26, 27]);
  assert.deepEqual(
    off.subarray(off.length - 16),
    hex("06 00 1a 00 88 13 00 00 06 00 1b 00 89 13 00 00"),
  );
  const on = tunnelCreateRequest({ ...spec, udpChecksum: true }).attributes;
  assert.deepEqual(types(on), [9, 10, 7, 2, 24, 25, 26, 27, 13]);
  assert.deepEqual(on.subarray(on.length - 8), hex("05 00 0d 00 01 00 00 00"));
});

Deno.test("TUNNEL_CREATE unmanaged UDP over IPv6: in6 addresses and zero-checksum flags", () => {
  const g = tunnelCreateRequest({
    tunnelId: 7,
    peerTunnelId: 8,
    version: 3,
    encap: "udp",
    local: { address: "2001:db8::1", port: 1 },
    peer: { address: "2001:db8::2", port: 2 },
    udpChecksum: true,
    udp6ZeroChecksumTx: true,
    udp6ZeroChecksumRx: true,
  });
  const attrs = decodeAttributes(g.attributes);
  assert.deepEqual(attrs.map((a) => a.type), [9, 10, 7, 2, 31, 32, 26, 27, 33, 34]);
  assert.equal(attrs[4].data.length, 16);
  assert.equal(attrs[5].data[15], 2);
  assert.equal(attrs[8].data.length, 0);
});

Deno.test("tunnel specs are validated with 'Cannot create tunnel N' errors", () => {
  const bad: [Partial<TunnelSpec>, RegExp][] = [
    [{ version: 2 }, /Cannot create tunnel 42: IP encapsulation needs L2TPv3/],
    [{ version: 4 as 3 }, /version 4 is not 2 or 3/],
    [{ encap: "gre" as "ip" }, /encapsulation "gre" is not udp or ip/],
    [{ tunnelId: 0 }, /Cannot create tunnel 0: tunnel ID 0 is not a non-zero 32-bit/],
    [{ peerTunnelId: 2 ** 32 }, /peer tunnel ID 4294967296/],
    [{ local: undefined }, /either a tunnel socket fd \(managed\) or both local and peer/],
    [{ peer: { address: "2001:db8::2", port: 0 } }, /different address families/],
    [{ local: { address: "192.0.2.300", port: 0 } }, /local address "192.0.2.300" is not an IP/],
    [{ peer: { address: "192.0.2.2", port: 70000 } }, /peer port 70000 is not in 0..65535/],
    [{ fd: -1 }, /socket fd -1/],
    [{ debug: -1 }, /debug mask -1/],
  ];
  for (const [change, message] of bad) {
    assert.throws(
      () => tunnelCreateRequest({ ...V3_IP, ...change }),
      message,
      JSON.stringify(change),
    );
  }
  assert.throws(
    () => validateTunnelSpec({ ...V3_IP, version: 2, encap: "udp", tunnelId: 65536 }),
    (e: unknown) => e instanceof RangeError && /16-bit \(1..65535\) for L2TPv2/.test(e.message),
  );
  validateTunnelSpec({ ...V3_IP, version: 2, encap: "udp", tunnelId: 65535, peerTunnelId: 1 });
});

const ETH: SessionSpec = {
  tunnelId: 42,
  sessionId: 128,
  peerSessionId: 5196755,
  pseudowire: "eth",
};

Deno.test("SESSION_CREATE with every option", () => {
  const g = sessionCreateRequest({
    ...ETH,
    cookie: new Uint8Array([1, 2, 3, 4]),
    peerCookie: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]),
    l2specType: "default",
    l2specLen: 4,
    ifname: "l2tpeth7",
    recvSeq: true,
    sendSeq: false,
    lnsMode: true,
    reorderTimeoutMs: 1000,
    mtu: 1400,
    debug: 1,
  }, 3);
  assert.deepEqual(g.header, { command: L2TP_CMD.SESSION_CREATE, version: 1 });
  assert.deepEqual(
    g.attributes,
    hex(`
    08 00 09 00 2a 00 00 00
    08 00 0b 00 80 00 00 00
    08 00 0c 00 d3 4b 4f 00
    06 00 01 00 05 00 00 00
    05 00 05 00 01 00 00 00
    05 00 06 00 04 00 00 00
    08 00 0f 00 01 02 03 04
    0c 00 10 00 01 02 03 04 05 06 07 08
    0d 00 08 00 6c 32 74 70 65 74 68 37 00 00 00 00
    05 00 12 00 01 00 00 00
    05 00 13 00 00 00 00 00
    05 00 14 00 01 00 00 00
    0c 00 16 00 e8 03 00 00 00 00 00 00
    06 00 1c 00 78 05 00 00
    08 00 11 00 01 00 00 00`),
  );
});

Deno.test("SESSION_CREATE minimal PPP session; empty cookies are not sent", () => {
  const g = sessionCreateRequest(
    { tunnelId: 1, sessionId: 2, peerSessionId: 3, pseudowire: "ppp", cookie: new Uint8Array(0) },
    2,
  );
  assert.deepEqual(types(g.attributes), [9, 11, 12, 1]);
  assert.deepEqual(g.attributes.subarray(24), hex("06 00 01 00 07 00 00 00"));
});

Deno.test("session specs are validated with 'Cannot create session T/S' errors", () => {
  const bad: [Partial<SessionSpec>, number | undefined, RegExp][] = [
    [{ sessionId: 0 }, 3, /Cannot create session 42\/0: session ID 0/],
    [{ sessionId: 70000, pseudowire: "ppp" }, 2, /session ID 70000 is not a non-zero 16-bit/],
    [{ peerSessionId: 5 }, 2, /L2TPv2 carries only PPP pseudowires/],
    [{ pseudowire: "atm" as "eth" }, 3, /pseudowire "atm" is not eth or ppp/],
    [{ cookie: new Uint8Array(3) }, 3, /cookie must be 0, 4 or 8 bytes, not 3/],
    [{ peerCookie: new Uint8Array(16) }, undefined, /peer cookie must be 0, 4 or 8 bytes/],
    [
      { pseudowire: "ppp", peerSessionId: 5, cookie: new Uint8Array(4) },
      2,
      /cookies are an L2TPv3 feature/,
    ],
    [{ l2specLen: 2 }, 3, /L2-Specific Sublayer length 2 is not 0 or 4/],
    [{ l2specType: "none", l2specLen: 4 }, 3, /type none has length 0, not 4/],
    [
      { ifname: "much-too-long-name" },
      3,
      /interface name "much-too-long-name" must be 1 to 15 bytes/,
    ],
    [{ ifname: "a b" }, 3, /interface name "a b"/],
    [{ mtu: 20 }, 3, /MTU 20 is not an integer in 68..65535/],
    [{ reorderTimeoutMs: -5 }, 3, /reorder timeout \(ms\) -5/],
  ];
  for (const [change, version, message] of bad) {
    assert.throws(
      () => sessionCreateRequest({ ...ETH, ...change }, version as 2 | 3 | undefined),
      message,
      JSON.stringify(change),
    );
  }
  validateSessionSpec({ ...ETH, sessionId: 70000 }); // 32-bit when the version is unknown
});

Deno.test("DELETE, MODIFY and GET requests", () => {
  assert.deepEqual(tunnelDeleteRequest(42), {
    header: { command: L2TP_CMD.TUNNEL_DELETE, version: 1 },
    attributes: hex("08 00 09 00 2a 00 00 00"),
  });
  assert.deepEqual(types(tunnelModifyRequest(42, { debug: 3 }).attributes), [9, 17]);
  assert.equal(tunnelGetRequest(42).header.command, L2TP_CMD.TUNNEL_GET);
  assert.equal(tunnelGetRequest().attributes.length, 0);
  assert.deepEqual(
    sessionDeleteRequest(42, 128).attributes,
    hex(`
    08 00 09 00 2a 00 00 00 08 00 0b 00 80 00 00 00`),
  );
  const mod = sessionModifyRequest(42, 128, {
    sendSeq: true,
    recvSeq: false,
    lnsMode: false,
    reorderTimeoutMs: 50,
    debug: 0,
  });
  assert.equal(mod.header.command, L2TP_CMD.SESSION_MODIFY);
  assert.deepEqual(types(mod.attributes), [9, 11, 18, 19, 20, 22, 17]);
  assert.deepEqual(types(sessionGetRequest(42, 128).attributes), [9, 11]);
  assert.equal(sessionGetRequest().attributes.length, 0);
  assert.throws(() => tunnelDeleteRequest(0), /Cannot delete tunnel 0/);
  assert.throws(() => sessionModifyRequest(1, 0, {}), /Cannot modify session 1\/0/);
});

// A TUNNEL_GET reply as the kernel builds it, including PAD attributes for u64 alignment.
const TUNNEL_REPLY = hex(`
  bc 00 00 00 1c 00 00 00 07 00 00 00 92 10 00 00
  04 01 00 00
  05 00 07 00 03 00 00 00
  08 00 09 00 2a 00 00 00
  08 00 0a 00 2d 00 00 00
  08 00 11 00 00 00 00 00
  06 00 02 00 00 00 00 00
  54 00 1e 00
    04 00 09 00
    0c 00 01 00 05 00 00 00 00 00 00 00
    04 00 09 00
    0c 00 02 00 e8 03 00 00 00 00 00 00
    0c 00 04 00 07 00 00 00 00 00 00 00
    0c 00 05 00 00 00 00 00 01 00 00 00
    0c 00 0a 00 02 00 00 00 00 00 00 00
    0c 00 0b 00 03 00 00 00 00 00 00 00
  05 00 0d 00 01 00 00 00
  06 00 1a 00 88 13 00 00
  06 00 1b 00 89 13 00 00
  08 00 18 00 c0 a8 01 01
  08 00 19 00 c0 a8 01 02
  04 00 23 00`);

Deno.test("parse a hand-built TUNNEL_GET reply with STATS and PAD", () => {
  const [m] = decodeMessages(TUNNEL_REPLY);
  const g = decodeGenl(m.data);
  assert.equal(g.header.command, L2TP_CMD.TUNNEL_GET);
  const t = parseTunnel(g.attributes, NLMSG_HDRLEN + GENL_HDRLEN);
  assert.deepEqual(t, {
    tunnelId: 42,
    peerTunnelId: 45,
    version: 3,
    encap: "udp",
    local: { address: "192.168.1.1", port: 5000 },
    peer: { address: "192.168.1.2", port: 5001 },
    udpChecksum: true,
    debug: 0,
    stats: {
      txPackets: 5n,
      txBytes: 1000n,
      txErrors: 0n,
      rxPackets: 7n,
      rxBytes: 2n ** 32n,
      rxSeqDiscards: 0n,
      rxOosPackets: 0n,
      rxErrors: 0n,
      rxCookieDiscards: 2n,
      rxInvalid: 3n,
    },
  });
});

Deno.test("parse a TUNNEL_GET reply for IPv6 and IP encapsulation", () => {
  const v6 = new AttributeEncoder()
    .u8(L2TP_ATTR.PROTO_VERSION, 3).u32(L2TP_ATTR.CONN_ID, 1).u32(L2TP_ATTR.PEER_CONN_ID, 2)
    .u16(L2TP_ATTR.ENCAP_TYPE, 0).flag(L2TP_ATTR.UDP_ZERO_CSUM6_TX)
    .flag(L2TP_ATTR.UDP_ZERO_CSUM6_RX).u16(L2TP_ATTR.UDP_SPORT, 1).u16(L2TP_ATTR.UDP_DPORT, 2)
    .bytes(L2TP_ATTR.IP6_SADDR, new Uint8Array([0x20, 1, 0xd, 0xb8, ...new Array(11).fill(0), 1]))
    .bytes(L2TP_ATTR.IP6_DADDR, new Uint8Array([0xfe, 0x80, ...new Array(13).fill(0), 2]))
    .encode();
  const t = parseTunnel(v6);
  assert.deepEqual(t.local, { address: "2001:db8::1", port: 1 });
  assert.deepEqual(t.peer, { address: "fe80::2", port: 2 });
  assert.equal(t.udp6ZeroChecksumTx, true);
  assert.equal(t.udp6ZeroChecksumRx, true);
  assert.equal(t.udpChecksum, undefined);
  const ip = new AttributeEncoder()
    .u8(L2TP_ATTR.PROTO_VERSION, 3).u32(L2TP_ATTR.CONN_ID, 1).u32(L2TP_ATTR.PEER_CONN_ID, 2)
    .u16(L2TP_ATTR.ENCAP_TYPE, 1).bytes(L2TP_ATTR.IP_SADDR, new Uint8Array([10, 0, 0, 1]))
    .bytes(L2TP_ATTR.IP_DADDR, new Uint8Array([10, 0, 0, 2])).encode();
  const t2 = parseTunnel(ip);
  assert.equal(t2.encap, "ip");
  assert.deepEqual(t2.local, { address: "10.0.0.1", port: 0 });
  assert.deepEqual(t2.stats.rxPackets, 0n);
});

// A SESSION_GET reply's attributes, by hand.
const SESSION_ATTRS = hex(`
  08 00 09 00 2a 00 00 00
  08 00 0b 00 80 00 00 00
  08 00 0a 00 2d 00 00 00
  08 00 0c 00 d3 4b 4f 00
  08 00 11 00 00 00 00 00
  06 00 01 00 05 00 00 00
  0d 00 08 00 6c 32 74 70 65 74 68 30 00 00 00 00
  08 00 0f 00 01 02 03 04
  0c 00 10 00 a1 a2 a3 a4 a5 a6 a7 a8
  05 00 12 00 01 00 00 00
  05 00 13 00 00 00 00 00
  05 00 14 00 01 00 00 00
  04 00 23 00
  0c 00 16 00 e8 03 00 00 00 00 00 00
  14 00 1e 00
    04 00 09 00
    0c 00 08 00 09 00 00 00 00 00 00 00`);

Deno.test("parse a hand-built SESSION_GET reply", () => {
  const s = parseSession(SESSION_ATTRS);
  assert.deepEqual(s, {
    tunnelId: 42,
    sessionId: 128,
    peerSessionId: 5196755,
    peerTunnelId: 45,
    pseudowire: "eth",
    ifname: "l2tpeth0",
    cookie: new Uint8Array([1, 2, 3, 4]),
    peerCookie: new Uint8Array([0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8]),
    recvSeq: true,
    sendSeq: false,
    lnsMode: true,
    reorderTimeoutMs: 1000,
    stats: { ...parseStats(new Uint8Array(0)), rxErrors: 9n },
  });
});

Deno.test("malformed or incomplete replies give typed errors", () => {
  // Missing CONN_ID.
  assert.throws(
    () => parseTunnel(new AttributeEncoder().u8(7, 3).u32(10, 1).encode()),
    (e: unknown) => e instanceof NetlinkDecodeError && /lacks CONN_ID/.test(e.message),
  );
  // A 3-byte IPv4 address.
  assert.throws(
    () =>
      parseTunnel(
        new AttributeEncoder().u8(7, 3).u32(9, 1).u32(10, 1)
          .bytes(L2TP_ATTR.IP_SADDR, new Uint8Array(3)).encode(),
      ),
    /address attribute 24 has 3 bytes, expected 4/,
  );
  // Unknown protocol version.
  assert.throws(
    () => parseTunnel(new AttributeEncoder().u8(7, 4).u32(9, 1).u32(10, 1).encode()),
    /protocol version 4 is not 2 or 3/,
  );
  // A u32 CONN_ID with 2 bytes.
  assert.throws(() => parseTunnel(hex("06 00 09 00 01 00 00 00")), NetlinkDecodeError);
  // STATS nest whose inner attribute overruns it.
  assert.throws(
    () => parseStats(hex("0c 00 01 00 05 00 00 00 00 00 00")),
    NetlinkDecodeError,
  );
  // Truncated attribute stream.
  assert.throws(
    () => parseSession(SESSION_ATTRS.subarray(0, SESSION_ATTRS.length - 3)),
    NetlinkDecodeError,
  );
  // Unsupported pseudowire type.
  const ppp_ac = new AttributeEncoder().u32(9, 1).u32(11, 2).u32(12, 3).u16(1, 8).encode();
  assert.throws(
    () => parseSession(ppp_ac),
    (e: unknown) => e instanceof UnsupportedPseudowireError && e.pwType === 8,
  );
});
