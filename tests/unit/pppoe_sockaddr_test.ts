/**
 * Golden-byte tests for the PPPoE additions to dataplane/ffi/sockaddr.ts (`sockaddr_ll`,
 * `sockaddr_pppox` for PX_PROTO_OE, MAC text) and for the ioctl number helpers of
 * dataplane/ppp_bridge.ts. The expected bytes were produced by filling the structs from the
 * Linux UAPI headers (`linux/if_packet.h`, `linux/if_pppox.h`) with a C compiler on x86_64
 * (little-endian); the ioctl numbers are what `linux/ppp-ioctl.h` expands to there. No root or
 * kernel support is needed.
 *
 * @module
 */

import { formatMac, parseMac } from "../../control/mac.ts";
import assert from "node:assert/strict";
import {
  AF_PACKET,
  decodeSockaddrLl,
  encodeSockaddrLl,
  encodeSockaddrPppoe,
  HOST_LITTLE_ENDIAN,
  PX_PROTO_OE,
  SOCKADDR_LL_SIZE,
  SOCKADDR_PPPOX_SIZE,
} from "../../dataplane/ffi/sockaddr.ts";
import {
  _IO,
  _IOR,
  _IOW,
  IOC_NONE,
  IOC_READ,
  IOC_WRITE,
  ioctlNumber,
  PPPIOCATTCHAN,
  PPPIOCBRIDGECHAN,
  PPPIOCGCHAN,
  PPPIOCUNBRIDGECHAN,
  SIZEOF_INT,
} from "../../dataplane/ppp_bridge.ts";
import { normalizeMac } from "../../dataplane/packet_socket.ts";

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function unhex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

// Golden bytes are little-endian (host-order fields: family, ifindex, hatype, sa_protocol).
const goldenIt = HOST_LITTLE_ENDIAN ? Deno.test : Deno.test.ignore;

goldenIt("sockaddr_ll for sendto: broadcast destination, halen 6", () => {
  const sa = encodeSockaddrLl({ protocol: 0x8863, ifindex: 2, address: "ff:ff:ff:ff:ff:ff" });
  assert.equal(sa.length, SOCKADDR_LL_SIZE);
  assert.equal(hex(sa), "110088630200000000000006ffffffffffff0000");
});

goldenIt("sockaddr_ll for bind: protocol and ifindex, no address", () => {
  const sa = encodeSockaddrLl({ protocol: 0x8864, ifindex: 0x01020304 });
  assert.equal(hex(sa), "1100886404030201000000000000000000000000");
});

goldenIt("sockaddr_ll as recvfrom fills it: decoded fields", () => {
  const sa = decodeSockaddrLl(unhex("11008863070000000100010602005e1000010000"));
  assert.deepEqual(sa, {
    protocol: 0x8863,
    ifindex: 7,
    hatype: 1,
    pkttype: 1,
    address: "02:00:5e:10:00:01",
  });
  // The kernel reports a socklen that may stop after the address bytes.
  const short = unhex("11008863070000000100010602005e100001");
  assert.equal(decodeSockaddrLl(short, 18).address, "02:00:5e:10:00:01");
});

Deno.test("sockaddr_ll round-trips and rejects bad input", () => {
  const sa = decodeSockaddrLl(
    encodeSockaddrLl({ protocol: 0x8864, ifindex: 9, address: "AA-BB-CC-DD-EE-0F" }),
  );
  assert.equal(sa.protocol, 0x8864);
  assert.equal(sa.ifindex, 9);
  assert.equal(sa.address, "aa:bb:cc:dd:ee:0f");
  assert.throws(() => decodeSockaddrLl(new Uint8Array(8)), /Cannot decode sockaddr_ll: 8 bytes/);
  const wrongFamily = new Uint8Array(SOCKADDR_LL_SIZE);
  wrongFamily[0] = 2;
  assert.throws(() => decodeSockaddrLl(wrongFamily), /family 2 is not AF_PACKET/);
  const longHalen = encodeSockaddrLl({ protocol: 1, ifindex: 1, address: "02:00:00:00:00:01" });
  assert.throws(() => decodeSockaddrLl(longHalen, 14), /sll_halen 6 runs past 14 bytes/);
  assert.throws(() => encodeSockaddrLl({ protocol: 0x10000, ifindex: 1 }), /EtherType 65536/);
  assert.throws(() => encodeSockaddrLl({ protocol: 1, ifindex: -1 }), /interface index -1/);
  assert.throws(() => encodeSockaddrLl({ protocol: 1, ifindex: 1, address: "1:2:3" }), /MAC/);
  assert.equal(AF_PACKET, 17);
});

