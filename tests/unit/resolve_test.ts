import assert from "node:assert/strict";
import { resolveHost } from "../../dataplane/ffi/resolve.ts";

Deno.test("resolveHost finds localhost through /etc/hosts, per family", async () => {
  assert.deepEqual(await resolveHost("localhost", 4), ["127.0.0.1"]);
  assert.ok((await resolveHost("localhost")).includes("127.0.0.1"));
});

Deno.test("resolveHost returns address literals as they are", async () => {
  assert.deepEqual(await resolveHost("192.0.2.7"), ["192.0.2.7"]);
  assert.deepEqual(await resolveHost("2001:db8::1"), ["2001:db8::1"]);
});

Deno.test("resolveHost reports a name that does not resolve", async () => {
  await assert.rejects(
    resolveHost("no-such-host.invalid"),
    /^Error: Cannot resolve no-such-host\.invalid: /,
  );
});
