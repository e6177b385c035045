import assert from "node:assert/strict";
import { formatIp, parseIp } from "../../dataplane/netlink/inaddr.ts";

Deno.test("parseIp: IPv4 dotted quad to network-order bytes", () => {
  assert.deepEqual(parseIp("192.0.2.1"), new Uint8Array([192, 0, 2, 1]));
  assert.deepEqual(parseIp("0.0.0.0"), new Uint8Array(4));
});

Deno.test("parseIp: rejects malformed IPv4", () => {
  for (const bad of ["256.0.0.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "a.b.c.d", "", "1.2.3.-4"]) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

Deno.test("parseIp: IPv6 forms", () => {
  const loop = new Uint8Array(16);
  loop[15] = 1;
  assert.deepEqual(parseIp("::1"), loop);
  assert.deepEqual(parseIp("::"), new Uint8Array(16));
  assert.deepEqual(
    parseIp("2001:db8::a:1"),
    new Uint8Array([0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0, 1]),
  );
  assert.deepEqual(
    parseIp("::ffff:192.0.2.1"),
    new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]),
  );
  assert.deepEqual(parseIp("1:2:3:4:5:6:7:8")?.[15], 8);
  assert.deepEqual(parseIp("1:2:3:4:5:6:1.2.3.4")?.[12], 1);
});

Deno.test("parseIp: rejects malformed IPv6", () => {
  for (
    const bad of [
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "12345::",
      "::g",
      "fe80::1%eth0",
      ":1.2.3.4",
      "1:2:3:4:5:6:7:8::",
    ]
  ) {
    assert.equal(parseIp(bad), undefined, bad);
  }
});

Deno.test("formatIp: IPv4 and RFC 5952 IPv6", () => {
  assert.equal(formatIp(new Uint8Array([10, 0, 0, 1])), "10.0.0.1");
  assert.equal(formatIp(parseIp("2001:0db8:0:0:0:0:0:1") ?? new Uint8Array(0)), "2001:db8::1");
  assert.equal(formatIp(parseIp("2001:db8:0:1:0:0:0:1") ?? new Uint8Array(0)), "2001:db8:0:1::1");
  assert.equal(formatIp(parseIp("1:0:2:3:4:5:6:7") ?? new Uint8Array(0)), "1:0:2:3:4:5:6:7");
  assert.equal(formatIp(new Uint8Array(16)), "::");
  assert.throws(() => formatIp(new Uint8Array(5)), RangeError);
});
