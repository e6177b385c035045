/**
 * on_up / on_down hooks (lib/hooks.ts) on a real Context over the null data plane: what a command
 * gets in its environment, failures and timeouts that change nothing else, ordering, limits.
 */

import assert from "node:assert/strict";
import {
  Context,
  NullDataPlane,
  parseConfig,
  type SessionConfig,
  type TunnelConfig,
} from "../../lib/mod.ts";
import { EventHub } from "../../lib/events.ts";
import { attachHooks, type EventHooks, type HookOptions, hooksInConfig } from "../../lib/hooks.ts";
import type { Log, LogProperties } from "../../lib/log.ts";

const v3: TunnelConfig = {
  mode: "static",
  version: 3,
  encap: "ip",
  managed: false,
  local: { address: "192.0.2.1", port: 0 },
  peer: { address: "192.0.2.2", port: 0 },
  tid: 1,
  ptid: 2,
};

const eth = (sid: number): SessionConfig => ({
  sid,
  psid: sid + 100,
  pseudowire: "eth",
  sendSeqnum: false,
  recvSeqnum: false,
  l2specType: "default",
});

interface LogRecord {
  level: string;
  message: string;
  properties: LogProperties;
}

/** A logger that keeps every record, with its message rendered. */
function recordingLog(records: LogRecord[], context: LogProperties = {}): Log {
  const at = (level: string) => (message: string, properties: LogProperties = {}): void => {
    const all = { ...context, ...properties };
    const text = message.replace(/\{(\w+)\}/g, (_, k: string) => String(all[k]));
    records.push({ level, message: text, properties: all });
  };
  return {
    category: ["l2tpd", "hooks"],
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn: at("warning"),
    error: at("error"),
    fatal: at("fatal"),
    with: (properties) => recordingLog(records, { ...context, ...properties }),
  };
}

/** `KEY=value` lines (as `env` prints them) as a record. */
function parseEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

function only(env: Record<string, string>, prefix: string): Record<string, string> {
  return Object.fromEntries(Object.entries(env).filter(([k]) => k.startsWith(prefix)));
}

/** A Context on the null data plane with hooks attached, logging into `records`. */
function rig(
  hooksFor: HookOptions["hooksFor"],
  options: Partial<HookOptions> = {},
): {
  dp: NullDataPlane;
  ctx: Context;
  hooks: ReturnType<typeof attachHooks>;
  records: LogRecord[];
  [Symbol.asyncDispose](): Promise<void>;
} {
  const dp = new NullDataPlane();
  const ctx = new Context({ dataplane: dp });
  const records: LogRecord[] = [];
  const hooks = attachHooks(ctx, { hooksFor, logger: recordingLog(records), ...options });
  return {
    dp,
    ctx,
    hooks,
    records,
    async [Symbol.asyncDispose](): Promise<void> {
      await ctx.close();
      await hooks.close();
      dp[Symbol.dispose]();
    },
  };
}

function warnings(records: LogRecord[]): string[] {
  return records.filter((r) => r.level === "warning").map((r) => r.message);
}

