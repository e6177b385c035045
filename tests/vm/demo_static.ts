/**
 * The demo: two hosts (network namespaces joined by veth), our daemon in each with a static
 * L2TPv3 Ethernet pseudowire read from a TOML file; ping crosses the pseudowire both ways, the
 * kernel's view is shown, then the daemons stop and the kernel is left clean.
 *
 * Runs as root on a kernel with L2TP (`deno task demo` boots the VM when the host has none).
 *
 * @module
 */

import { Topology } from "./topology.ts";

const root = new URL("../../", import.meta.url).pathname;

function say(text: string): void {
  console.log(`\n--- ${text}`);
}

await using topo = await Topology.create({ hosts: 2, prefix: "demo" });
const [h1, h2] = topo.hosts;
const dir = await Deno.makeTempDir({ prefix: "l2tpd-demo-" });

const config = (me: typeof h1, peer: typeof h1, tid: number, ptid: number): string =>
  `[tunnel.t1]
version = "l2tpv3"
encap = "udp"
local = "${me.ipv4}:1701"
peer = "${peer.ipv4}:1701"
tid = ${tid}
ptid = ${ptid}

[tunnel.t1.session.s1]
pseudowire = "eth"
sid = ${tid * 100}
psid = ${ptid * 100}
cookie = [${tid}, 2, 3, 4]
peer_cookie = [${ptid}, 2, 3, 4]
interface_name = "l2tpeth0"
`;

const files = [
  [h1, config(h1, h2, 1, 2)],
  [h2, config(h2, h1, 2, 1)],
] as const;
const daemons: Deno.ChildProcess[] = [];
for (const [h, text] of files) {
  const path = `${dir}/${h.netns}.toml`;
  await Deno.writeTextFile(path, text);
  say(`${h.netns} (${h.ipv4}): ${path}`);
  console.log(text.trimEnd());
  daemons.push(
    topo.spawn(
      h,
      [Deno.execPath(), "run", "-A", "--no-check", `${root}main.ts`, "--config", path],
      {
        stdout: "inherit",
        stderr: "inherit",
      },
    ),
  );
}

const deadline = Date.now() + 30_000;
for (const h of topo.hosts) {
  while ((await topo.exec(h, ["ip", "link", "show", "l2tpeth0"], { allowFailure: true })).code) {
    if (Date.now() > deadline) throw new Error(`Cannot start the demo: no l2tpeth0 in ${h.netns}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

say("the kernel's view in host 1 (ip l2tp show tunnel / session)");
console.log((await topo.exec(h1, ["ip", "l2tp", "show", "tunnel"])).stdout.trimEnd());
console.log((await topo.exec(h1, ["ip", "l2tp", "show", "session"])).stdout.trimEnd());

for (const [i, h] of topo.hosts.entries()) {
  await topo.exec(h, ["ip", "addr", "add", `192.168.99.${i + 1}/24`, "dev", "l2tpeth0"]);
  await topo.exec(h, ["ip", "link", "set", "l2tpeth0", "up"]);
}
say("ping across the pseudowire: host 1 -> 192.168.99.2, host 2 -> 192.168.99.1");
console.log((await topo.ping(h1, "192.168.99.2", { count: 3 })).stdout.trimEnd());
console.log((await topo.ping(h2, "192.168.99.1", { count: 3 })).stdout.trimEnd());

say("stopping both daemons (SIGTERM)");
for (const d of daemons) d.kill("SIGTERM");
const codes = await Promise.all(daemons.map(async (d) => (await d.status).code));
say(`daemons exited with ${codes.join(", ")}; what is left in the kernel:`);
for (const h of topo.hosts) {
  const t = (await topo.exec(h, ["ip", "l2tp", "show", "tunnel"])).stdout.trim();
  const link = await topo.exec(h, ["ip", "link", "show", "l2tpeth0"], { allowFailure: true });
  console.log(
    `${h.netns}: tunnels: ${t === "" ? "none" : t}; l2tpeth0: ${
      link.code === 0 ? "present" : "gone"
    }`,
  );
}
await Deno.remove(dir, { recursive: true });
if (codes.some((c) => c !== 0)) Deno.exit(1);
