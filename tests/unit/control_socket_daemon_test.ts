/**
 * The control socket for real: a daemon subprocess on the null data plane driven by the CLI verbs
 * (show, down, up, reload) and by signals (SIGHUP, SIGUSR1, SIGTERM), and garbage requests.
 *
 * @module
 */

import assert from "node:assert/strict";
import { sendControlRequest } from "../../lib/control_client.ts";
import type { ContextStatus } from "../../lib/tunnel.ts";
import { Raw, staleSocket } from "./_control_socket_util.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const decoder = new TextDecoder();

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(args: string[]): Promise<Result> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

const TWO_TUNNELS = `
[tunnel.t1]
encap = "ip"
local = "192.0.2.1"
peer = "192.0.2.2"
tid = 1
ptid = 2
[tunnel.t1.session.s1]
sid = 10
psid = 20
pseudowire = "eth"

[tunnel.t2]
encap = "udp"
local = "127.0.0.1:17011"
peer = "127.0.0.1:17012"
tid = 3
ptid = 4
[tunnel.t2.session.a]
sid = 30
psid = 40
pseudowire = "eth"
`;

const T3 = `
[tunnel.t3]
encap = "ip"
local = "192.0.2.1"
peer = "192.0.2.3"
tid = 5
ptid = 6
`;

interface LogRecord {
  level: string;
  message: string;
  [key: string]: unknown;
}

/** The daemon subprocess, its log (JSON lines; other lines kept as they are) and its socket. */
class DaemonProcess {
  readonly records: LogRecord[] = [];
  readonly otherLines: string[] = [];
  readonly child: Deno.ChildProcess;
  readonly #done: Promise<void>;