Deno.test("hooks: a session's on_up gets the daemon's environment and the L2TPD_* variables", async () => {
  Deno.env.set("HOOKS_TEST_PARENT", "inherited");
  Deno.env.set("L2TPD_REASON", "stale"); // the daemon's own: never passed as the event's
  try {
    const file = await Deno.makeTempFile();
    const down = await Deno.makeTempFile();
    const config = parseConfig(`
[tunnel.t1]
local = "192.0.2.1"
peer = "192.0.2.2"
encap = "ip"
tid = 1
ptid = 2
on_up = ["sh", "-c", 'env > "$1.tunnel"', "sh", ${JSON.stringify(file)}]
[tunnel.t1.session.s1]
sid = 10
psid = 110
pseudowire = "eth"
on_up = 'env > ${JSON.stringify(file)}'
on_down = ["sh", "-c", 'env > "$1"', "sh", ${JSON.stringify(down)}]
`);
    await using r = rig((t, s) => hooksInConfig(config, t, s));
    const [t] = config.tunnels;
    const tunnel = await r.ctx.newStaticTunnel(t.name, t.config);
    const session = await tunnel.newSession(t.sessions[0].name, t.sessions[0].config);
    await r.hooks.idle();
    const env = parseEnv(await Deno.readTextFile(file));
    assert.deepEqual(only(env, "L2TPD_"), {
      L2TPD_EVENT: "session-up",
      L2TPD_TUNNEL: "t1",
      L2TPD_SESSION: "s1",
      L2TPD_LOCAL_TUNNEL_ID: "1",
      L2TPD_PEER_TUNNEL_ID: "2",
      L2TPD_LOCAL_SESSION_ID: "10",
      L2TPD_PEER_SESSION_ID: "110",
      L2TPD_INTERFACE: "l2tpeth0",
      L2TPD_PEER_ADDRESS: "192.0.2.2",
      L2TPD_PSEUDOWIRE: "eth",
    });
    assert.equal(env.HOOKS_TEST_PARENT, "inherited");
    assert.equal(env.PATH, Deno.env.get("PATH"));
    const tenv = parseEnv(await Deno.readTextFile(`${file}.tunnel`));
    assert.deepEqual(only(tenv, "L2TPD_"), {
      L2TPD_EVENT: "tunnel-up",
      L2TPD_TUNNEL: "t1",
      L2TPD_LOCAL_TUNNEL_ID: "1",
      L2TPD_PEER_TUNNEL_ID: "2",
      L2TPD_PEER_ADDRESS: "192.0.2.2",
    });
    // The down hook gets the reason, and what the down event lacks from the up event.
    await session.close();
    await r.hooks.idle();
    const denv = parseEnv(await Deno.readTextFile(down));
    assert.deepEqual(only(denv, "L2TPD_"), {
      L2TPD_EVENT: "session-down",
      L2TPD_TUNNEL: "t1",
      L2TPD_SESSION: "s1",
      L2TPD_LOCAL_TUNNEL_ID: "1",
      L2TPD_PEER_TUNNEL_ID: "2",
      L2TPD_LOCAL_SESSION_ID: "10",
      L2TPD_PEER_SESSION_ID: "110",
      L2TPD_INTERFACE: "l2tpeth0",
      L2TPD_PEER_ADDRESS: "192.0.2.2",
      L2TPD_PSEUDOWIRE: "eth",
      L2TPD_REASON: "closed",
    });
    assert.deepEqual(r.hooks.stats, { running: 0, queued: 0, started: 3, failed: 0, dropped: 0 });
    assert.deepEqual(warnings(r.records), []);
    await Deno.remove(`${file}.tunnel`);
    await Deno.remove(file);
    await Deno.remove(down);
  } finally {
    Deno.env.delete("HOOKS_TEST_PARENT");
    Deno.env.delete("L2TPD_REASON");
  }
});

Deno.test("hooks: a failing hook is a warning with its exit status; the session stays up", async () => {
  const byName: Record<string, EventHooks> = {
    s1: { onUp: { shell: "echo to stdout; echo 'no bridge br0' >&2; exit 3" } },
    s2: { onUp: { argv: ["/nonexistent/l2tpd-hook"] } },
  };
  await using r = rig((_t, s) => s === undefined ? undefined : byName[s]);
  const t = await r.ctx.newStaticTunnel("t1", v3);
  await t.newSession("s1", eth(10));
  await t.newSession("s2", eth(11));
  await r.hooks.idle();
  const w = warnings(r.records).sort();
  assert.equal(w.length, 2, w.join("\n"));
  assert.match(w[0], /^Hook on_up of session "t1\/s1" failed \(session-up\): exit status 3$/);
  const failed = r.records.find((x) => x.level === "warning" && x.properties.session === "s1");
  assert.equal(failed?.properties.stderr, "no bridge br0\n");
  assert.match(w[1], /^Hook on_up of session "t1\/s2" failed \(session-up\): cannot start it: /);
  // The output is in the debug log.
  assert.ok(
    r.records.some((x) => x.level === "debug" && x.properties.stdout === "to stdout\n"),
    "stdout logged at debug",
  );
  assert.deepEqual(r.ctx.status().tunnels[0].sessions.map((s) => [s.name, s.state]), [
    ["s1", "up"],
    ["s2", "up"],
  ]);
  assert.equal((await r.dp.listSessions()).length, 2);
  assert.equal(r.hooks.stats.failed, 2);
});

Deno.test("hooks: a hook that runs past the timeout is killed (SIGTERM, then SIGKILL)", async () => {
  const byName: Record<string, EventHooks> = {
    polite: { onUp: { shell: "sleep 30" } },
    stubborn: { onUp: { shell: "trap '' TERM; sleep 30; sleep 30" } },
  };
  await using r = rig((_t, s) => s === undefined ? undefined : byName[s], {
    timeoutMs: 300,
    killGraceMs: 300,
  });
  const t = await r.ctx.newStaticTunnel("t1", v3);
  const start = Date.now();
  await t.newSession("polite", eth(10));
  await t.newSession("stubborn", eth(11));
  await r.hooks.idle();
  const elapsed = Date.now() - start;
  assert.ok(elapsed < 5000, `killed in ${elapsed} ms`);
  const w = warnings(r.records).sort();
  assert.deepEqual(w, [
    'Hook on_up of session "t1/polite" failed (session-up): timed out after 300 ms ' +
    "(hook_timeout), killed by SIGTERM",
    'Hook on_up of session "t1/stubborn" failed (session-up): timed out after 300 ms ' +
    "(hook_timeout), killed by SIGKILL",
  ]);
  assert.equal(r.ctx.status().tunnels[0].sessions.every((s) => s.state === "up"), true);
});

