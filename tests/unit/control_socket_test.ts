/**
 * The control socket: the server with a fake handler (protocol, limits, the socket file) and the
 * client's errors. The real thing, a daemon subprocess, is in control_socket_daemon_test.ts.
 *
 * @module
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
import { Raw, staleSocket } from "./_control_socket_util.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// --- The server, with a fake handler ------------------------------------------------------------

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
