/**
 * kpppoed's service loop (lib/kpppoed/run.ts) on the null data plane with a fake discovery port:
 * the control socket shows the PPPoE sessions and ends one by name, and an abort shuts down with
 * a PADT to every subscriber and exit code 0.
 */

import assert from "node:assert/strict";
import { PppoeCode } from "../../control/pppoe/codec.ts";
import { NullDataPlane } from "../../dataplane/null.ts";
import { Context } from "../../lib/context.ts";
import { sendControlRequest } from "../../lib/control_client.ts";
import { parseKpppoedConfig } from "../../lib/kpppoed/config.ts";
import { runKpppoed } from "../../lib/kpppoed/run.ts";
import type { KpppoedStatus } from "../../lib/kpppoed/service.ts";
import { formatStatusTable } from "../../lib/show.ts";
import { dial, FakePort, until } from "./_pppoe_subscriber.ts";

Deno.test("kpppoed run: show over the control socket, down one session, shut down on abort", async () => {
  const dir = await Deno.makeTempDir();
  const lnsPort = 20000 + Math.floor(Math.random() * 20000);
  await using lns = new Context({ dataplane: new NullDataPlane(), stopGraceMs: 100 });
  const t = await lns.newDynamicTunnel("lns", {
    mode: "dynamic",
    version: 2,
    encap: "udp",
    managed: true,
    role: "lns",
    local: { address: "127.0.0.1", port: lnsPort },
    peer: { address: "127.0.0.1", port: 0 },
  });
  await t.newSession("any", {
    pseudowire: "ppp",
    sendSeqnum: false,
    recvSeqnum: false,
    l2specType: "none",
  });
  const port = new FakePort();
  const stop = new AbortController();
  const socketPath = `${dir}/kpppoed.sock`;
  const running = runKpppoed({
    config: parseKpppoedConfig(
      `interface_name = "veth0"\nservices = ["internet"]\nlns_ipaddr = "127.0.0.1:${lnsPort}"\n`,
    ),
    socketPath,
    dataPlane: new NullDataPlane(),
    openPort: () => port,
    signal: stop.signal,
  });
  try {
    const show = async (): Promise<KpppoedStatus> => {
      const answer = await sendControlRequest(socketPath, { command: "show" });
      assert.ok(answer.ok, JSON.stringify(answer));
      return answer.result as KpppoedStatus;
    };
    await until("the control socket", () => {
      try {
        return Deno.statSync(socketPath).isSocket;
      } catch {
        return false;
      }
    });
    const a = await dial(port, "02:00:00:00:00:31");
    const b = await dial(port, "02:00:00:00:00:32");
    let status = await show();
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      if (status.pppoe.sessions.filter((s) => s.state === "up").length === 2) break;
      await new Promise((r) => setTimeout(r, 20));
      status = await show();
    }
    assert.deepEqual(
      status.pppoe.sessions.map((s) => [s.sessionId, s.state]).sort(),
      [
        [a, "up"],
        [b, "up"],
      ].sort(),
    );
    const text = formatStatusTable(status);
    assert.match(text, /PPPOE-ID +MAC/);
    assert.match(text, /02:00:00:00:00:31 +internet +up/);
    const target = status.pppoe.sessions.find((s) => s.sessionId === a);
    const down = await sendControlRequest(socketPath, {
      command: "down",
      tunnel: target?.tunnel ?? "",
      session: target?.session,
    });
    assert.ok(down.ok, JSON.stringify(down));
    assert.equal(port.last("02:00:00:00:00:31", PppoeCode.PADT)?.sessionId, a);
    const wrong = await sendControlRequest(socketPath, {
      command: "down",
      tunnel: "nope",
      session: "pppoe-0000",
    });
    assert.equal(wrong.ok, false);
    assert.equal((await show()).pppoe.sessions.length, 1);
  } finally {
    stop.abort();
  }
  assert.equal(await running, 0);
  assert.ok(port.last("02:00:00:00:00:32", PppoeCode.PADT), "a PADT at shutdown");
  await Deno.remove(dir, { recursive: true });
});