Deno.test("hooks: a session's on_down starts after its on_up finished; tunnel hooks bracket them", async () => {
  const log = await Deno.makeTempFile();
  const append = (word: string): string => `echo ${word} >> '${log}'`;
  let configured = true;
  await using r = rig((_t, s) =>
    !configured ? undefined : s === undefined
      ? {
        onUp: { shell: `sleep 0.2; ${append("tunnel-up")}` },
        onDown: { shell: append("tunnel-down") },
      }
      : {
        onUp: { shell: `${append(`${s}-up-start`)}; sleep 0.3; ${append(`${s}-up-end`)}` },
        onDown: { shell: append(`${s}-down`) },
      }
  );
  const t = await r.ctx.newStaticTunnel("t1", v3);
  const s = await t.newSession("s1", eth(10));
  // The session goes down while its on_up still runs; the configuration loses its hooks: the
  // on_down captured at up time still runs, after on_up.
  await s.close();
  configured = false;
  await t.close();
  await r.hooks.idle();
  assert.deepEqual((await Deno.readTextFile(log)).trim().split("\n"), [
    "tunnel-up",
    "s1-up-start",
    "s1-up-end",
    "s1-down",
    "tunnel-down",
  ]);
  await Deno.remove(log);
});

Deno.test("hooks: the listener never waits; runs are bounded, and a full queue drops, counted", async () => {
  const hub = new EventHub();
  const records: LogRecord[] = [];
  const hooks = attachHooks({ onEvent: (l) => hub.listen(l) }, {
    hooksFor: () => ({ onUp: { shell: "sleep 0.3" } }),
    maxRunning: 2,
    maxQueued: 3,
    logger: recordingLog(records),
  });
  const start = Date.now();
  for (let i = 1; i <= 6; i++) {
    hub.publish({
      type: "tunnel-up",
      time: "",
      tunnel: `t${i}`,
      version: 3,
      encap: "ip",
      localTunnelId: i,
      peerTunnelId: i,
      peer: { address: "192.0.2.2", port: 0 },
    });
  }
  assert.ok(Date.now() - start < 100, "publishing did not wait for any hook");
  assert.equal(hooks.stats.queued, 3);
  assert.equal(hooks.stats.dropped, 3);
  let most = 0;
  const sample = setInterval(() => (most = Math.max(most, hooks.stats.running)), 10);
  await hooks.idle();
  clearInterval(sample);
  assert.ok(most <= 2, `at most 2 ran at once, saw ${most}`);
  await hooks.close();
  assert.deepEqual(hooks.stats, { running: 0, queued: 0, started: 3, failed: 0, dropped: 3 });
  // One warning at the first drop, the rest (rate-limited) summed up at close.
  assert.deepEqual(records.filter((r) => r.level === "warning").map((r) => r.properties.count), [
    1,
    2,
  ]);
  assert.match(records.find((r) => r.level === "warning")?.message ?? "", /^Hook queue full/);
});

Deno.test("hooks: close waits for running hooks, and kills them past its bound", async () => {
  const file = await Deno.makeTempFile();
  const hub = new EventHub();
  const records: LogRecord[] = [];
  const up = (tunnel: string): void =>
    hub.publish({
      type: "tunnel-up",
      time: "",
      tunnel,
      version: 3,
      encap: "ip",
      localTunnelId: 1,
      peerTunnelId: 2,
      peer: { address: "192.0.2.2", port: 0 },
    });
  const finishing = attachHooks({ onEvent: (l) => hub.listen(l) }, {
    hooksFor: () => ({ onUp: { shell: `sleep 0.3; echo done > '${file}'` } }),
  });
  up("a");
  await finishing.close();
  assert.equal(await Deno.readTextFile(file), "done\n");
  const stuck = attachHooks({ onEvent: (l) => hub.listen(l) }, {
    hooksFor: () => ({ onUp: { shell: "sleep 30" } }),
    timeoutMs: 60_000,
    closeTimeoutMs: 300,
    logger: recordingLog(records),
  });
  up("b");
  const start = Date.now();
  await stuck.close();
  assert.ok(Date.now() - start < 3000, `closed in ${Date.now() - start} ms`);
  const w = warnings(records);
  assert.match(w[0], /^Hooks still busy 300 ms after close: killing 1 running, skipping 0 queued$/);
  assert.match(w[1], /^Hook on_up of tunnel "b" failed \(tunnel-up\): killed by SIGKILL$/);
  // After close, events run nothing.
  up("c");
  assert.equal(stuck.stats.started, 1);
  await Deno.remove(file);
});
