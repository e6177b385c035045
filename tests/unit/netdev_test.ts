import assert from "node:assert/strict";
import { getInterfaceMtu, setInterfaceMtu } from "../../dataplane/netdev.ts";
import { OsError } from "../../dataplane/ffi/libc.ts";

Deno.test("getInterfaceMtu reads the loopback MTU", () => {
  const mtu = getInterfaceMtu("lo");
  assert.ok(Number.isInteger(mtu) && mtu >= 1280, `lo MTU ${mtu}`);
});

Deno.test("getInterfaceMtu: missing interface is OsError ENODEV", () => {
  assert.throws(
    () => getInterfaceMtu("nosuchif0"),
    (e: unknown) =>
      e instanceof OsError && e.errno === 19 &&
      e.message === "Cannot get MTU of nosuchif0: No such device (errno 19)",
  );
});

Deno.test("setInterfaceMtu: missing interface is OsError ENODEV", () => {
  assert.throws(
    () => setInterfaceMtu("nosuchif0", 1400),
    (e: unknown) =>
      e instanceof OsError && e.errno === 19 &&
      e.message === "Cannot set MTU of nosuchif0: No such device (errno 19)",
  );
});

Deno.test("interface names and MTUs are checked before any ioctl", () => {
  assert.throws(() => setInterfaceMtu("", 1400), RangeError);
  assert.throws(() => setInterfaceMtu("a-very-long-ifname", 1400), /must be 1 to 15 bytes/);
  assert.throws(() => setInterfaceMtu("lo", 0), /MTU 0 is not a positive integer/);
  assert.throws(() => getInterfaceMtu("x".repeat(16)), RangeError);
});