  constructor(readonly socket: string, config: string) {
    this.child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "--config",
        config,
        "--null-dataplane",
        "--socket",
        socket,
        "--log-format",
        "json",
      ],
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = this.child.stderr;
    this.#done = (async () => {
      let buffered = "";
      for await (const chunk of stderr.pipeThrough(new TextDecoderStream())) {
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          try {
            this.records.push(JSON.parse(line));
          } catch {
            this.otherLines.push(line);
          }
        }
      }
    })();
  }

  async until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
    const deadline = Date.now() + 20_000;
    while (true) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) {
        throw new Error(`Timed out waiting for ${what}; log: ${JSON.stringify(this.records)}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async status(): Promise<ContextStatus> {
    const a = await sendControlRequest(this.socket, { command: "show" });
    assert.ok(a.ok, JSON.stringify(a));
    return a.result as ContextStatus;
  }

  /** Tunnel -> state, and "tunnel/session" -> state. */
  async states(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const t of (await this.status()).tunnels) {
      out[t.name] = t.state;
      for (const s of t.sessions) out[`${t.name}/${s.name}`] = s.state;
    }
    return out;
  }

  logged(pattern: RegExp): LogRecord | undefined {
    return this.records.find((r) => pattern.test(r.message));
  }

  alive(): Promise<boolean> {
    return Promise.race([
      this.child.status.then(() => false),
      new Promise<boolean>((r) => setTimeout(() => r(true), 100)),
    ]);
  }

  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.child.kill("SIGTERM");
    } catch { /* exited already */ }
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 20_000);
    try {
      const status = await this.child.status;
      await this.#done;
      return status;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:9229. */
async function inspectorPortOpen(): Promise<boolean> {
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port: 9229 });
    c.close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("daemon: show, down/up, reload, SIGHUP, SIGUSR1 and garbage through the control socket", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "l2tpd-ctl-" });
  const config = `${dir}/l2tpd.toml`;
  const socket = `${dir}/run/l2tpd.sock`;
  await Deno.writeTextFile(config, TWO_TUNNELS);
  // A dead daemon's socket is in the way: it is replaced.
  await Deno.mkdir(`${dir}/run`);
  await staleSocket(socket);
  const daemon = new DaemonProcess(socket, config);
  const startedAt = Date.now();
  try {
    await daemon.until("the daemon's control socket", async () => {
      try {
        const s = await daemon.status();
        return s.tunnels.every((t) => t.state === "up") && s.tunnels.length === 2 ? s : undefined;
      } catch {
        return undefined;
      }
    });

    await t.step("show --json agrees with the configuration", async () => {
      const r = await cli(["show", "--json", "--socket", socket]);
      assert.equal(r.code, 0, r.stderr);
      const status = JSON.parse(r.stdout) as ContextStatus;
      assert.deepEqual(status.tunnels.map((x) => x.name), ["t1", "t2"]);
      const [t1, t2] = status.tunnels;
      assert.equal(t1.state, "up");
      assert.equal(t1.localTunnelId, 1);
      assert.equal(t1.peerTunnelId, 2);
      assert.deepEqual(t1.peer, { address: "192.0.2.2", port: 0 });
      assert.equal(t1.sessions[0].name, "s1");
      assert.equal(t1.sessions[0].localSessionId, 10);
      assert.equal(t1.sessions[0].peerSessionId, 20);
      assert.equal(t1.sessions[0].kernel?.rxPackets, 0);
      assert.equal(t1.kernel?.txBytes, 0);
      assert.deepEqual(t2.peer, { address: "127.0.0.1", port: 17012 });
      assert.equal(t2.sessions[0].localSessionId, 30);
    });

    await t.step("show prints a table of tunnels and sessions", async () => {
      const r = await cli(["show", "--socket", socket]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.split("\n");
      assert.match(
        lines[0],
        /^TUNNEL\s+MODE\s+STATE\s+LOCAL-ID\s+PEER-ID\s+PEER\s+UPTIME\s+RX-PKTS/,
      );
      assert.match(r.stdout, /\nt1\s+static\s+up\s+1\s+2\s+192\.0\.2\.2\s+\d+s\s+0\s+0/);
      assert.match(r.stdout, /\nt2\s+static\s+up\s+3\s+4\s+127\.0\.0\.1:17012\s/);
      assert.match(r.stdout, /\nSESSION\s+STATE\s+PW\s+LOCAL-ID\s+PEER-ID\s+UPTIME\s+INTERFACE/);
      assert.match(r.stdout, /\nt1\/s1\s+up\s+eth\s+10\s+20\s+\d+s\s+l2tpeth\d+\s+0/);
      assert.match(r.stdout, /\nt2\/a\s+up\s+eth\s+30\s+40\s/);
    });

    await t.step("down t1, up t1; down t2/a, up t2/a", async () => {
      let r = await cli(["down", "t1", "--socket", socket]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout + r.stderr, "");
      assert.equal((await daemon.states()).t1, "down");
      r = await cli(["up", "t1", "--socket", socket]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(await daemon.states(), {
        "t1": "up",
        "t1/s1": "up",
        "t2": "up",
        "t2/a": "up",
      });
      r = await cli(["down", "t2/a", "--socket", socket]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await daemon.states())["t2/a"], undefined);
      r = await cli(["up", "t2/a", "--socket", socket]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await daemon.states())["t2/a"], "up");
    });

    await t.step("down of what is not configured: exit 1 and the daemon's error", async () => {
      const r = await cli(["down", "t9", "--socket", socket]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.equal(r.stderr, 'Cannot take down "t9": no tunnel "t9" in the configuration\n');
    });

    await t.step("reload after an edit names what changed", async () => {
      await Deno.writeTextFile(
        config,
        TWO_TUNNELS.replace("psid = 40", "psid = 41") + T3,
      );
      const r = await cli(["reload", "--json", "--socket", socket]);
      assert.equal(r.code, 0, r.stderr);
      const result = JSON.parse(r.stdout);
      assert.deepEqual(result.added, ["t3"]);
      assert.deepEqual(result.replaced, ["t2/a"]);
      assert.deepEqual(result.removed, []);
      assert.ok(result.unchanged.includes("t1"), r.stdout);
      const states = await daemon.states();
      assert.equal(states.t3, "up");
      const t2a = (await daemon.status()).tunnels.find((x) => x.name === "t2")?.sessions[0];
      assert.ok(t2a !== undefined);
      assert.equal(t2a.peerSessionId, 41);
      // The human form.
      await Deno.writeTextFile(config, TWO_TUNNELS.replace("psid = 40", "psid = 41"));
      const human = await cli(["reload", "--socket", socket]);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /^added none; removed t3; replaced none; unchanged .*t1/);
    });

    await t.step("a broken edit: reload exits 1 with every problem, nothing changes", async () => {
      const before = await daemon.states();
      await Deno.writeTextFile(
        config,
        TWO_TUNNELS.replace('encap = "ip"', 'encap = "ipx"').replace("tid = 3", 'tid = "3"'),
      );
      const r = await cli(["reload", "--socket", socket]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, /^Cannot load config .*l2tpd\.toml: 2 problems:\n/);
      assert.match(r.stderr, /key "encap"/);
      assert.match(r.stderr, /key "tid"/);
      assert.deepEqual(await daemon.states(), before);
    });

    await t.step("SIGHUP with a broken file: still running, nothing changed", async () => {
      const before = await daemon.states();
      daemon.child.kill("SIGHUP");
      await daemon.until("the SIGHUP error", () => daemon.logged(/^SIGHUP: .* is invalid/));
      assert.ok(await daemon.alive());
      assert.deepEqual(await daemon.states(), before);
    });

    await t.step("SIGHUP re-reads the file and applies it; the daemon stays up", async () => {
      await Deno.writeTextFile(config, TWO_TUNNELS.replace("psid = 40", "psid = 41") + T3);
      daemon.child.kill("SIGHUP");
      const line = await daemon.until(
        "the SIGHUP reload line",
        () => daemon.logged(/^SIGHUP: reloaded /),
      );
      assert.match(line.message, /added t3; removed none; replaced none; unchanged /);
      assert.ok(await daemon.alive());
      assert.equal((await daemon.states()).t3, "up");
    });

    await t.step("SIGUSR1 logs the status and opens no inspector", async () => {
      // Deno arms its own SIGUSR1 handler (the inspector) half a second after start.
      await new Promise((r) => setTimeout(r, Math.max(0, startedAt + 1500 - Date.now())));
      const portWasOpen = await inspectorPortOpen();
      daemon.child.kill("SIGUSR1");
      const line = await daemon.until("the SIGUSR1 status line", () => daemon.logged(/^SIGUSR1:/));
      assert.match(line.message, /^SIGUSR1: status: 3 of 3 tunnel\(s\) up, 2 session\(s\) up$/);
      const status = line.status as ContextStatus;
      assert.deepEqual(status.tunnels.map((x) => x.name).sort(), ["t1", "t2", "t3"]);
      await new Promise((r) => setTimeout(r, 500));
      assert.ok(await daemon.alive());
      if (!portWasOpen) assert.equal(await inspectorPortOpen(), false, "127.0.0.1:9229 answers");
      else console.warn("127.0.0.1:9229 was in use before the signal: not checked");
      assert.equal((await daemon.status()).tunnels.length, 3);
      assert.ok(!daemon.otherLines.some((l) => l.includes("Debugger listening")));
    });

    await t.step(
      "garbage on the socket: an error answer, and the next client is served",
      async () => {
        const raw = await Raw.open(socket);
        try {
          await raw.send("\x00\x01 not json at all\n");
          const a = await raw.answer();
          assert.equal(a.ok, false);
          assert.match(a.error ?? "", /^Cannot parse the request: not JSON/);
          await raw.send("x".repeat(70_000));
          assert.match((await raw.answer()).error ?? "", /longer than 65536 bytes/);
        } finally {
          raw.close();
        }
        const r = await cli(["show", "--json", "--socket", socket]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(JSON.parse(r.stdout).tunnels.length, 3);
      },
    );

    await t.step("a second daemon on the same socket refuses to start", async () => {
      const r = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "--config", config, "--null-dataplane", "--socket", socket],
        env: { NO_COLOR: "1" },
        stdin: "null",
      }).output();
      assert.equal(r.code, 1);
      assert.match(
        decoder.decode(r.stderr),
        /Cannot create the control socket .*: another l2tpd is running there/,
      );
      assert.equal((await daemon.status()).tunnels.length, 3);
    });
  } finally {
    const status = await daemon.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    assert.equal(status.code, 0, JSON.stringify(daemon.records));
  }
  // Shut down cleanly, and the socket is gone.
  assert.equal(daemon.records[daemon.records.length - 1].message, "shutdown complete");
  assert.ok(
    daemon.records.every((r) => r.level !== "fatal"),
    JSON.stringify(daemon.records.filter((r) => r.level === "fatal")),
  );
});

Deno.test("daemon: the socket file is removed at shutdown", async () => {
  const dir = await Deno.makeTempDir({ prefix: "l2tpd-ctl-" });
  try {
    await Deno.writeTextFile(`${dir}/l2tpd.toml`, T3);
    const socket = `${dir}/l2tpd.sock`;
    const daemon = new DaemonProcess(socket, `${dir}/l2tpd.toml`);
    await daemon.until("the socket", async () => {
      try {
        return (await daemon.status()).tunnels.length === 1 ? true : undefined;
      } catch {
        return undefined;
      }
    });
    assert.equal(((await Deno.lstat(socket)).mode ?? 0) & 0o777, 0o600);
    assert.equal((await daemon.stop()).code, 0);
    await assert.rejects(() => Deno.lstat(socket), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CLI: exit 3 when no daemon listens, 2 for usage errors", async () => {
  const dir = await Deno.makeTempDir({ prefix: "l2tpd-ctl-" });
  try {
    const socket = `${dir}/none.sock`;
    for (const verb of [["show"], ["reload"], ["down", "t1"], ["up", "t1/s1"]]) {
      const r = await cli([...verb, "--socket", socket]);
      assert.equal(r.code, 3, `${verb.join(" ")}: ${r.stderr}`);
      assert.equal(r.stdout, "");
      assert.equal(
        r.stderr,
        `Cannot reach l2tpd at ${socket}: no daemon is listening (is it running? see --socket)\n`,
      );
    }
    // A stale socket file: nobody listens either.
    await staleSocket(socket);
    assert.equal((await cli(["show", "--socket", socket])).code, 3);

    for (
      const [args, message] of [
        [["down"], /down needs a tunnel: down NAME or down NAME\/SESSION/],
        [["up", "a", "b"], /up takes one tunnel \(NAME or NAME\/SESSION\), got 2 arguments/],
        [["down", "t1/"], /down needs NAME or NAME\/SESSION, got "t1\/"/],
        [["show", "t1"], /show takes no arguments/],
        [["down", "t1", "--json"], /--json applies to show and reload, not down/],
        [["show", "--socket"], /option --socket needs a value/],
      ] as const
    ) {
      const r = await cli([...args]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /\n\nUsage: l2tpd /);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
