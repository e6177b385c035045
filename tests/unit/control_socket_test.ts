/**
 * The control socket: the server with a fake handler (protocol, limits, the socket file), the
 * client's errors, and then the real thing: a daemon subprocess on the null data plane driven by
 * the CLI verbs and by signals.
 */

import assert from "node:assert/strict";
import {
  type ControlHandler,
  ControlServer,
  ControlSocketError,
  parseControlRequest,
  resolveGroup,
} from "../../lib/control_server.ts";
import {
  connectError,
  ControlClientError,
  resolveSocketPath,
  sendControlRequest,
} from "../../lib/control_client.ts";
import type { ContextStatus } from "../../lib/tunnel.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const MAIN = `${ROOT}main.ts`;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// --- The server, with a fake handler ------------------------------------------------------------

/**
 * Leave a socket file nobody listens on at `path`, as a daemon killed with SIGKILL does. (Deno's
 * UnixListener.close() unlinks the path it listened on, so listen elsewhere and rename.)
 */
async function staleSocket(path: string): Promise<void> {
  const listener = Deno.listen({ transport: "unix", path: `${path}.tmp` });
  await Deno.rename(`${path}.tmp`, path);
  listener.close();
  assert.ok((await Deno.lstat(path)).isSocket);
}

interface FakeHandler extends ControlHandler {
  calls: string[];
}

function fakeHandler(): FakeHandler {
  const calls: string[] = [];
  return {
    calls,
    show: () => Promise.resolve({ time: "2026-01-01T00:00:00.000Z", tunnels: [] }),
    reload: () => {
      calls.push("reload");
      return Promise.resolve({ added: ["t2"], removed: [], replaced: [], unchanged: ["t1"] });
    },
    down: (tunnel, session) => {
      calls.push(`down ${tunnel}${session === undefined ? "" : `/${session}`}`);
      if (tunnel === "nope") {
        return Promise.reject(new Error(`Cannot take down "nope": no tunnel "nope"`));
      }
      return Promise.resolve();
    },
    up: (tunnel, session) => {
      calls.push(`up ${tunnel}${session === undefined ? "" : `/${session}`}`);
      return Promise.resolve();
    },
  };
}

