/**
 * Drop-in for go-l2tp users: go-l2tp's own kl2tpd example configuration (only the LNS address
 * changed to a local one), run with go-l2tp's flags (`-config`, `-null`, `-verbose`) under the
 * kl2tpd personality, establishes its tunnel and session with our LNS, and shuts down cleanly.
 */

import assert from "node:assert/strict";
import { Daemon } from "../../lib/daemon.ts";
import { namedTunnel } from "../../lib/config.ts";
import { NullDataPlane } from "../../dataplane/null.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const README_CONFIG = new URL("../fixtures/config/go_readme.toml", import.meta.url).pathname;

async function until(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("kl2tpd personality runs go-l2tp's README config with -config -null -verbose", async () => {
  const port = 30000 + Math.floor(Math.random() * 20000);
  using lnsDp = new NullDataPlane();
  const lns = new Daemon({
    dataPlane: lnsDp,
    pppd: false,
    config: {
      file: "lns.toml",
      tunnels: [namedTunnel({
        name: "lns",
        mode: "dynamic",
        role: "lns",
        version: 2,
        encap: "udp",
        managed: true,
        local: { address: "127.0.0.1", port },
        peer: { address: "127.0.0.1", port: 0 },
        sessions: [{
          name: "ppp",
          pseudowire: "ppp",
          sendSeqnum: false,
          recvSeqnum: false,
          l2specType: "none",
        }],
      })],
    },
  });
  await lns.start();

  const dir = await Deno.makeTempDir({ prefix: "kl2tpd-" });
  const text = (await Deno.readTextFile(README_CONFIG))
    .replace("42.102.77.204:1701", `127.0.0.1:${port}`)
    .replace("/home/bob/pppd.args", `${dir}/pppd.args`);
  await Deno.writeTextFile(`${dir}/kl2tpd.toml`, text);
  await Deno.writeTextFile(`${dir}/pppd.args`, "noauth\n");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--no-check",
      MAIN,
      "-config",
      `${dir}/kl2tpd.toml`,
      "-null",
      "-verbose",
      "--socket",
      `${dir}/kl2tpd.sock`,
    ],
    env: { L2TPD_PERSONALITY: "kl2tpd", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  try {
    await until(
      "the kl2tpd tunnel and session at our LNS",
      async () =>
        (await lnsDp.listTunnels()).length === 1 && (await lnsDp.listSessions()).length === 1,
    );
    const [t] = await lnsDp.listTunnels();
    assert.equal(t.version, 2);
  } finally {
    child.kill("SIGTERM");
  }
  const out = await output;
  const log = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, log);
  assert.match(log, /kl2tpd .* starting/);
  assert.match(log, /tunnel-up /);
  await until("the LNS to see the StopCCN", async () => (await lnsDp.listTunnels()).length === 0);
  await lns.stop();
  await Deno.remove(dir, { recursive: true });
});
