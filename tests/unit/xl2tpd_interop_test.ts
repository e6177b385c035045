/**
 * Interop with xl2tpd (1.3.x, the Debian package), control plane only, on the host: our daemon
 * (in process, null data plane, no pppd) against a real xl2tpd on loopback, both roles, with and
 * without a shared secret. Tunnel and session come up (our data plane holds them, with the IDs
 * xl2tpd logs), and a teardown from either side is followed by the other: our StopCCN ends
 * xl2tpd's tunnel, xl2tpd's StopCCN (it sends one on SIGINT) or CDN removes ours.
 *
 * This host has no ppp module, so xl2tpd's own pppd would exit at once and xl2tpd would end each
 * call with a CDN. Where the tests want a call to stay up (or to fail at a known moment) xl2tpd
 * runs with a stand-in pppd in a private mount namespace (tests/kernel/_xl2tpd.ts, `stubPppd`);
 * those tests are ignored where that is not possible (not root). Everything is ignored when
 * xl2tpd is not installed. Every xl2tpd started is stopped, whatever happens.
 *
 * Hidden AVPs: xl2tpd never hides an AVP itself (its `hidden bit` only adds Random Vector AVPs,
 * which the secret tests turn on), and it decrypts hidden AVPs with the secret of the tunnel,
 * which it looks up only after it has processed the SCCRQ or SCCRP (while answering the
 * Challenge). Before that its key is the empty secret, so our `hide_avps` (which hides the
 * Assigned Tunnel ID of SCCRQ and SCCRP, as RFC 2661 allows) is refused by xl2tpd ("Invalid
 * Hidden AVP"). What is tested is that xl2tpd decrypts our hiding: an SCCRQ whose Assigned
 * Tunnel ID is hidden with the key xl2tpd holds at that moment is answered to that tunnel ID.
 *
 * Hygiene: a system xl2tpd (the Debian package's service, on port 1701) is the operator's. The
 * test instances run on loopback ports, pid files and control files of their own and are stopped
 * by process ID; the last tests check that this stays so (no port 1701 on the host, nothing in
 * the scripts or tests that stops xl2tpd by name, and an xl2tpd the tests did not start survives
 * their cleanup).
 *
 * @module
 */

import assert from "node:assert/strict";
import { Daemon } from "../../lib/daemon.ts";
import { namedTunnel, type SessionEntry, type TunnelEntry } from "../../lib/config.ts";
import type { Log, LogProperties } from "../../lib/log.ts";
import { NullDataPlane } from "../../dataplane/null.ts";
import { Reactor } from "../../dataplane/reactor.ts";
import { buildSccrq } from "../../control/builders.ts";
import { decodeControl, encodeControl } from "../../control/message.ts";
import { MessageType } from "../../control/constants.ts";
import type { Datagram } from "../../dataplane/socket.ts";
import {
  canStubPppd,
  establishedCalls,
  establishedTunnel,
  startXl2tpd,
  stopAllXl2tpd,
  XL2TPD_BIN,
  xl2tpdConf,
  xl2tpdInstalled,
  type Xl2tpdLac,
  type Xl2tpdOptions,
} from "../kernel/_xl2tpd.ts";

const installed = xl2tpdInstalled();
const stub = installed && await canStubPppd();

/** A Log that keeps every line (message with its placeholders filled in). */
class MemoryLog implements Log {
  readonly category: readonly string[] = ["l2tpd", "test"];
  readonly lines: string[];
  readonly #props: LogProperties;

  constructor(lines: string[] = [], props: LogProperties = {}) {
    this.lines = lines;
    this.#props = props;
  }

  #add(level: string, message: string, properties?: LogProperties): void {
    const p = { ...this.#props, ...properties };
    const shown = new Set<string>();
    const text = message.replace(/\{(\w+)\}/g, (_, k: string) => {
      shown.add(k);
      return String(p[k] ?? `{${k}}`);
    });
    // The properties the message does not show follow as key=value, as the text log has them.
    const rest = Object.entries(properties ?? {}).filter(([k, v]) =>
      !shown.has(k) && v !== undefined
    )
      .map(([k, v]) => ` ${k}=${String(v)}`).join("");
    this.lines.push(`${level} ${text}${rest}`);
  }