async function withServer(
  options: Partial<Parameters<typeof ControlServer.listen>[0]>,
  body: (server: ControlServer, handler: FakeHandler, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "l2tpd-ctl-" });
  const handler = fakeHandler();
  const server = await ControlServer.listen({ path: `${dir}/l2tpd.sock`, handler, ...options });
  try {
    await body(server, handler, dir);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A raw connection: write bytes, read answer lines. */
class Raw {
  readonly #conn: Deno.UnixConn;
  #buffered = "";

  private constructor(conn: Deno.UnixConn) {
    this.#conn = conn;
  }

  static async open(path: string): Promise<Raw> {
    return new Raw(await Deno.connect({ transport: "unix", path }));
  }

  async send(data: string | Uint8Array): Promise<void> {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    for (let off = 0; off < bytes.length;) off += await this.#conn.write(bytes.subarray(off));
  }

  /** The next line, or undefined once the server closed the connection. */
  async line(): Promise<string | undefined> {
    const buf = new Uint8Array(65536);
    while (!this.#buffered.includes("\n")) {
      let n: number | null;
      try {
        n = await this.#conn.read(buf);
      } catch {
        n = null; // reset by the server
      }
      if (n === null) return undefined;
      this.#buffered += decoder.decode(buf.subarray(0, n));
    }
    const nl = this.#buffered.indexOf("\n");
    const line = this.#buffered.slice(0, nl);
    this.#buffered = this.#buffered.slice(nl + 1);
    return line;
  }

  async answer(): Promise<{ ok: boolean; result?: unknown; error?: string }> {
    const line = await this.line();
    assert.ok(line !== undefined, "the server closed the connection without answering");
    return JSON.parse(line);
  }

  close(): void {
    try {
      this.#conn.close();
    } catch { /* closed */ }
  }
}

Deno.test("control socket: show, reload, down and up, answered in order on one connection", async () => {
  await withServer({}, async (server, handler) => {
    const raw = await Raw.open(server.path);
    try {
      await raw.send(
        '{"command":"show"}\n{"command":"reload"}\n{"command":"down","tunnel":"t1"}\n' +
          '{"command":"up","tunnel":"t1","session":"s1"}\n{"command":"down","tunnel":"nope"}\n',
      );
      assert.deepEqual(await raw.answer(), {
        ok: true,
        result: { time: "2026-01-01T00:00:00.000Z", tunnels: [] },
      });
      assert.deepEqual(await raw.answer(), {
        ok: true,
        result: { added: ["t2"], removed: [], replaced: [], unchanged: ["t1"] },
      });
      assert.deepEqual(await raw.answer(), { ok: true, result: null });
      assert.deepEqual(await raw.answer(), { ok: true, result: null });
      assert.deepEqual(await raw.answer(), {
        ok: false,
        error: 'Cannot take down "nope": no tunnel "nope"',
      });
    } finally {
      raw.close();
    }
    assert.deepEqual(handler.calls, ["reload", "down t1", "up t1/s1", "down nope"]);
    // The library client.
    const answer = await sendControlRequest(server.path, { command: "down", tunnel: "t2" });
    assert.deepEqual(answer, { ok: true, result: null });
  });
});

Deno.test("control socket: bad requests get error answers; the connection and the server go on", async () => {
  await withServer({}, async (server, handler) => {
    const raw = await Raw.open(server.path);
    try {
      const bad: [string | Uint8Array, RegExp][] = [
        ["garbage\n", /^Cannot parse the request: not JSON/],
        ["[1,2]\n", /^Cannot parse the request: expected a JSON object/],
        ['{"tunnel":"t1"}\n', /"command" is missing or not a string \(commands: show, reload/],
        ['{"command":"explode"}\n', /^Cannot run command "explode": unknown command/],
        ['{"command":"show","verbose":true}\n', /unknown field "verbose" \(fields: command\)/],
        ['{"command":"down"}\n', /^Cannot run command "down": "tunnel" must be a tunnel's name/],
        ['{"command":"up","tunnel":""}\n', /"tunnel" must be a tunnel's name/],
        ['{"command":"up","tunnel":"t1","session":5}\n', /"session" must be a session's name/],
        ["\n", /empty line/],
        [new Uint8Array([0xff, 0xfe, 0x7b, 0x0a]), /not UTF-8/],
      ];
      for (const [line, expected] of bad) {
        await raw.send(line);
        const a = await raw.answer();
        assert.equal(a.ok, false);
        assert.match(a.error ?? "", expected);
      }
      // Still the same connection, still serving.
      await raw.send('{"command":"show"}\n');
      assert.equal((await raw.answer()).ok, true);
    } finally {
      raw.close();
    }
    assert.deepEqual(handler.calls, []);
    assert.equal((await sendControlRequest(server.path, { command: "show" })).ok, true);
  });
});

Deno.test("control socket: a line over 64 KiB is refused and the connection closed", async () => {
  await withServer({}, async (server) => {
    for (const tail of ["", "\n"]) {
      const raw = await Raw.open(server.path);
      try {
        await raw.send("x".repeat(64 * 1024 + 1) + tail);
        const a = await raw.answer();
        assert.equal(a.ok, false);
        assert.match(a.error ?? "", /longer than 65536 bytes/);
        assert.equal(await raw.line(), undefined);
      } finally {
        raw.close();
      }
    }
    // A line under the limit is read as a request (a bad one here).
    const raw = await Raw.open(server.path);
    try {
      await raw.send(`{"command":"show","x":"${"y".repeat(64 * 1024 - 28)}"}\n`);
      assert.match((await raw.answer()).error ?? "", /unknown field "x"/);
    } finally {
      raw.close();
    }
    assert.equal((await sendControlRequest(server.path, { command: "show" })).ok, true);
  });
});

Deno.test("control socket: one client too many gets an error; a stalled client is dropped", async () => {
  await withServer({ maxClients: 2, timeoutMs: 300 }, async (server) => {
    const a = await Raw.open(server.path);
    const b = await Raw.open(server.path);
    const c = await Raw.open(server.path);
    try {
      const refused = await c.answer();
      assert.equal(refused.ok, false);
      assert.match(refused.error ?? "", /^Cannot serve this client: 2 clients are connected/);
      assert.equal(await c.line(), undefined);
      // a and b say nothing (b only half a request): both are dropped after the timeout.
      await b.send('{"command":');
      const started = Date.now();
      assert.equal(await a.line(), undefined);
      assert.equal(await b.line(), undefined);
      assert.ok(Date.now() - started < 5000);
    } finally {
      a.close();
      b.close();
      c.close();
    }
    // Room again.
    assert.equal((await sendControlRequest(server.path, { command: "show" })).ok, true);
  });
});

Deno.test("control socket: a request without its newline is answered when the client closes", async () => {
  await withServer({}, async (server) => {
    const conn = await Deno.connect({ transport: "unix", path: server.path });
    await conn.write(encoder.encode('{"command":"show"}'));
    await conn.closeWrite();
    const text = decoder.decode(await new Response(conn.readable).arrayBuffer());
    assert.equal(JSON.parse(text).ok, true);
  });
});

Deno.test("control socket file: mode 0600, removed at close; a group makes it 0660", async () => {
  const dir = await Deno.makeTempDir({ prefix: "l2tpd-ctl-" });
  try {
    const path = `${dir}/sub/dir/l2tpd.sock`;
    const server = await ControlServer.listen({ path, handler: fakeHandler() });
    const info = await Deno.lstat(path);
    assert.ok(info.isSocket);
    assert.equal((info.mode ?? 0) & 0o777, 0o600);
    assert.equal(((await Deno.stat(`${dir}/sub`)).mode ?? 0) & 0o777, 0o755);
    await server.close();
    await assert.rejects(() => Deno.lstat(path), Deno.errors.NotFound);

    const gid = Deno.gid() ?? 0;
    const groups = `${dir}/group`;
    await Deno.writeTextFile(groups, `wheel:x:10:\nl2tp:x:${gid}:alice,bob\n`);
    const grouped = await ControlServer.listen({
      path,
      group: "l2tp",
      groupFile: groups,
      handler: fakeHandler(),
    });
    const g = await Deno.lstat(path);
    assert.equal((g.mode ?? 0) & 0o777, 0o660);
    assert.equal(g.gid, gid);
    await grouped.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("control socket file: a stale one is replaced; a live one or a non-socket refuses", async () => {
  const dir = await Deno.makeTempDir({ prefix: "l2tpd-ctl-" });
  try {
    const path = `${dir}/l2tpd.sock`;
    // A dead daemon's socket: the file is there, nobody listens.
    await staleSocket(path);
    await assert.rejects(
      () => sendControlRequest(path, { command: "show" }),
      (e) => e instanceof ControlClientError && e.reason === "unreachable",
    );
    const first = await ControlServer.listen({ path, handler: fakeHandler() });
    assert.equal((await sendControlRequest(path, { command: "show" })).ok, true);

    // A live one.
    await assert.rejects(
      () => ControlServer.listen({ path, handler: fakeHandler() }),
      (e) =>
        e instanceof ControlSocketError && e.reason === "in-use" &&
        /^Cannot create the control socket .*: another l2tpd is running there \(stop it/.test(
          e.message,
        ),
    );
    assert.equal((await sendControlRequest(path, { command: "show" })).ok, true);

    // Someone else's socket took the path meanwhile: closing does not remove theirs.
    await Deno.remove(path);
    const theirs = Deno.listen({ transport: "unix", path });
    await first.close();
    assert.ok((await Deno.lstat(path)).isSocket);
    theirs.close(); // (Deno removes its file)

    // Not a socket.
    await Deno.writeTextFile(path, "precious");
    await assert.rejects(
      () => ControlServer.listen({ path, handler: fakeHandler() }),
      /the path exists and is not a socket \(remove it, or choose another path with --socket\)/,
    );
    assert.equal(await Deno.readTextFile(path), "precious");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("socket groups: a number, a name from the group file, or an error that says what to do", async () => {
  const dir = await Deno.makeTempDir({ prefix: "l2tpd-ctl-" });
  try {
    const file = `${dir}/group`;
    await Deno.writeTextFile(file, "root:x:0:\n# comment\nl2tp:x:4242:alice\n");
    assert.equal(await resolveGroup("117", file), 117);
    assert.equal(await resolveGroup("l2tp", file), 4242);
    await assert.rejects(
      () => resolveGroup("ops", file),
      /^Error: Cannot resolve socket_group "ops": no such group in .*group \(create it with groupadd/,
    );
    await assert.rejects(
      () =>
        ControlServer.listen({
          path: `${dir}/s.sock`,
          group: "ops",
          groupFile: file,
          handler: fakeHandler(),
        }),
      /no such group/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("requests: the parser accepts exactly the protocol", () => {
  assert.deepEqual(parseControlRequest('{"command":"show"}'), { command: "show" });
  assert.deepEqual(parseControlRequest('{"command":"reload"}'), { command: "reload" });
  assert.deepEqual(parseControlRequest(' {"command":"down","tunnel":"t1"} '), {
    command: "down",
    tunnel: "t1",
  });
  assert.deepEqual(parseControlRequest('{"command":"up","tunnel":"t1","session":"s1"}'), {
    command: "up",
    tunnel: "t1",
    session: "s1",
  });
  assert.throws(() => parseControlRequest('{"command":"toString"}'), /unknown command/);
  assert.throws(() => parseControlRequest('{"command":"show","tunnel":"t1"}'), /unknown field/);
  assert.throws(() => parseControlRequest("null"), /expected a JSON object/);
});

Deno.test("client errors: no daemon is exit 3's message, permission denied exit 4's", async () => {
  const missing = "/nonexistent/l2tpd.sock";
  await assert.rejects(
    () => sendControlRequest(missing, { command: "show" }),
    (e) =>
      e instanceof ControlClientError && e.reason === "unreachable" &&
      e.message ===
        `Cannot reach l2tpd at ${missing}: no daemon is listening (is it running? see --socket)`,
  );
  const refused = connectError("/x.sock", new Deno.errors.ConnectionRefused("refused"));
  assert.equal(refused.reason, "unreachable");
  const denied = connectError("/x.sock", new Deno.errors.PermissionDenied("EACCES"));
  assert.equal(denied.reason, "permission");
  assert.equal(
    denied.message,
    "Cannot reach l2tpd at /x.sock: permission denied (run as root or as a member of the " +
      "socket's group)",
  );
  assert.equal(connectError("/x.sock", new Deno.errors.NotCapable("no")).reason, "permission");
});

Deno.test({
  name: "client errors: a user the socket's mode keeps out gets PermissionDenied",
  // As root the kernel lets us in whatever the mode; a child with another uid is kept out.
  ignore: Deno.uid() !== 0,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "l2tpd-ctl-" });
    await Deno.chmod(dir, 0o755);
    await Deno.mkdir(`${dir}/home`);
    await Deno.chown(`${dir}/home`, 65534, 65534);
    try {
      await using server = await ControlServer.listen({
        path: `${dir}/l2tpd.sock`,
        handler: fakeHandler(),
      });
      const script = `try { await Deno.connect({ transport: "unix", path: ${
        JSON.stringify(server.path)
      } }); console.log("connected"); } catch (e) { console.log(e.constructor.name); }`;
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["eval", script],
        uid: 65534,
        gid: 65534,
        env: { DENO_DIR: `${dir}/home/deno`, HOME: `${dir}/home`, NO_COLOR: "1" },
        cwd: `${dir}/home`,
        stdin: "null",
      }).output().catch(() => undefined);
      if (out === undefined || !out.success) {
        console.warn(`cannot run a child as nobody here: ${out && decoder.decode(out.stderr)}`);
        return;
      }
      assert.equal(decoder.decode(out.stdout).trim(), "PermissionDenied");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("the CLI's socket: --socket, else the file's [daemon] socket, else the default", async () => {
  const dir = await Deno.makeTempDir({ prefix: "l2tpd-ctl-" });
  try {
    const file = `${dir}/l2tpd.toml`;
    await Deno.writeTextFile(file, '[daemon]\nsocket = "/run/other/l2tpd.sock"\n');
    assert.equal(await resolveSocketPath("/tmp/x.sock", file), "/tmp/x.sock");
    assert.equal(await resolveSocketPath(undefined, file), "/run/other/l2tpd.sock");
    await Deno.writeTextFile(file, "[daemon\n"); // broken: the default
    assert.equal(await resolveSocketPath(undefined, file), "/run/l2tpd/l2tpd.sock");
    assert.equal(await resolveSocketPath(undefined, `${dir}/none.toml`), "/run/l2tpd/l2tpd.sock");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// --- A daemon subprocess ------------------------------------------------------------------------

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
