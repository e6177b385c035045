/**
 * Golden-byte tests for lib/ffi/sockaddr.ts. The expected bytes were produced by filling the
 * structs from the Linux UAPI headers with a C compiler (x86_64, little-endian).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  decodeSockaddr,
  encodeL2tpipSockaddr,
  encodeSockaddr,
  encodeSockaddrIn,
  encodeSockaddrIn6,
  encodeSockaddrL2tpip,
  encodeSockaddrL2tpip6,
  encodeSockaddrPppol2tp,
  formatEndpoint,
  formatIPv4,
  formatIPv6,
  HOST_LITTLE_ENDIAN,
  ipFamily,
  isIP,
  parseIP,
  parseIPv4,
  parseIPv6,
  scopeIdOf,
  splitZone,
} from "../../dataplane/ffi/sockaddr.ts";

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function unhex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const golden = { ignore: !HOST_LITTLE_ENDIAN };

Deno.test("parseIPv4 accepts dotted quads and rejects malformed text", () => {
  assert.deepEqual(parseIPv4("192.0.2.1"), new Uint8Array([192, 0, 2, 1]));
  assert.deepEqual(parseIPv4("0.0.0.0"), new Uint8Array(4));
  assert.deepEqual(parseIPv4("255.255.255.255"), new Uint8Array([255, 255, 255, 255]));
  for (
    const bad of [
      "1.2.3",
      "1.2.3.4.5",
      "256.0.0.1",
      "01.2.3.4",
      "1.2.3.-4",
      "a.b.c.d",
      "",
      "1..2.3",
    ]
  ) {
    assert.throws(() => parseIPv4(bad), TypeError, bad);
  }
  assert.throws(() => parseIPv4("1.2.3"), /Cannot parse IPv4 address "1.2.3"/);
});

Deno.test("formatIPv4 writes a dotted quad", () => {
  assert.equal(formatIPv4(new Uint8Array([10, 20, 30, 40])), "10.20.30.40");
  assert.throws(() => formatIPv4(new Uint8Array(3)), RangeError);
});

Deno.test("parseIPv6 handles full, compressed and embedded-IPv4 forms (RFC 4291 2.2)", () => {
  const cases: [string, string][] = [
    ["2001:DB8:0:0:8:800:200C:417A", "20010db80000000000080800200c417a"],
    ["2001:db8::8:800:200c:417a", "20010db80000000000080800200c417a"],
    ["ff01::101", "ff010000000000000000000000000101"],
    ["::1", "00000000000000000000000000000001"],
    ["::", "00000000000000000000000000000000"],
    ["1::", "00010000000000000000000000000000"],
    ["0:0:0:0:0:0:13.1.68.3", "0000000000000000000000000d014403"],
    ["::13.1.68.3", "0000000000000000000000000d014403"],
    ["::FFFF:129.144.52.38", "00000000000000000000ffff81903426"],
    ["1:2:3:4:5:6:7::", "00010002000300040005000600070000"],
    ["::2:3:4:5:6:7:8", "00000002000300040005000600070008"],
    ["0001:0002:0003:0004:0005:0006:0007:0008", "00010002000300040005000600070008"],
  ];
  for (const [text, want] of cases) assert.equal(hex(parseIPv6(text)), want, text);
});

Deno.test("parseIPv6 rejects malformed text", () => {
  const bad = [
    "",
    ":",
    ":::",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "1::2::3",
    "12345::",
    "g::1",
    "1:2:3:4:5:6:7:8::",
    "::1.2.3.4:5",
    "1.2.3.4::",
    "::256.1.1.1",
    ":1::",
    "1:",
    "fe80::1%eth0",
  ];
  for (const b of bad) assert.throws(() => parseIPv6(b), TypeError, b);
});

Deno.test("formatIPv6 writes RFC 5952 canonical text", () => {
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // leftmost of equal runs
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // single zero group is not compressed
    ["2001:0:0:1:0:0:0:1", "2001:0:0:1::1"], // longest run wins
    ["0:0:0:0:0:0:0:0", "::"],
    ["0:0:0:0:0:0:0:1", "::1"],
    ["1:0:0:0:0:0:0:0", "1::"],
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
    ["::ffff:c000:201", "::ffff:192.0.2.1"],
    ["FE80::ABCD", "fe80::abcd"],
  ];
  for (const [text, want] of cases) assert.equal(formatIPv6(parseIPv6(text)), want, text);
  assert.throws(() => formatIPv6(new Uint8Array(4)), RangeError);
});

Deno.test("parseIP/formatIP/ipFamily/isIP dispatch on the address text", () => {
  assert.equal(ipFamily("10.0.0.1"), 4);
  assert.equal(ipFamily("::"), 6);
  assert.equal(parseIP("10.0.0.1").length, 4);
  assert.equal(parseIP("::1").length, 16);
  assert.equal(isIP("fe80::1%eth0"), true);
  assert.equal(isIP("fe80::1%"), false);
  assert.equal(isIP("1.2.3.4"), true);
  assert.equal(isIP("1.2.3.4.5"), false);
  assert.deepEqual(splitZone("fe80::1%eth0"), { address: "fe80::1", zone: "eth0" });
  assert.deepEqual(splitZone("::1"), { address: "::1" });
});

Deno.test("scopeIdOf uses numeric zones directly and resolves names", () => {
  assert.equal(scopeIdOf("fe80::1"), 0);
  assert.equal(scopeIdOf("fe80::1%7"), 7);
  assert.equal(scopeIdOf("fe80::1%eth0", (n) => (n === "eth0" ? 4 : 0)), 4);
  assert.throws(() => scopeIdOf("fe80::1%nope", () => 0), /Cannot resolve IPv6 zone "nope"/);
});

Deno.test("formatEndpoint brackets IPv6", () => {
  assert.equal(formatEndpoint({ address: "1.2.3.4", port: 1701 }), "1.2.3.4:1701");
  assert.equal(formatEndpoint({ address: "2001:db8::1", port: 0 }), "[2001:db8::1]:0");
});

Deno.test("encodeSockaddrIn golden bytes", golden, () => {
  assert.equal(
    hex(encodeSockaddrIn({ address: "192.0.2.1", port: 1701 })),
    "020006a5c000020100000000" + "00000000",
  );
  assert.throws(() => encodeSockaddrIn({ address: "1.2.3.4", port: 65536 }), RangeError);
  assert.throws(() => encodeSockaddrIn({ address: "1.2.3.4", port: 1.5 }), RangeError);
});

Deno.test("encodeSockaddrIn6 golden bytes, with and without a scope", golden, () => {
  assert.equal(
    hex(encodeSockaddrIn6({ address: "2001:db8::1", port: 1701 })),
    "0a0006a5" + "00000000" + "20010db8000000000000000000000001" + "00000000",
  );
  assert.equal(
    hex(encodeSockaddrIn6({ address: "fe80::1%3", port: 0 })),
    "0a000000" + "00000000" + "fe800000000000000000000000000001" + "03000000",
  );
  assert.equal(encodeSockaddr({ address: "::1", port: 1 }).length, 28);
  assert.equal(encodeSockaddr({ address: "127.0.0.1", port: 1 }).length, 16);
});

Deno.test("decodeSockaddr reverses sockaddr_in and sockaddr_in6", () => {
  assert.deepEqual(decodeSockaddr(encodeSockaddrIn({ address: "192.0.2.1", port: 1701 })), {
    family: 2,
    address: "192.0.2.1",
    port: 1701,
    connId: 0,
  });
  assert.deepEqual(decodeSockaddr(encodeSockaddrIn6({ address: "fe80::1%3", port: 9 })), {
    family: 10,
    address: "fe80::1%3",
    port: 9,
  });
  assert.throws(() => decodeSockaddr(new Uint8Array([1, 0, 0, 0])), /unsupported family 1/);
  assert.throws(() => decodeSockaddr(new Uint8Array(1)), RangeError);
});

Deno.test("encodeSockaddrL2tpip golden bytes (struct sockaddr_l2tpip)", golden, () => {
  assert.equal(
    hex(encodeSockaddrL2tpip("192.0.2.1", 0x01020304)),
    "02000000c00002010403020100000000",
  );
  assert.throws(() => encodeSockaddrL2tpip("192.0.2.1", 2 ** 32), RangeError);
  assert.deepEqual(decodeSockaddr(unhex("02000000c00002010403020100000000")), {
    family: 2,
    address: "192.0.2.1",
    port: 0,
    connId: 0x01020304,
  });
});

Deno.test("encodeSockaddrL2tpip6 golden bytes (struct sockaddr_l2tpip6)", golden, () => {
  const want = "0a000000000000002001" + "0db8000000000000000000000001000000002a000000";
  assert.equal(hex(encodeSockaddrL2tpip6("2001:db8::1", 42)), want);
  assert.equal(hex(encodeL2tpipSockaddr("2001:db8::1", 42)), want);
  assert.deepEqual(decodeSockaddr(unhex(want)), {
    family: 10,
    address: "2001:db8::1",
    port: 0,
    connId: 42,
  });
});

Deno.test("encodeSockaddrPppol2tp v2/IPv4 golden bytes (packed, 38 bytes)", golden, () => {
  const sa = encodeSockaddrPppol2tp({
    version: 2,
    pid: 0x1234,
    fd: 7,
    tunnelId: 1,
    sessionId: 2,
    peerTunnelId: 0x0304,
    peerSessionId: 0xfffe,
    peer: { address: "192.0.2.2", port: 1701 },
  });
  assert.equal(
    hex(sa),
    "1800010000003412000007000000020006a5c00002020000000000000000010002000403feff",
  );
});

Deno.test("encodeSockaddrPppol2tp v2/IPv6 golden bytes (50 bytes)", golden, () => {
  const sa = encodeSockaddrPppol2tp({
    version: 2,
    fd: 7,
    tunnelId: 1,
    sessionId: 2,
    peerTunnelId: 3,
    peerSessionId: 4,
    peer: { address: "2001:db8::2", port: 1701 },
  });
  assert.equal(
    hex(sa),
    "180001000000000000000700000001000200030004000a0006a50000000020010db8" +
      "00000000000000000000000200000000",
  );
});

Deno.test("encodeSockaddrPppol2tp v3/IPv4 golden bytes (46 bytes)", golden, () => {
  const sa = encodeSockaddrPppol2tp({
    version: 3,
    fd: 9,
    tunnelId: 42,
    sessionId: 128,
    peerTunnelId: 45,
    peerSessionId: 5196755,
    peer: { address: "10.0.0.1", port: 5000 },
  });
  assert.equal(
    hex(sa),
    "1800010000000000000009000000020013880a00000100000000000000002a000000800000002d000000d34b4f00",
  );
});

Deno.test("encodeSockaddrPppol2tp v3/IPv6 golden bytes (58 bytes)", golden, () => {
  const sa = encodeSockaddrPppol2tp({
    version: 3,
    fd: 9,
    tunnelId: 0xdeadbeef,
    sessionId: 1,
    peerTunnelId: 2,
    peerSessionId: 3,
    peer: { address: "fe80::1%3", port: 0 },
  });
  assert.equal(
    hex(sa),
    "1800010000000000000009000000efbeadde0100000002000000030000000a000000" +
      "00000000fe80000000000000000000000000000103000000",
  );
});

Deno.test("encodeSockaddrPppol2tp range-checks ids per version", () => {
  const base = {
    fd: 3,
    tunnelId: 1,
    sessionId: 1,
    peerTunnelId: 1,
    peerSessionId: 70000,
    peer: { address: "1.2.3.4", port: 1701 },
  };
  assert.throws(
    () => encodeSockaddrPppol2tp({ ...base, version: 2 }),
    /Cannot use peer session ID 70000/,
  );
  assert.equal(encodeSockaddrPppol2tp({ ...base, version: 3 }).length, 46);
  assert.throws(() => encodeSockaddrPppol2tp({ ...base, version: 3, fd: -1 }), RangeError);
});