  trace(message: string, properties?: LogProperties): void {
    this.#add("TRACE", message, properties);
  }
  debug(message: string, properties?: LogProperties): void {
    this.#add("DEBUG", message, properties);
  }
  info(message: string, properties?: LogProperties): void {
    this.#add("INFO", message, properties);
  }
  warn(message: string, properties?: LogProperties): void {
    this.#add("WARN", message, properties);
  }
  error(message: string, properties?: LogProperties): void {
    this.#add("ERROR", message, properties);
  }
  fatal(message: string, properties?: LogProperties): void {
    this.#add("FATAL", message, properties);
  }
  with(properties: LogProperties): Log {
    return new MemoryLog(this.lines, { ...this.#props, ...properties });
  }

  text(): string {
    return this.lines.join("\n");
  }
}

async function until(what: string, probe: () => boolean | Promise<boolean>, ms = 8000): Promise<
  void
> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A loopback address and a port of our own for each test (nothing else binds them). */
function endpoints(n: number): { ours: string; theirs: string; ourPort: number; port: number } {
  const port = 20000 + Math.floor(Math.random() * 20000);
  return { ours: `127.0.${n}.2`, theirs: `127.0.${n}.3`, ourPort: port + 1, port };
}

const ppp: SessionEntry = {
  name: "ppp",
  pseudowire: "ppp",
  sendSeqnum: false,
  recvSeqnum: false,
  l2specType: "none",
};

function ourTunnel(extra: Partial<TunnelEntry>): TunnelEntry {
  return {
    name: extra.role === "lns" ? "lns" : "lac",
    mode: "dynamic",
    version: 2,
    encap: "udp",
    managed: true,
    hostName: "l2tpd-test",
    retryTimeoutMs: 500,
    sessions: [ppp],
    ...extra,
  };
}

interface Ours {
  daemon: Daemon;
  dp: NullDataPlane;
  log: MemoryLog;
}

async function startOurs(tunnel: TunnelEntry): Promise<Ours> {
  const dp = new NullDataPlane();
  const log = new MemoryLog();
  const daemon = new Daemon({
    config: { file: "xl2tpd-interop.toml", tunnels: [namedTunnel(tunnel)] },
    dataPlane: dp,
    pppd: false,
    logger: log,
  });
  await daemon.start();
  return { daemon, dp, log };
}

/** Run `fn` with xl2tpd and our daemon; stop both (and every xl2tpd) whatever happens. */
async function withBoth(
  xlOptions: Xl2tpdOptions,
  tunnel: TunnelEntry,
  fn: (
    xl: Awaited<ReturnType<typeof startXl2tpd>>,
    ours: Ours,
  ) => Promise<void>,
  oursFirst = false,
): Promise<void> {
  let ours: Ours | undefined;
  try {
    if (oursFirst) ours = await startOurs(tunnel);
    const xl = await startXl2tpd(xlOptions);
    ours ??= await startOurs(tunnel);
    try {
      await fn(xl, ours);
    } catch (e) {
      throw new Error(
        `${e instanceof Error ? e.message : String(e)}\n--- our log ---\n${ours.log.text()}\n` +
          `--- xl2tpd ---\n${xl.output()}`,
      );
    }
  } finally {
    await ours?.daemon.stop();
    ours?.dp.close();
    await stopAllXl2tpd();
  }
}

Deno.test({
  name: "xl2tpd LNS <- our LAC: tunnel and call up with xl2tpd's IDs; our stop sends a StopCCN " +
    "xl2tpd follows",
  ignore: !installed,
  fn: async () => {
    const e = endpoints(41);
    await withBoth(
      {
        config: {
          global: { listenAddr: e.theirs, port: e.port, debug: true },
          lns: [{ hostname: "xlns", assignIp: false, requireAuthentication: false }],
        },
        stubPppd: stub,
      },
      ourTunnel({
        peer: { address: e.theirs, port: e.port },
        local: { address: e.ours, port: e.ourPort },
      }),
      async (xl, { daemon, dp, log }) => {
        await xl.waitFor(/Call established with/);
        const tunnel = establishedTunnel(xl.output());
        assert.ok(tunnel, "xl2tpd logged the tunnel");
        await until("our tunnel and session", async () => (await dp.listTunnels()).length === 1);
        const [t] = await dp.listTunnels();
        assert.equal(t.tunnelId, tunnel.remote, "xl2tpd's peer tunnel is ours");
        assert.equal(t.peerTunnelId, tunnel.local, "our peer tunnel is xl2tpd's");
        assert.equal(t.version, 2);
        const [call] = establishedCalls(xl.output());
        // The data plane saw the session (with the stand-in pppd it is still there).
        const created = dp.calls.filter((c) => c.op === "createSession");
        assert.equal(created.length, 1);
        assert.equal(created[0].sessionId, call.remote, "xl2tpd's peer call is our session");
        assert.match(
          log.text(),
          new RegExp(`session-up .*localSessionId=${call.remote} peerSessionId=${call.local}`),
        );
        assert.match(log.text(), /tunnel-up .*peerHostName=xlns/);
        const mark = xl.output().length;
        await daemon.stop();
        await xl.waitFor(
          new RegExp(`Connection closed to ${e.ours.replaceAll(".", "\\.")}, port ${e.ourPort}`),
          5000,
          mark,
        );
        // A daemon that stops says so: StopCCN result 6, "requester is being shut down".
        assert.match(xl.output().slice(mark), /peer closing for reason 6 /);
        assert.equal((await dp.listTunnels()).length, 0);
        assert.equal((await dp.listSessions()).length, 0);
        assert.equal(xl.exited(), false, "xl2tpd keeps running");
      },
    );
  },
});

Deno.test({
  name: "xl2tpd LNS <- our LAC: the CDN xl2tpd sends when its pppd fails removes our session, " +
    "the tunnel stays",
  ignore: !stub,
  fn: async () => {
    const e = endpoints(42);
    await withBoth(
      {
        config: {
          global: { listenAddr: e.theirs, port: e.port, debug: true },
          lns: [{ hostname: "xlns", assignIp: false }],
        },
        stubPppd: "fail",
      },
      ourTunnel({ peer: { address: e.theirs, port: e.port } }),
      async (xl, { dp, log }) => {
        await xl.waitFor(/pppd exited for call \d+ with code 4/);
        await until(
          "the CDN to remove our session",
          async () =>
            dp.calls.some((c) => c.op === "createSession") &&
            (await dp.listSessions()).length === 0,
        );
        // The session is deleted from the data plane before its down line is logged.
        await until(
          "the log to give the CDN's result",
          () => /CDN from the peer: result 1 \(lost carrier\)/.test(log.text()),
        );
        assert.equal((await dp.listTunnels()).length, 1, "the tunnel stays up");
      },
    );
  },
});

Deno.test({
  name: "xl2tpd LAC -> our LNS: tunnel and call up; xl2tpd's StopCCN (SIGINT) removes our " +
    "tunnel and session",
  ignore: !stub,
  fn: async () => {
    const e = endpoints(43);
    await withBoth(
      {
        config: {
          global: { listenAddr: e.theirs, port: e.port, debug: true },
          lac: [{ name: "ours", lns: `${e.ours}:${e.ourPort}`, autodial: true, hostname: "xlac" }],
        },
        stubPppd: true,
      },
      ourTunnel({
        role: "lns",
        local: { address: e.ours, port: e.ourPort },
        peer: { address: e.theirs, port: 0 },
      }),
      async (xl, { dp, log }) => {
        await xl.waitFor(/Call established with/);
        await until(
          "our tunnel and session",
          async () =>
            (await dp.listTunnels()).length === 1 && (await dp.listSessions()).length === 1,
        );
        const tunnel = establishedTunnel(xl.output());
        const [call] = establishedCalls(xl.output());
        const [t] = await dp.listTunnels();
        const [s] = await dp.listSessions();
        assert.deepEqual(
          [t.tunnelId, t.peerTunnelId, s.sessionId, s.peerSessionId],
          [tunnel?.remote, tunnel?.local, call.remote, call.local],
        );
        assert.match(log.text(), /tunnel-up .*peerHostName=xlac/);
        await xl.stop("SIGINT");
        await until(
          "the StopCCN to remove our tunnel",
          async () =>
            (await dp.listTunnels()).length === 0 && (await dp.listSessions()).length === 0,
        );
        assert.match(
          log.text(),
          /StopCCN from the peer: result 1 \(general request\): Server closing/,
        );
      },
      true,
    );
  },
});

Deno.test({
  name: "shared secret: our LAC -> xl2tpd LNS (challenge both ways, xl2tpd's hidden bit): both " +
    "authenticate; xl2tpd's StopCCN removes our tunnel and session",
  ignore: !stub,
  fn: async () => {
    const e = endpoints(44);
    await withBoth(
      {
        config: {
          global: { listenAddr: e.theirs, port: e.port, debug: true },
          lns: [{ hostname: "xlns", assignIp: false, challenge: true, hiddenBit: true }],
        },
        secrets: [{ us: "xlns", them: "l2tpd-test", secret: "correct-horse" }],
        stubPppd: true,
      },
      ourTunnel({ peer: { address: e.theirs, port: e.port }, secret: "correct-horse" }),
      async (xl, { dp, log }) => {
        await xl.waitFor(/Call established with/);
        const out = xl.output();
        assert.match(out, /challenge_avp: challenge avp found/, "we challenged xl2tpd");
        assert.match(out, /chalresp_avp: Challenge reply found/, "we answered its challenge");
        await until(
          "our tunnel and session",
          async () =>
            (await dp.listTunnels()).length === 1 && (await dp.listSessions()).length === 1,
        );
        assert.doesNotMatch(log.text(), /authenticat/i);
        await xl.stop("SIGINT");
        await until(
          "xl2tpd's StopCCN to remove our tunnel and session",
          async () =>
            (await dp.listTunnels()).length === 0 && (await dp.listSessions()).length === 0,
        );
        assert.match(log.text(), /StopCCN from the peer: result 1 \(general request\)/);
      },
    );
  },
});

Deno.test({
  name: "shared secret: xl2tpd LAC -> our LNS (challenge both ways, xl2tpd's hidden bit): both " +
    "authenticate; our stop sends a StopCCN xl2tpd follows",
  ignore: !stub,
  fn: async () => {
    const e = endpoints(45);
    await withBoth(
      {
        config: {
          global: { listenAddr: e.theirs, port: e.port, debug: true },
          lac: [{
            name: "ours",
            lns: `${e.ours}:${e.ourPort}`,
            autodial: true,
            hostname: "xlac",
            challenge: true,
            hiddenBit: true,
          }],
        },
        secrets: [{ us: "xlac", them: "l2tpd-test", secret: "correct-horse" }],
        stubPppd: true,
      },
      ourTunnel({
        role: "lns",
        local: { address: e.ours, port: e.ourPort },
        peer: { address: e.theirs, port: 0 },
        secret: "correct-horse",
      }),
      async (xl, { daemon, dp, log }) => {
        await xl.waitFor(/Call established with/);
        const out = xl.output();
        assert.match(out, /challenge_avp: challenge avp found/, "we challenged xl2tpd");
        assert.match(out, /chalresp_avp: Challenge reply found/, "we answered its challenge");
        await until(
          "our tunnel and session",
          async () =>
            (await dp.listTunnels()).length === 1 && (await dp.listSessions()).length === 1,
        );
        assert.match(log.text(), /tunnel-up .*peerHostName=xlac/);
        const mark = out.length;
        await daemon.stop();
        await xl.waitFor(/Connection closed to|peer closing for reason/, 5000, mark);
        // A daemon that stops says so: StopCCN result 6, "requester is being shut down".
        assert.match(xl.output().slice(mark), /peer closing for reason 6 /);
        assert.equal(xl.exited(), false, "xl2tpd keeps running");
      },
      true,
    );
  },
});

Deno.test({
  name: "a wrong shared secret is refused both ways: no tunnel on either side",
  ignore: !installed,
  fn: async () => {
    const lac = endpoints(46);
    await withBoth(
      {
        config: {
          global: { listenAddr: lac.theirs, port: lac.port, debug: true },
          lns: [{ hostname: "xlns", assignIp: false, challenge: true }],
        },
        secrets: [{ secret: "battery-staple" }],
      },
      ourTunnel({ peer: { address: lac.theirs, port: lac.port }, secret: "correct-horse" }),
      async (xl, { dp, log }) => {
        await until("our refusal", () => /shared secret mismatch/.test(log.text()));
        assert.match(log.text(), /wrong Challenge Response in the SCCRP/);
        await xl.waitFor(/peer closing for reason 4 /);
        assert.equal(dp.calls.filter((c) => c.op === "createTunnel").length, 0);
      },
    );
    const lns = endpoints(47);
    await withBoth(
      {
        config: {
          global: { listenAddr: lns.theirs, port: lns.port, debug: true },
          lac: [{
            name: "ours",
            lns: `${lns.ours}:${lns.ourPort}`,
            autodial: true,
            hostname: "xlac",
            challenge: true,
          }],
        },
        secrets: [{ secret: "battery-staple" }],
      },
      ourTunnel({
        role: "lns",
        local: { address: lns.ours, port: lns.ourPort },
        peer: { address: lns.theirs, port: 0 },
        secret: "correct-horse",
      }),
      async (xl, { dp, log }) => {
        await xl.waitFor(/Invalid (challenge )?authentication/);
        await until(
          "our side to end the connection",
          () => /down: StopCCN from the peer/.test(log.text()),
        );
        assert.equal(dp.calls.filter((c) => c.op === "createTunnel").length, 0);
      },
      true,
    );
  },
});

Deno.test({
  name: "hidden AVPs: xl2tpd decrypts our hiding (an SCCRQ with a hidden Assigned Tunnel ID is " +
    "answered to that tunnel)",
  ignore: !installed,
  fn: async () => {
    const e = endpoints(48);
    try {
      const xl = await startXl2tpd({
        config: {
          global: { listenAddr: e.theirs, port: e.port, debug: true },
          lns: [{ hostname: "xlns", assignIp: false }],
        },
      });
      await using reactor = new Reactor();
      using sock = reactor.udp({ local: { address: e.ours, port: e.ourPort } });
      const sccrq = buildSccrq(
        { version: 2, hostName: "probe", receiveWindow: 4, hide: true },
        4321,
        {},
      );
      assert.ok(
        (sccrq.avps ?? []).some((a) => "hidden" in a && a.hidden),
        "the tunnel ID is hidden",
      );
      // xl2tpd's key for the AVPs of an SCCRQ is the empty secret (see the module doc).
      const bytes = encodeControl(
        { version: 2, tunnelId: 0, sessionId: 0, ns: 0, nr: 0, type: sccrq.type, avps: sccrq.avps },
        { secret: new Uint8Array(0) },
      );
      assert.ok(sock.send(bytes, { address: e.theirs, port: e.port }));
      const it = sock[Symbol.asyncIterator]();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const reply = await Promise.race([
        it.next(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no answer from xl2tpd\n${xl.output()}`)),
            5000,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      assert.equal(reply.done, false);
      const answer = decodeControl((reply.value as Datagram).data, { version: 2 });
      assert.equal(answer.type, MessageType.SCCRP);
      assert.equal(answer.tunnelId, 4321, "xl2tpd answers the tunnel ID it decrypted");
      await xl.waitFor(/using peer's tunnel 4321/, 5000);
    } finally {
      await stopAllXl2tpd();
    }
  },
});

Deno.test({
  name: "keep-alive: xl2tpd acknowledges our HELLOs; once it is killed (no StopCCN) our side " +
    "declares it dead and removes tunnel and session",
  ignore: !stub,
  fn: async () => {
    const e = endpoints(49);
    await withBoth(
      {
        config: {
          global: { listenAddr: e.theirs, port: e.port, debug: true },
          lns: [{ hostname: "xlns", assignIp: false }],
        },
        stubPppd: true,
      },
      ourTunnel({
        peer: { address: e.theirs, port: e.port },
        helloTimeoutMs: 200,
        retryTimeoutMs: 200,
        maxRetries: 2,
      }),
      async (xl, { dp, log }) => {
        await xl.waitFor(/Call established with/);
        await xl.waitFor(/(message type 6 \(Hello\)[^]*){4}/, 5000);
        assert.equal((await dp.listTunnels()).length, 1, "HELLOs acknowledged: still up");
        assert.equal((await dp.listSessions()).length, 1);
        assert.doesNotMatch(log.text(), /peer silent/);
        await xl.stop("SIGKILL");
        await until(
          "our side to give the silent peer up",
          async () =>
            (await dp.listTunnels()).length === 0 && (await dp.listSessions()).length === 0,
        );
        assert.match(log.text(), /peer silent/);
      },
    );
  },
});

Deno.test({
  name: "xl2tpd LAC -> our LNS, two tunnels from its one UDP port (two [lac] sections, the " +
    "second dialled later): both come up and go down on their own",
  ignore: !stub,
  fn: async () => {
    const e = endpoints(50);
    const lac = (name: string): Xl2tpdLac => ({
      name,
      lns: `${e.ours}:${e.ourPort}`,
      hostname: `xlac-${name}`,
    });
    await withBoth(
      {
        config: {
          global: { listenAddr: e.theirs, port: e.port, debug: true },
          lac: [{ ...lac("one"), autodial: true }, lac("two")],
        },
        stubPppd: true,
      },
      ourTunnel({
        role: "lns",
        local: { address: e.ours, port: e.ourPort },
        peer: { address: e.theirs, port: 0 },
      }),
      async (xl, { dp, log }) => {
        await xl.waitFor(/Call established with/);
        await until("the first tunnel", async () => (await dp.listSessions()).length === 1);
        // Its SCCRQ comes from the port of the first tunnel, whose socket at our end reads it.
        await xl.control("c two");
        await until(
          "both tunnels and calls at our end",
          async () =>
            (await dp.listTunnels()).length === 2 && (await dp.listSessions()).length === 2,
        );
        assert.equal(establishedCalls(xl.output()).length, 2);
        assert.match(log.text(), /tunnel-up .*peerHostName=xlac-one/);
        assert.match(log.text(), /tunnel-up .*peerHostName=xlac-two/);
        await xl.control("d one");
        await until("the first tunnel to go", async () => (await dp.listTunnels()).length === 1);
        assert.equal((await dp.listSessions()).length, 1);
        const [left] = await dp.listTunnels();
        assert.equal(left.peerTunnelId, establishedTunnel(xl.output())?.local);
        assert.doesNotMatch(xl.output(), /out of order|bad control packet/);
      },
      true,
    );
  },
});

Deno.test("hygiene: on the host a test xl2tpd needs a port of its own, never 1701", async () => {
  for (const port of [undefined, 1701]) {
    await assert.rejects(
      () => startXl2tpd({ config: { global: { listenAddr: "127.0.0.1", port }, lns: [{}] } }),
      /^Error: Cannot start xl2tpd: on the host a test instance needs a port of its own .*not 1701/,
    );
  }
});

Deno.test("hygiene: no script or test stops an xl2tpd by name or through systemd", async () => {
  const root = new URL("../../", import.meta.url).pathname;
  const self = new URL(import.meta.url).pathname;
  const byName = [
    /\b(?:pkill|killall|pgrep|pidof)\b[^\n]*\bxl2tpd\b/,
    /\b(?:systemctl|service|invoke-rc\.d)\b[^\n]*\b(?:stop|kill|restart|disable|mask)\b[^\n]*\bxl2tpd\b/,
    /\b(?:systemctl|service|invoke-rc\.d)\b[^\n]*\bxl2tpd\b[^\n]*\b(?:stop|kill|restart)\b/,
  ];
  const found: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for await (const e of Deno.readDir(dir)) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory) {
        if (!["node_modules", ".vm", ".git", "fixtures"].includes(e.name)) await walk(path);
      } else if (e.isFile && path !== self && /(\.ts|\.sh|^setup|^run)$/.test(e.name)) {
        const lines = (await Deno.readTextFile(path)).split("\n");
        lines.forEach((line, i) => {
          if (byName.some((re) => re.test(line))) {
            found.push(`${path.slice(root.length)}:${i + 1}: ${line.trim()}`);
          }
        });
      }
    }
  };
  for (const dir of [".ci", "tests", "tools"]) await walk(`${root}${dir}`);
  assert.deepEqual(found, []);
});

Deno.test({
  name: `hygiene: stopping the test instances leaves an xl2tpd they did not start running${
    installed ? "" : " (ignored: xl2tpd is not installed)"
  }`,
  ignore: !installed,
  fn: async () => {
    // A bystander standing in for a system xl2tpd, started apart from _xl2tpd.ts.
    const e = endpoints(60);
    const dir = await Deno.makeTempDir({ prefix: "xl2tpd-bystander-" });
    const conf = `${dir}/xl2tpd.conf`;
    await Deno.writeTextFile(
      conf,
      xl2tpdConf({ global: { listenAddr: e.ours, port: e.ourPort }, lns: [{ assignIp: false }] }),
    );
    await Deno.writeTextFile(`${dir}/secrets`, "", { mode: 0o600 });
    const bystander = new Deno.Command(XL2TPD_BIN, {
      args: ["-D", "-c", conf, "-s", `${dir}/secrets`, "-p", `${dir}/pid`, "-C", `${dir}/ctl`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let bystanderExited = false;
    const bystanderStatus = bystander.status.then((s) => {
      bystanderExited = true;
      return s;
    });
    try {
      await until("the bystander's pid file", async () => {
        try {
          return (await Deno.readTextFile(`${dir}/pid`)).trim() === String(bystander.pid);
        } catch {
          return false;
        }
      });
      const xl = await startXl2tpd({
        config: { global: { listenAddr: e.theirs, port: e.port }, lns: [{ assignIp: false }] },
      });
      assert.notEqual(xl.pid, bystander.pid);
      await stopAllXl2tpd();
      assert.equal(xl.exited(), true, "the test instance stopped");
      // Give a stray signal time to land before looking.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(bystanderExited, false, "the other xl2tpd is still running");
    } finally {
      await stopAllXl2tpd();
      if (!bystanderExited) bystander.kill("SIGKILL");
      await bystanderStatus;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
