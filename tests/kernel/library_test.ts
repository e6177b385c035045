/**
 * The library's example program (examples/two_tunnels.ts) on the kernel data plane: the same
 * program that runs on the null data plane brings up a static L2TPv3 tunnel and an L2TPv2 LAC
 * against an LNS of the same context, and iproute2 sees the kernel state while it runs and none
 * after it.
 */

import assert from "node:assert/strict";
import { ipTunnels, kernelTest, ROOT } from "./_helpers.ts";

kernelTest({
  name: "library: the example program runs on the kernel data plane and leaves the kernel clean",
  fn: async () => {
    const before = (await ipTunnels()).length;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${ROOT}examples/two_tunnels.ts`, "--kernel"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, `${text}\n${new TextDecoder().decode(out.stderr)}`);
    // static3, the LAC's and the LNS's tunnels; pw1 and two calls on each end.
    assert.ok(text.includes("data plane: 3 tunnels, 5 sessions"), text);
    const status = JSON.parse(text.split("\n").find((l) => l.startsWith("{")) ?? "{}");
    const static3 = status.tunnels.find((t: { name: string }) => t.name === "static3");
    assert.match(static3.sessions[0].interface, /^l2tpeth\d+$/, "a real kernel interface");
    assert.ok(text.includes("after closing call1: call2:up"));
    assert.ok(text.includes("closed: 3 tunnel-down, 5 session-down"));
    assert.equal((await ipTunnels()).length, before, "nothing left in the kernel");
  },
});