goldenIt("sockaddr_pppox for PPPoE: packed, 30 bytes, sid big-endian", () => {
  const sa = encodeSockaddrPppoe({
    sessionId: 0x1234,
    peerMac: "02:00:5e:10:00:01",
    ifname: "eth1",
  });
  assert.equal(sa.length, SOCKADDR_PPPOX_SIZE);
  assert.equal(hex(sa), "180000000000123402005e10000165746831000000000000000000000000");
  assert.equal(PX_PROTO_OE, 0);
});

goldenIt("sockaddr_pppox with a 15-byte interface name keeps the terminating NUL", () => {
  const sa = encodeSockaddrPppoe({
    sessionId: 0xfffe,
    peerMac: "AA:BB:CC:DD:EE:FF",
    ifname: "abcdefghijklmno",
  });
  assert.equal(hex(sa), "180000000000fffeaabbccddeeff6162636465666768696a6b6c6d6e6f00");
});

Deno.test("sockaddr_pppox rejects out-of-range session IDs, bad MACs and names", () => {
  const ok = { sessionId: 1, peerMac: "02:00:00:00:00:01", ifname: "eth0" };
  assert.throws(() => encodeSockaddrPppoe({ ...ok, sessionId: 0x10000 }), /session ID 65536/);
  assert.throws(() => encodeSockaddrPppoe({ ...ok, sessionId: 1.5 }), /session ID 1.5/);
  assert.throws(() => encodeSockaddrPppoe({ ...ok, peerMac: "02:00:00:00:00" }), /MAC address/);
  assert.throws(() => encodeSockaddrPppoe({ ...ok, peerMac: "02:00:00:00:00:zz" }), /MAC/);
  assert.throws(() => encodeSockaddrPppoe({ ...ok, ifname: "" }), /1 to 15 bytes/);
  assert.throws(() => encodeSockaddrPppoe({ ...ok, ifname: "abcdefghijklmnop" }), /1 to 15/);
  assert.equal(encodeSockaddrPppoe({ ...ok, sessionId: 0 }).length, SOCKADDR_PPPOX_SIZE);
});

Deno.test("MAC text: parse, format, normalize", () => {
  assert.deepEqual([...parseMac("02:00:5E:10:00:01")], [2, 0, 0x5e, 0x10, 0, 1]);
  assert.deepEqual([...parseMac("02-00-5e-10-00-01")], [2, 0, 0x5e, 0x10, 0, 1]);
  assert.equal(formatMac(new Uint8Array([0xff, 0, 1, 0xab, 0x10, 9])), "ff:00:01:ab:10:09");
  assert.equal(normalizeMac("AA-BB-CC-DD-EE-FF"), "aa:bb:cc:dd:ee:ff");
  assert.throws(() => parseMac("0200.5e10.0001"), /Cannot use MAC address "0200.5e10.0001"/);
  assert.throws(() => parseMac("02:00:5e:10:00:01:02"), /six hex byte pairs/);
});

Deno.test("ioctl numbers match linux/ppp-ioctl.h (generic _IOC encoding)", () => {
  // From the C preprocessor on x86_64: PPPIOCGCHAN _IOR('t', 55, int), PPPIOCATTCHAN
  // _IOW('t', 56, int), PPPIOCBRIDGECHAN _IOW('t', 53, int), PPPIOCUNBRIDGECHAN _IO('t', 52).
  assert.equal(PPPIOCGCHAN, 0x80047437n);
  assert.equal(PPPIOCATTCHAN, 0x40047438n);
  assert.equal(PPPIOCBRIDGECHAN, 0x40047435n);
  assert.equal(PPPIOCUNBRIDGECHAN, 0x7434n);
  // Others from the same header, as a check of the helpers themselves.
  assert.equal(_IO("t", 57), 0x7439n); // PPPIOCDISCONN
  assert.equal(_IOR("t", 54, 72), 0x80487436n); // PPPIOCGL2TPSTATS (struct of 72 bytes)
  assert.equal(_IOW("t", 58, SIZEOF_INT), 0x4004743an); // PPPIOCCONNECT
  assert.equal(ioctlNumber(IOC_READ | IOC_WRITE, "t", 62, SIZEOF_INT), 0xc004743en); // NEWUNIT
  assert.equal(ioctlNumber(IOC_NONE, 0x89, 0, 0), 0x8900n);
  assert.equal(_IOW(0xb1, 0, 8), 0x4008b100n); // PPPOEIOCSFWD _IOW(0xB1, 0, size_t)
  assert.equal(IOC_WRITE, 1);
  assert.equal(IOC_READ, 2);
});

Deno.test("ioctl helpers reject fields that do not fit", () => {
  assert.throws(() => ioctlNumber(4, "t", 1, 0), /direction 4/);
  assert.throws(() => _IO("t", 256), /number 256/);
  assert.throws(() => _IOR("t", 1, 0x4000), /size 16384/);
  assert.throws(() => _IO("tt", 1), /type tt is not one byte/);
  assert.throws(() => _IO(256, 1), /type 256 is not one byte/);
});
