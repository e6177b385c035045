import assert from "node:assert/strict";
import { DEFAULT_CALL_LIMIT, NullDataPlane } from "../../dataplane/null.ts";
import type { TunnelSpec } from "../../dataplane/dataplane.ts";

const TUNNEL: TunnelSpec = {
  tunnelId: 1,
  peerTunnelId: 2,
  version: 3,
  encap: "udp",
  local: { address: "127.0.0.1", port: 5000 },
  peer: { address: "127.0.0.1", port: 5001 },
};

Deno.test("NullDataPlane: calls keeps only the most recent callLimit calls, oldest first", async () => {
  using dp = new NullDataPlane({ callLimit: 5 });
  assert.equal(dp.callLimit, 5);
  await dp.createTunnel(TUNNEL);
  for (let i = 1; i <= 20; i++) {
    await dp.createSession({ tunnelId: 1, sessionId: i, peerSessionId: i, pseudowire: "eth" });
  }
  assert.equal(dp.calls.length, 5);
  assert.deepEqual(
    dp.calls.map((c) => c.sessionId),
    [16, 17, 18, 19, 20],
  );
  assert.ok(dp.calls.every((c) => c.op === "createSession" && c.tunnelId === 1));
  // Tests clear it between steps; it fills again from there.
  dp.calls.length = 0;
  await dp.deleteSession(1, 20);
  assert.deepEqual(dp.calls, [{ op: "deleteSession", tunnelId: 1, sessionId: 20 }]);
});

Deno.test("NullDataPlane: the default bound holds over many session cycles", async () => {
  using dp = new NullDataPlane();
  assert.equal(dp.callLimit, DEFAULT_CALL_LIMIT);
  await dp.createTunnel(TUNNEL);
  const n = DEFAULT_CALL_LIMIT; // create + delete: twice the limit in calls
  for (let i = 1; i <= n; i++) {
    await dp.createSession({ tunnelId: 1, sessionId: i, peerSessionId: i, pseudowire: "ppp" });
    await dp.deleteSession(1, i);
  }
  assert.equal(dp.calls.length, DEFAULT_CALL_LIMIT);
  const last = dp.calls[dp.calls.length - 1];
  assert.deepEqual(last, { op: "deleteSession", tunnelId: 1, sessionId: n });
  assert.deepEqual((await dp.listSessions()).length, 0);
});

Deno.test("NullDataPlane: callLimit 0 records nothing, Infinity everything", async () => {
  using none = new NullDataPlane({ callLimit: 0 });
  using all = new NullDataPlane({ callLimit: Infinity });
  for (const dp of [none, all]) {
    await dp.createTunnel(TUNNEL);
    for (let i = 0; i < 50; i++) await dp.getTunnel(1);
  }
  assert.equal(none.calls.length, 0);
  assert.equal(all.calls.length, 51);
});

Deno.test("NullDataPlane: a bad callLimit is refused", () => {
  for (const callLimit of [-1, 1.5, NaN]) {
    assert.throws(
      () => new NullDataPlane({ callLimit }),
      (e: unknown) =>
        e instanceof RangeError &&
        /^Cannot create null data plane: call limit .* is not a non-negative integer$/.test(
          e.message,
        ),
    );
  }
});

Deno.test("NullDataPlane: failNext still fails the next call of its kind, and it is recorded", async () => {
  using dp = new NullDataPlane({ callLimit: 2 });
  dp.failNext = { op: "createTunnel", error: new Error("boom") };
  await assert.rejects(dp.createTunnel(TUNNEL), /boom/);
  assert.equal(dp.failNext, undefined);
  await dp.createTunnel(TUNNEL);
  assert.deepEqual(dp.calls.map((c) => c.op), ["createTunnel", "createTunnel"]);
});

Deno.test("NullDataPlane: reads are copies that share nothing with the stored state", async () => {
  using dp = new NullDataPlane();
  const spec = { ...TUNNEL, local: { address: "127.0.0.1", port: 5000 } };
  await dp.createTunnel(spec);
  spec.local.port = 1; // the caller's spec is not the stored state
  const t = await dp.getTunnel(1);
  assert.ok(t?.local);
  assert.equal(t.local.port, 5000);
  t.local.port = 2;
  t.stats.rxPackets = 9n;
  const again = await dp.getTunnel(1);
  assert.equal(again?.local?.port, 5000);
  assert.equal(again?.stats.rxPackets, 0n);
  assert.equal((await dp.listTunnels())[0].local?.port, 5000);

  const cookie = new Uint8Array([1, 2, 3, 4]);
  const created = await dp.createSession({
    tunnelId: 1,
    sessionId: 7,
    peerSessionId: 8,
    pseudowire: "eth",
    cookie,
    peerCookie: new Uint8Array([5, 6, 7, 8]),
  });
  cookie[0] = 99;
  assert.ok(created.cookie);
  assert.deepEqual(created.cookie, new Uint8Array([1, 2, 3, 4]));
  created.cookie[1] = 99;
  created.stats.txBytes = 5n;
  const s = await dp.getSession(1, 7);
  assert.deepEqual(s?.cookie, new Uint8Array([1, 2, 3, 4]));
  assert.deepEqual(s?.peerCookie, new Uint8Array([5, 6, 7, 8]));
  assert.equal(s?.stats.txBytes, 0n);
  assert.equal(s?.ifname, "l2tpeth0");
  const [listed] = await dp.listSessions(1);
  assert.notEqual(listed.cookie, s?.cookie, "every read gets its own cookie bytes");
  assert.deepEqual(listed.cookie, s?.cookie);
  assert.deepEqual(await dp.listSessions(2), []);
});
