import assert from "node:assert/strict";
import {
  addressKind,
  type Config,
  ConfigError,
  formatConfig,
  loadConfig,
  parseConfig,
  parseEndpoint,
  secretFileWarnings,
  splitPppdArgs,
} from "../../lib/config.ts";
import { ipFamily, isIP } from "../../control/endpoint.ts";
import { DAEMON_KEYS } from "../../lib/config/daemon_keys.ts";
import { SESSION_KEYS } from "../../lib/config/session_keys.ts";
import { TUNNEL_KEYS } from "../../lib/config/tunnel_keys.ts";

const FIXTURES = new URL("../fixtures/config/", import.meta.url).pathname;
const EXAMPLE = new URL("../../config.example.toml", import.meta.url).pathname;

function fixture(name: string): string {
  return Deno.readTextFileSync(FIXTURES + name);
}

/** Parse `text` expecting failure; return the error. */
function parseError(text: string, file = "/etc/l2tp.toml"): ConfigError {
  try {
    parseConfig(text, file);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    return e;
  }
  assert.fail("expected the configuration to be rejected");
}

/** A static L2TPv3 tunnel with one session, plus extra tunnel and session lines. */
function staticV3(tunnelExtra = "", sessionExtra = ""): string {
  return `[tunnel.t1]
local = "192.0.2.1:5000"
peer = "192.0.2.2:5001"
version = "l2tpv3"
tid = 1
ptid = 2
${tunnelExtra}
[tunnel.t1.session.s1]
sid = 10
psid = 20
${sessionExtra}
`;
}

/** What the documentation test reads of a schema entry. */
interface KeySpecLike {
  doc: string;
  default: string;
}

function withoutWarnings(config: Config): Config {
  const { warnings: _warnings, ...rest } = config;
  return rest;
}

Deno.test("go-l2tp's README example (kl2tpd) parses unchanged", () => {
  const config = parseConfig(fixture("go_readme.toml"), "go_readme.toml");
  assert.equal(config.file, "go_readme.toml");
  assert.deepEqual(config.tunnels, [{
    name: "t1",
    config: {
      mode: "dynamic",
      version: 2,
      encap: "udp",
      role: "lac",
      peer: { address: "42.102.77.204", port: 1701 },
      windowSize: 4,
      helloTimeoutMs: 0,
      retryTimeoutMs: 1000,
      maxRetries: 3,
      framingCaps: ["sync", "async"],
      managed: true,
      udpChecksum: false,
    },
    sessions: [{
      name: "s1",
      config: {
        pseudowire: "ppp",
        sendSeqnum: false,
        recvSeqnum: false,
        reorderTimeoutMs: 0,
        l2specType: "none",
        pppdArgs: "/home/bob/pppd.args",
        lnsMode: false,
      },
    }],
  }]);
  assert.equal(config.warnings, undefined);
  // Same result under the kl2tpd personality.
  assert.deepEqual(
    parseConfig(fixture("go_readme.toml"), "go_readme.toml", { defaultMode: "dynamic" }),
    config,
  );
});

Deno.test("go-l2tp's config package example parses with go-l2tp's units and defaults", () => {
  const config = parseConfig(fixture("go_config_doc.toml"), "doc.toml", { defaultMode: "static" });
  const t = config.tunnels[0].config;
  assert.equal(config.tunnels[0].name, "t1");
  assert.equal(t.mode, "quiescent"); // hello_timeout is set
  assert.equal(t.version, 3);
  assert.deepEqual(t.local, { address: "127.0.0.1", port: 5000 });
  assert.deepEqual(t.peer, { address: "127.0.0.1", port: 5001 });
  assert.equal(t.tid, 62719);
  assert.equal(t.ptid, 72819);
  assert.equal(t.windowSize, 10);
  assert.equal(t.helloTimeoutMs, 7500);
  assert.equal(t.retryTimeoutMs, 1500);
  assert.equal(t.maxRetries, 5);
  assert.equal(t.hostName, "basilbrush.local");
  assert.equal(t.framingCaps, undefined); // L2TPv3 has no Framing Capabilities AVP
  assert.equal(t.managed, true);
  assert.ok(config.warnings?.some((w) => w.includes(`key "framing_caps"`)));
  assert.equal(config.tunnels[0].sessions[0].name, "s1");
  const s = config.tunnels[0].sessions[0].config;
  assert.equal(s.sid, 12389);
  assert.equal(s.psid, 1234);
  assert.equal(s.pseudowire, "eth");
  assert.equal(s.sendSeqnum, false);
  assert.deepEqual(s.cookie, new Uint8Array([0x12, 0xe9, 0x54, 0x0f, 0xe2, 0x68, 0x72, 0xbc]));
  assert.deepEqual(s.peerCookie, new Uint8Array([0x74, 0x2e, 0x28, 0xa8]));
  assert.equal(s.interfaceName, "l2tpeth42");
  assert.equal(s.l2specType, "default");
});

Deno.test("config.example.toml loads, with no warnings", async () => {
  const config = await loadConfig(EXAMPLE);
  assert.deepEqual(
    config.tunnels.map((
      t,
    ) => [t.name, t.config.mode, t.config.version, t.config.encap, t.config.managed]),
    [
      ["site-b", "static", 3, "udp", false],
      ["isp", "dynamic", 2, "udp", true],
      ["dc2", "quiescent", 3, "ip", true],
      ["v6", "static", 3, "udp", true],
      ["lns", "dynamic", 2, "udp", true],
      ["pe2", "dynamic", 3, "ip", true],
    ],
  );
  assert.equal(config.warnings, undefined);
  assert.deepEqual(config.daemon, { hookTimeoutMs: 10000 });
  const lan = config.tunnels[0].sessions[0].config;
  assert.deepEqual(lan.onUp, {
    argv: ["ip", "link", "set", "dev", "l2tp-siteb", "master", "br0", "up"],
  });
  assert.ok(lan.onDown !== undefined && "shell" in lan.onDown);
});

Deno.test("static L2TPv3 defaults: unmanaged, no control settings, every session default", () => {
  const config = parseConfig(fixture("static_v3_eth.toml"), "s.toml");
  const [{ config: t, sessions }] = config.tunnels;
  assert.equal(t.mode, "static");
  assert.equal(t.managed, false);
  assert.equal(t.udpChecksum, false);
  assert.equal(t.windowSize, undefined);
  assert.equal(t.helloTimeoutMs, undefined);
  assert.deepEqual(sessions[1], {
    name: "s2",
    config: {
      sid: 11,
      psid: 21,
      pseudowire: "eth",
      sendSeqnum: true,
      recvSeqnum: false,
      reorderTimeoutMs: 0,
      l2specType: "default", // sequencing needs the L2-Specific Sublayer
      lnsMode: false,
    },
  });
  assert.equal(sessions[0].config.l2specType, "none");
  assert.equal(sessions[0].config.mtu, 1400);
  // s2 sets send_seqnum without l2spec_type: the switch to "default" is said.
  assert.deepEqual(config.warnings?.map((w) => w.split(":")[0]), [
    `tunnel "t1" session "s2" key "l2spec_type"`,
  ]);
});

Deno.test("L2TPv3 sequencing with l2spec_type none is refused, naming the session and key", () => {
  const text = fixture("static_v3_eth.toml") + `l2spec_type = "none"\n`;
  assert.throws(
    () => parseConfig(text, "s.toml"),
    (e: unknown) =>
      e instanceof ConfigError &&
      /s\.toml: tunnel "t1" session "s2" key "l2spec_type": .*expected "default"/.test(e.message),
  );
});

Deno.test("effective configuration round-trips through formatConfig", () => {
  const sources: [string, string][] = [
    ["example", Deno.readTextFileSync(EXAMPLE)],
    ["go_readme", fixture("go_readme.toml")],
    ["go_config_doc", fixture("go_config_doc.toml")],
    ["static_v3_eth", fixture("static_v3_eth.toml")],
    ["ipv6", fixture("ipv6.toml")],
    ["quoted names", staticV3().replaceAll("t1", `"tunnel one"`).replaceAll("s1", `"a.b"`)],
  ];
  for (const [name, text] of sources) {
    const config = parseConfig(text, `${name}.toml`);
    const again = parseConfig(formatConfig(config, { showSecrets: true }), `${name}.toml`);
    assert.deepEqual(again, withoutWarnings(config), name);
    assert.equal(again.warnings, undefined, `${name}: the effective configuration is clean`);
  }
});

Deno.test("formatConfig writes the defaults out", () => {
  const text = formatConfig(parseConfig(fixture("go_readme.toml"), "r.toml"));
  for (
    const line of [
      `mode = "dynamic"`,
      `role = "lac"`,
      `peer = "42.102.77.204:1701"`,
      `window_size = 4`,
      `retry_timeout = 1000`,
      `max_retries = 3`,
      `framing_caps = ["sync", "async"]`,
      `send_seqnum = false`,
      `l2spec_type = "none"`,
    ]
  ) {
    assert.ok(text.split("\n").includes(line), `missing ${line} in\n${text}`);
  }
});

Deno.test("IPv6 endpoints: brackets, bare addresses, zones, default ports", () => {
  const config = parseConfig(fixture("ipv6.toml"), "v6.toml");
  const byName = new Map(config.tunnels.map((t) => [t.name, t]));
  assert.deepEqual(byName.get("bracketed")?.config.local, { address: "2001:db8::1", port: 5000 });
  assert.deepEqual(byName.get("bracketed")?.config.peer, { address: "2001:db8::2", port: 5001 });
  assert.deepEqual(byName.get("default-port")?.config.local, {
    address: "2001:db8::1",
    port: 1701,
  });
  assert.deepEqual(byName.get("default-port")?.config.peer, { address: "2001:db8::3", port: 1701 });
  assert.equal(byName.get("default-port")?.config.udp6ZeroChecksumTx, true);
  assert.equal(byName.get("default-port")?.config.udp6ZeroChecksumRx, false);
  assert.equal(byName.get("default-port")?.config.udpChecksum, undefined);
  assert.deepEqual(byName.get("link-local")?.config.peer, { address: "fe80::2%eth0", port: 1701 });
  assert.deepEqual(byName.get("ip-encap")?.config.peer, { address: "2001:db8::4", port: 0 });
});

Deno.test("local and peer must be the same address family", () => {
  const e = parseError(
    staticV3().replace(`peer = "192.0.2.2:5001"`, `peer = "[2001:db8::2]:5001"`),
  );
  assert.equal(e.issues.length, 1);
  assert.match(
    e.message,
    /tunnel "t1" key "peer": expected the same address family as local \(IPv4\), got IPv6/,
  );
});

Deno.test("host names are kept as text and flagged as unresolved", () => {
  const config = parseConfig(
    `[tunnel.t1]\npeer = "lns.example.net:1701"\nversion = "l2tpv2"`,
    "h.toml",
  );
  const t = config.tunnels[0].config;
  assert.deepEqual(t.peer, { address: "lns.example.net", port: 1701 });
  assert.deepEqual(t.unresolved, ["peer"]);
  // Family unknown: no checksum default is invented.
  assert.equal(t.udpChecksum, undefined);
});

Deno.test("mode defaults follow ptid and hello_timeout, or the personality", () => {
  const v3 = `version = "l2tpv3"\nlocal = "192.0.2.1"\npeer = "192.0.2.2"\ntid = 1`;
  const cases: [string, "auto" | "static" | "dynamic" | "quiescent", string][] = [
    [`${v3}\nptid = 2`, "auto", "static"],
    [`${v3}\nptid = 2\nhello_timeout = 1000`, "auto", "quiescent"],
    [`${v3}\nptid = 2\nhello_timeout = 0`, "auto", "static"],
    [`${v3}`, "auto", "dynamic"],
    [`${v3}\nptid = 2`, "static", "static"],
    [`${v3}\nptid = 2\nhello_timeout = 1000`, "static", "quiescent"],
    [`${v3}\nptid = 2`, "quiescent", "quiescent"],
    [`${v3}\nptid = 2`, "dynamic", "dynamic"],
    [`${v3}\nptid = 2\nmode = "dynamic"`, "static", "dynamic"],
  ];
  for (const [body, defaultMode, want] of cases) {
    const config = parseConfig(`[tunnel.t]\n${body}`, "m.toml", { defaultMode });
    assert.equal(config.tunnels[0].config.mode, want, `${defaultMode}: ${body}`);
  }
});

Deno.test("version defaults: L2TPv2 only for dynamic UDP tunnels without eth sessions", () => {
  const version = (text: string): number => parseConfig(text, "v.toml").tunnels[0].config.version;
  const peer = `[tunnel.t]\npeer = "192.0.2.2"`;
  assert.equal(version(peer), 2);
  assert.equal(version(`${peer}\n[tunnel.t.session.s]\npseudowire = "ppp"`), 2);
  assert.equal(version(`${peer}\n[tunnel.t.session.s]\npseudowire = "eth"`), 3);
  assert.equal(version(`${peer}\nencap = "ip"`), 3);
  assert.equal(version(staticV3().replace(`version = "l2tpv3"\n`, "")), 3);
});

Deno.test("a dynamic tunnel ignores ptid and psid, with warnings", () => {
  const config = parseConfig(
    `[tunnel.t1]\npeer = "192.0.2.2"\nversion = "l2tpv2"\nptid = 5\n` +
      `[tunnel.t1.session.s1]\nsid = 3\npsid = 4`,
    "d.toml",
    { defaultMode: "dynamic" },
  );
  assert.equal(config.tunnels[0].config.ptid, undefined);
  assert.equal(config.tunnels[0].sessions[0].config.sid, 3);
  assert.equal(config.tunnels[0].sessions[0].config.psid, undefined);
  assert.equal(config.warnings?.length, 2);
  assert.match(config.warnings?.[0] ?? "", /^tunnel "t1" key "ptid": ignored/);
});

Deno.test("managed defaults and unmanaged restrictions", () => {
  assert.equal(parseConfig(staticV3(), "a").tunnels[0].config.managed, false);
  assert.equal(parseConfig(staticV3(`managed = true`), "a").tunnels[0].config.managed, true);
  const v2 = staticV3().replace(`version = "l2tpv3"`, `version = "l2tpv2"`);
  assert.equal(parseConfig(v2, "a").tunnels[0].config.managed, true);
  assert.match(
    parseError(v2.replace("tid = 1", "tid = 1\nmanaged = false")).message,
    /tunnel "t1" key "managed": unmanaged tunnels need version = "l2tpv3"/,
  );
  assert.match(
    parseError(staticV3(`hello_timeout = 500\nmanaged = false`)).message,
    /tunnel "t1" key "managed": unmanaged tunnels must be static/,
  );
});

Deno.test("each kind of mistake names the file, tunnel, session and key", () => {
  const cases: [string, RegExp][] = [
    [
      staticV3("", "cookie = [1, 2, 3]"),
      /^Cannot load config \/etc\/l2tp\.toml: tunnel "t1" session "s1" key "cookie": expected 4 or 8 bytes, got 3$/,
    ],
    [
      staticV3("", "cookie = [1, 2, 300, 4]"),
      /session "s1" key "cookie": .*element 2 is integer 300/,
    ],
    [staticV3("", 'peer_cookie = "abcd"'), /session "s1" key "peer_cookie": expected an array/],
    [
      staticV3("", "sid = 0").replace("sid = 10\n", ""),
      /session "s1" key "sid": expected an integer in 1\.\.4294967295/,
    ],
    [
      staticV3("window_size = 70000"),
      /tunnel "t1" key "window_size": expected an integer in 0\.\.65535/,
    ],
    [
      staticV3("hello_timeout = 1.5"),
      /tunnel "t1" key "hello_timeout": expected an integer \(milliseconds\), got float 1\.5/,
    ],
    [
      staticV3(`encap = "tcp"`),
      /tunnel "t1" key "encap": expected "udp" or "ip", got string "tcp"/,
    ],
    [staticV3(`mode = "statik"`), /key "mode": .*did you mean "static"\?/],
    [
      staticV3("helo_timeout = 5"),
      /tunnel "t1" key "helo_timeout": unknown key; did you mean "hello_timeout"\?/,
    ],
    [
      staticV3("", "seqnums = true"),
      /session "s1" key "seqnums": unknown key; did you mean "seqnum"\?/,
    ],
    [staticV3("", 'peer = "x"'), /session "s1" key "peer": "peer" is a tunnel key/],
    [staticV3("psid = 4"), /tunnel "t1" key "psid": "psid" is a session key/],
    [`verbose = true\n` + staticV3(), /key "verbose": unknown key/],
    [staticV3("", `pseudowire = "ethernet"`), /key "pseudowire": expected "ppp", "eth" or "pppac"/],
    [
      staticV3("", `interface_name = "a-very-long-interface-name"`),
      /key "interface_name": expected a Linux interface name/,
    ],
    [
      staticV3("", `pseudowire = "ppp"\nmtu = 1400`),
      /key "mtu": applies to "eth" pseudowires only/,
    ],
    [
      staticV3(`udp6_zero_checksum_tx = true`),
      /tunnel "t1" key "udp6_zero_checksum_tx": applies to IPv6 only/,
    ],
    [
      staticV3(`encap = "ip"\nudp_checksum = true`),
      /tunnel "t1" key "udp_checksum": applies to UDP encapsulation only/,
    ],
    [
      staticV3(`mode = "static"\nhello_timeout = 100`),
      /tunnel "t1" key "hello_timeout": static tunnels send no HELLOs/,
    ],
    [staticV3(`role = "lac"`), /tunnel "t1" key "role": only dynamic tunnels have a role/],
    [
      staticV3().replace(`peer = "192.0.2.2:5001"`, `peer = "0.0.0.0:1701"`),
      /key "peer": expected a unicast address/,
    ],
    [
      staticV3().replace(`peer = "192.0.2.2:5001"`, `peer = "192.0.2.2:0"`),
      /key "peer": expected a non-zero UDP port/,
    ],
    [
      staticV3().replace(`local = "192.0.2.1:5000"`, `local = "192.0.2.300"`),
      /key "local": .*"192\.0\.2\.300" is not a valid IPv4 address/,
    ],
    [
      staticV3().replace("tid = 1\n", ""),
      /tunnel "t1" key "tid": missing: static tunnels need local, peer, tid and ptid/,
    ],
    [
      staticV3().replace("psid = 20\n", ""),
      /session "s1" key "psid": missing: sessions of static tunnels need sid and psid/,
    ],
    [
      `[tunnel.t1]\nversion = "l2tpv2"`,
      /tunnel "t1" key "peer": missing: dynamic tunnels with role "lac"/,
    ],
    [`[tunnel.t1]\nversion = "l2tpv2"\nrole = "lns"`, /tunnel "t1" key "local": missing: .*"lns"/],
    [`tunnel = 5`, /key "tunnel": expected named tunnel tables/],
    [
      `[tunnel.t1]\npeer = "192.0.2.2"\nsession = 3`,
      /tunnel "t1" key "session": expected named session tables/,
    ],
    [
      `[tunnel.t1.session]\nsid = 4\n[tunnel.t1]\npeer = "192.0.2.2"`,
      /tunnel "t1" key "session": "sid" \(integer 4\) is not a session; sessions are named tables such as \[tunnel\.t1\.session\.s1\]/,
    ],
  ];
  for (const [text, pattern] of cases) {
    const e = parseError(text);
    assert.equal(e.file, "/etc/l2tp.toml");
    assert.match(e.message, pattern, text);
  }
});

Deno.test("L2TPv2 restrictions: ppp only, 16-bit IDs, no cookies, no L2-Specific Sublayer, no ip encap", () => {
  const v2 = (t: string, s: string): string =>
    staticV3(t, s).replace(`version = "l2tpv3"`, `version = "l2tpv2"`);
  const e = parseError(
    v2(`encap = "ip"`, `pseudowire = "eth"\ncookie = [1,2,3,4]\nl2spec_type = "default"`)
      .replace("ptid = 2", "ptid = 65536"),
  );
  const keys = e.issues.map((i) => i.key).sort();
  assert.deepEqual(keys, ["cookie", "encap", "l2spec_type", "pseudowire", "ptid"]);
  assert.match(e.message, /key "ptid": expected an integer in 1\.\.65535 \(L2TPv2 tunnel ID\)/);
  // A v2 session defaults to ppp.
  assert.equal(parseConfig(v2("", ""), "a").tunnels[0].sessions[0].config.pseudowire, "ppp");
});

Deno.test("all errors are collected and listed one per line", () => {
  const e = parseError(fixture("many_errors.toml"), "many_errors.toml");
  const summary = e.issues.map((i) => `${i.tunnel}/${i.session ?? "-"}/${i.key}`).sort();
  assert.deepEqual(summary, [
    "t1/-/hello_timout",
    "t1/-/peer",
    "t1/s1/cookie",
    "t2/-/encap",
    "t2/-/tid",
    "t2/s1/pseudowire",
    "t2/s1/seqnum",
  ]);
  const lines = e.message.split("\n");
  assert.equal(lines[0], "Cannot load config many_errors.toml: 7 problems:");
  assert.equal(lines.length, 8);
  assert.ok(lines.slice(1).every((l) => l.startsWith("  tunnel ")));
  assert.match(e.message, /tunnel "t2" key "tid": duplicate tunnel ID 1: tunnel "t1" uses it too/);
});

Deno.test("duplicate session IDs and interface names are rejected", () => {
  const text = staticV3("", `interface_name = "eth-a"`) +
    `[tunnel.t1.session.s2]\nsid = 10\npsid = 21\ninterface_name = "eth-a"\n`;
  const e = parseError(text);
  assert.deepEqual(e.issues.map((i) => `${i.session}/${i.key}`), [
    "s2/sid",
    "s2/interface_name",
  ]);
});

Deno.test("TOML syntax errors carry the line and column", async () => {
  const e = await loadConfig(FIXTURES + "syntax_error.toml").then(
    () => assert.fail("expected a syntax error"),
    (e: unknown) => e,
  );
  assert.ok(e instanceof ConfigError);
  assert.equal(e.issues.length, 1);
  assert.equal(e.issues[0].line, 3);
  assert.equal(typeof e.issues[0].column, "number");
  assert.match(e.message, /syntax_error\.toml: line 3, column \d+: invalid TOML: /);
});

Deno.test("seqnum sets both directions; send_seqnum and recv_seqnum override it", () => {
  const s = (extra: string): [boolean, boolean] => {
    const session = parseConfig(staticV3("", extra), "a").tunnels[0].sessions[0].config;
    return [session.sendSeqnum, session.recvSeqnum];
  };
  assert.deepEqual(s(""), [false, false]);
  assert.deepEqual(s("seqnum = true"), [true, true]);
  assert.deepEqual(s("seqnum = true\nrecv_seqnum = false"), [true, false]);
  assert.deepEqual(s("recv_seqnum = true"), [false, true]);
});

Deno.test("IP encapsulation ignores ports (with a warning) and defaults them to 0", () => {
  const config = parseConfig(staticV3(`encap = "ip"`), "a");
  assert.deepEqual(config.tunnels[0].config.local, { address: "192.0.2.1", port: 0 });
  assert.equal(config.warnings?.length, 2);
});

Deno.test("loadConfig reads pppd_args relative to the config file and splits it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/args`, "noauth\nuser bob  mtu 1400\n\n\tdefaultroute\n");
    await Deno.writeTextFile(
      `${dir}/kl2tpd.toml`,
      fixture("go_readme.toml").replace("/home/bob/pppd.args", "args"),
    );
    const config = await loadConfig(`${dir}/kl2tpd.toml`);
    const s = config.tunnels[0].sessions[0].config;
    assert.equal(s.pppdArgs, "args");
    assert.deepEqual(s.pppdArgsList, ["noauth", "user", "bob", "mtu", "1400", "defaultroute"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a missing pppd_args file is a config error naming the session and key", async () => {
  const e = await loadConfig(FIXTURES + "go_readme.toml").then(
    () => assert.fail("expected a missing-file error"),
    (e: unknown) => e,
  );
  assert.ok(e instanceof ConfigError);
  assert.match(
    e.message,
    /go_readme\.toml: tunnel "t1" session "s1" key "pppd_args": cannot read pppd arguments file "\/home\/bob\/pppd\.args": file not found$/,
  );
});

Deno.test("a missing config file is a ConfigError", async () => {
  await assert.rejects(loadConfig("/nonexistent/l2tp.toml"), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(
      e.message,
      "Cannot load config /nonexistent/l2tp.toml: cannot read the file: file not found",
    );
    return true;
  });
});

Deno.test("address helpers", () => {
  assert.equal(addressKind("192.0.2.1"), "ipv4");
  assert.equal(addressKind("::ffff:192.0.2.1"), "ipv6");
  assert.equal(addressKind("1:2:3:4:5:6:7:8"), "ipv6");
  assert.equal(addressKind("1:2:3:4:5:6:7:8:9"), undefined);
  assert.equal(addressKind("1::2::3"), undefined);
  assert.equal(addressKind("010.0.0.1"), undefined);
  assert.equal(addressKind("lns-1.example.net"), "hostname");
  assert.equal(addressKind("-bad.example"), undefined);
  assert.deepEqual(parseEndpoint("[::1]:99", 1701), { address: "::1", port: 99 });
  assert.deepEqual(parseEndpoint("::1", 1701), { address: "::1", port: 1701 });
  assert.deepEqual(parseEndpoint("192.0.2.1", 0), { address: "192.0.2.1", port: 0 });
  assert.throws(() => parseEndpoint("192.0.2.1:x", 1701), RangeError);
  assert.throws(() => parseEndpoint("[192.0.2.1]:1", 1701), RangeError);
  assert.deepEqual(splitPppdArgs("a b\n\nc\r\nd  e\t f"), ["a", "b", "c", "d", "e", "f"]);
});

// ---- dynamic control connection keys (ours) --------------------------------------------------

/** A dynamic tunnel with one session, plus extra tunnel and session lines. */
function dynamic(tunnelExtra = "", sessionExtra = "", version = "l2tpv3"): string {
  return `[tunnel.t1]
peer = "192.0.2.2"
version = "${version}"
${tunnelExtra}
[tunnel.t1.session.s1]
${sessionExtra}
`;
}

Deno.test("redial keys: redial waits 30 s by default, redial_timeout alone turns it on", () => {
  const on = parseConfig(dynamic("redial = true\nmax_redials = 3"), "t.toml").tunnels[0].config;
  assert.equal(on.redialTimeoutMs, 30_000);
  assert.equal(on.maxRedials, 3);
  const timed = parseConfig(dynamic("redial_timeout = 5000"), "t.toml").tunnels[0];
  assert.equal(timed.config.redialTimeoutMs, 5000);
  const off = parseConfig(dynamic("redial = false\nredial_timeout = 5000"), "t.toml").tunnels[0];
  assert.equal(off.config.redialTimeoutMs, undefined);
  assert.equal(parseConfig(dynamic(), "t.toml").tunnels[0].config.redialTimeoutMs, undefined);
  // The effective configuration keeps it.
  const again = parseConfig(formatConfig({ file: "t.toml", tunnels: [timed] }), "t.toml");
  assert.equal(again.tunnels[0].config.redialTimeoutMs, 5000);
  assert.throws(
    () =>
      parseConfig(
        `[tunnel.t1]\nrole = "lns"\nlocal = "0.0.0.0"\npeer = "192.0.2.1"\nredial = true`,
        "t.toml",
      ),
    /tunnel "t1" key "redial": only a tunnel with role = "lac" dials/,
  );
});

Deno.test("dynamic keys: secret, hide_avps, message_digest, router_id, limits, remote_end_id", () => {
  const config = parseConfig(
    dynamic(
      `encap = "ip"\nsecret = "k"\nhide_avps = true\nrouter_id = "10.0.0.1"\nmax_sessions = 8`,
      `remote_end_id = "pw-1"\npseudowire = "eth_vlan"\ncall_type = "outgoing"`,
    ),
    "t.toml",
  );
  const t = config.tunnels[0].config;
  assert.equal(t.secret, "k");
  assert.equal(t.hideAvps, true);
  assert.equal(t.messageDigest, "md5", "the default over IP with a secret");
  assert.equal(t.routerId, 0x0a000001);
  assert.equal(t.maxSessions, 8);
  assert.equal(t.acceptAnyPeer, undefined);
  const s = config.tunnels[0].sessions[0].config;
  assert.deepEqual(s.remoteEndId, new TextEncoder().encode("pw-1"));
  assert.equal(s.pseudowire, "eth_vlan");
  assert.equal(s.callType, "outgoing");
  assert.equal(config.warnings, undefined);
  // Over UDP too the digest defaults to md5 with a secret (L2TPv3 authenticates only that way);
  // an integer Router ID and Remote End ID are accepted.
  const udp = parseConfig(
    dynamic(`secret = "k"\nrouter_id = 42`, "remote_end_id = 1002"),
    "t.toml",
  ).tunnels[0];
  assert.equal(udp.config.messageDigest, "md5");
  assert.equal(udp.config.routerId, 42);
  assert.deepEqual(udp.sessions[0].config.remoteEndId, new Uint8Array([0, 0, 3, 0xea]));
  // Without a secret there is no digest to speak of.
  assert.equal(parseConfig(dynamic(), "t.toml").tunnels[0].config.messageDigest, undefined);
});

Deno.test("dynamic keys: an LNS accepting any peer, with limits; round trip through formatConfig", () => {
  const text = `[tunnel.lns]
role = "lns"
local = "0.0.0.0:1701"
version = "l2tpv2"
secret = "s"
accept_any_peer = true
max_tunnels = 10
[tunnel.lns.session.ppp]
pseudowire = "ppp"
[tunnel.pe]
version = "l2tpv3"
peer = "192.0.2.9"
secret = "x"
message_digest = "sha1"
router_id = "192.0.2.1"
[tunnel.pe.session.a]
remote_end_id = [1, 2, 250]
call_type = "incoming"
`;
  const config = parseConfig(text, "t.toml");
  const [lns, pe] = config.tunnels;
  assert.equal(lns.name, "lns");
  assert.equal(lns.config.role, "lns");
  assert.equal(lns.config.acceptAnyPeer, true);
  assert.equal(lns.config.maxTunnels, 10);
  assert.equal(lns.config.peer, undefined);
  assert.equal(lns.sessions[0].name, "ppp");
  assert.equal(pe.config.messageDigest, "sha1");
  assert.deepEqual(pe.sessions[0].config.remoteEndId, new Uint8Array([1, 2, 250]));
  const again = parseConfig(formatConfig(config, { showSecrets: true }), "t.toml");
  assert.deepEqual(again.tunnels, config.tunnels);
});

Deno.test("dynamic keys: mistakes name the tunnel, session and key", () => {
  const cases: [string, RegExp][] = [
    [dynamic(`hide_avps = true`), /tunnel "t1" key "hide_avps": .*set secret too/],
    [dynamic(`secret = ""`), /tunnel "t1" key "secret": expected a non-empty shared secret/],
    [
      dynamic(`message_digest = "md5"`, "", "l2tpv2"),
      /tunnel "t1" key "message_digest": the Message Digest is L2TPv3 only/,
    ],
    [dynamic(`message_digest = "sha1"`), /key "message_digest": .*set secret too/],
    [
      dynamic(`message_digest = "sha256"`),
      /key "message_digest": expected "none", "md5" or "sha1"/,
    ],
    [dynamic(`router_id = 0`), /key "router_id": expected a non-zero 32-bit integer/],
    [dynamic(`router_id = "1.2.3"`), /key "router_id": expected a non-zero/],
    [dynamic(`router_id = 7`, "", "l2tpv2"), /key "router_id": the Router ID is L2TPv3 only/],
    [
      dynamic(`accept_any_peer = true\nsecret = "k"`),
      /key "accept_any_peer": only a tunnel with role = "lns"/,
    ],
    [
      `[tunnel.t1]\nrole = "lns"\nlocal = "0.0.0.0"\naccept_any_peer = true`,
      /key "accept_any_peer": accepting any peer needs a shared secret/,
    ],
    [
      `[tunnel.t1]\nrole = "lns"\nlocal = "0.0.0.0"\nversion = "l2tpv3"\naccept_any_peer = true\n` +
      `secret = "k"\nmessage_digest = "none"`,
      /key "accept_any_peer": accepting any L2TPv3 peer needs message_digest "md5" or "sha1"/,
    ],
    [
      `[tunnel.t1]\nrole = "lns"\nlocal = "0.0.0.0"\nversion = "l2tpv2"`,
      /tunnel "t1" key "peer": missing: a tunnel with role "lns" accepts the peer named here/,
    ],
    [dynamic(`max_tunnels = 3`), /key "max_tunnels": only a tunnel with role = "lns"/],
    [dynamic(`max_sessions = 0`), /key "max_sessions": expected an integer in 1\.\.4294967295/],
    [dynamic("", `remote_end_id = ""`), /session "s1" key "remote_end_id": expected a non-empty/],
    [dynamic("", `remote_end_id = 1.5`), /session "s1" key "remote_end_id": expected .*float/],
    [
      dynamic("", `remote_end_id = "x"\npseudowire = "ppp"`, "l2tpv2"),
      /session "s1" key "remote_end_id": the Remote End ID is L2TPv3 only/,
    ],
    [dynamic("", `call_type = "inbound"`), /key "call_type": expected "incoming" or "outgoing"/],
    [
      staticV3("", `pseudowire = "eth_vlan"`),
      /session "s1" key "pseudowire": "eth_vlan" is negotiated by the control protocol/,
    ],
    [
      dynamic("", `pseudowire = "eth_vlan"`, "l2tpv2"),
      /session "s1" key "pseudowire": L2TPv2 carries PPP only/,
    ],
    [
      dynamic() + `remote_end_id = "a"\n[tunnel.t1.session.s2]\nremote_end_id = "a"\n`,
      /session "s2" key "remote_end_id": duplicate Remote End ID: session "s1" uses it too/,
    ],
  ];
  for (const [text, pattern] of cases) {
    assert.match(parseError(text).message, pattern, text);
  }
});

Deno.test("dynamic keys are ignored, with warnings, where nothing is negotiated", () => {
  const config = parseConfig(
    staticV3(`secret = "k"\nmax_sessions = 3`, `remote_end_id = "x"\ncall_type = "outgoing"`),
    "t.toml",
  );
  const [{ config: t, sessions: [s] }] = config.tunnels;
  assert.equal(t.secret, undefined);
  assert.equal(t.maxSessions, undefined);
  assert.equal(s.config.remoteEndId, undefined);
  assert.equal(s.config.callType, undefined);
  for (const key of ["secret", "max_sessions", "remote_end_id", "call_type"]) {
    assert.ok(config.warnings?.some((w) => w.includes(`key "${key}"`)), key);
  }
  // A dynamic session sends the cookie the peer assigns: its own cookie key is ignored.
  const dyn = parseConfig(
    dynamic("", "cookie = [1, 2, 3, 4]\npeer_cookie = [5, 6, 7, 8]"),
    "t.toml",
  );
  assert.equal(dyn.tunnels[0].sessions[0].config.cookie, undefined);
  assert.deepEqual(dyn.tunnels[0].sessions[0].config.peerCookie, new Uint8Array([5, 6, 7, 8]));
  assert.ok(dyn.warnings?.some((w) => w.includes(`key "cookie"`)));
});

// ---- go-l2tp compatibility ---------------------------------------------------------------------

Deno.test("an empty file, or one with only comments, is a configuration without tunnels", async () => {
  assert.deepEqual(parseConfig(""), { file: "<config>", tunnels: [] });
  assert.deepEqual(parseConfig("# nothing yet\n\n   # still nothing\n", "e.toml"), {
    file: "e.toml",
    tunnels: [],
  });
  assert.deepEqual(parseConfig("[tunnel]\n", "e.toml"), { file: "e.toml", tunnels: [] });
  assert.equal(formatConfig(parseConfig("", "e.toml")), "# Effective configuration of e.toml\n");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/empty.toml`, "# a daemon with nothing to run\n");
    assert.deepEqual(await loadConfig(`${dir}/empty.toml`), {
      file: `${dir}/empty.toml`,
      tunnels: [],
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("L2TPv3 sequencing without l2spec_type picks the default sublayer, with a warning", () => {
  const warned = parseConfig(staticV3("", "seqnum = true"), "w.toml");
  assert.equal(warned.tunnels[0].sessions[0].config.l2specType, "default");
  assert.equal(warned.warnings?.length, 1);
  assert.match(
    warned.warnings?.[0] ?? "",
    /^tunnel "t1" session "s1" key "l2spec_type": set to "default", not the documented default "none": L2TPv3 data packets carry sequence numbers \(seqnum = true\) only in the default L2-Specific Sublayer, .*set l2spec_type = "default" to silence this warning$/,
  );
  // The key that turned sequencing on is named.
  const recv = parseConfig(staticV3("", "recv_seqnum = true"), "w.toml");
  assert.match(recv.warnings?.[0] ?? "", /\(recv_seqnum = true\)/);
  // Setting l2spec_type silences it; no sequencing, or L2TPv2, has nothing to say.
  const quiet = [
    staticV3("", `seqnum = true\nl2spec_type = "default"`),
    staticV3("", "seqnum = false"),
    staticV3("", "seqnum = true\nsend_seqnum = false\nrecv_seqnum = false"),
    staticV3("", "seqnum = true").replace(`version = "l2tpv3"`, `version = "l2tpv2"`),
  ];
  for (const text of quiet) assert.equal(parseConfig(text, "q.toml").warnings, undefined, text);
  // A dynamic L2TPv3 session gets the same treatment.
  const dyn = parseConfig(dynamic("", "seqnum = true"), "d.toml");
  assert.equal(dyn.tunnels[0].sessions[0].config.l2specType, "default");
  assert.match(dyn.warnings?.[0] ?? "", /session "s1" key "l2spec_type": set to "default"/);
  // The effective configuration writes the sublayer out, so it reads back without the warning.
  assert.equal(parseConfig(formatConfig(warned), "w.toml").warnings, undefined);
});

// ---- pppac: a PPPoE session relayed to the LNS -------------------------------------------------

/** A pppac session's three keys, as go-l2tp's kpppoed writes them for kl2tpd. */
const PPPAC = `pseudowire = "pppac"
pppoe_session_id = 4660
interface_name = "eth0"
pppoe_peer_mac = [ 0x2, 0x42, 0x94, 0xd1, 0x4e, 0x9a ]`;

Deno.test('pseudowire "pppac": the kl2tpd file go-l2tp\'s kpppoed writes parses unchanged', async () => {
  // cmd/kpppoed/l2tpd_kl2tpd.go genCfg, verbatim.
  const text = `[tunnel.t1]\npeer = "3.22.1.9:1701"\nversion = "l2tpv2"\nencap = "udp"\n` +
    `[tunnel.t1.session.s1]\n${PPPAC}\n`;
  for (const opts of [{}, { defaultMode: "dynamic" as const }]) {
    const config = parseConfig(text, "kl2tpd.toml", opts);
    assert.equal(config.warnings, undefined);
    const [t] = config.tunnels;
    assert.deepEqual([t.config.mode, t.config.version, t.config.role], ["dynamic", 2, "lac"]);
    assert.deepEqual(t.sessions[0].config, {
      pseudowire: "pppac",
      sendSeqnum: false,
      recvSeqnum: false,
      reorderTimeoutMs: 0,
      l2specType: "none",
      interfaceName: "eth0",
      lnsMode: false,
      pppoeSessionId: 4660,
      pppoePeerMac: new Uint8Array([0x02, 0x42, 0x94, 0xd1, 0x4e, 0x9a]),
    });
    // The effective configuration reads back the same.
    assert.deepEqual(
      parseConfig(formatConfig(config), "kl2tpd.toml", opts).tunnels,
      config.tunnels,
    );
  }
  // check-config and run read files alike: loadConfig accepts it too.
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/pppac.toml`, text);
    const loaded = await loadConfig(`${dir}/pppac.toml`);
    assert.equal(loaded.tunnels[0].sessions[0].config.pseudowire, "pppac");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test('pseudowire "pppac" in static and quiescent L2TPv2 tunnels', () => {
  const v2 = (extra: string): string =>
    staticV3(extra, PPPAC).replace(`version = "l2tpv3"`, `version = "l2tpv2"`);
  const s = parseConfig(v2(""), "s.toml");
  assert.deepEqual([s.tunnels[0].config.mode, s.tunnels[0].config.managed], ["static", true]);
  assert.equal(s.tunnels[0].sessions[0].config.pppoeSessionId, 4660);
  const q = parseConfig(v2("hello_timeout = 5000"), "q.toml");
  assert.equal(q.tunnels[0].config.mode, "quiescent");
  assert.equal(q.warnings, undefined);
});

Deno.test('pseudowire "pppac": every missing key is named, with what it is for', () => {
  const e = parseError(dynamic("", `pseudowire = "pppac"`, "l2tpv2"));
  const where = { tunnel: "t1", session: "s1" };
  assert.deepEqual(e.issues, [{
    ...where,
    key: "interface_name",
    message: 'missing: pseudowire "pppac" needs interface_name (the Ethernet interface the ' +
      `subscriber's PPPoE session runs on, e.g. "eth0")`,
  }, {
    ...where,
    key: "pppoe_session_id",
    message: 'missing: pseudowire "pppac" needs pppoe_session_id (the subscriber\'s PPPoE ' +
      "session ID, 1..65534)",
  }, {
    ...where,
    key: "pppoe_peer_mac",
    message: 'missing: pseudowire "pppac" needs pppoe_peer_mac (the subscriber\'s MAC address)',
  }]);
  assert.match(
    e.message,
    /^Cannot load config \/etc\/l2tp\.toml: 3 problems:\n {2}tunnel "t1" session "s1" key "interface_name": missing: pseudowire "pppac" needs interface_name/,
  );
  // One missing key alone.
  const one = parseError(dynamic("", PPPAC.replace(/^interface_name.*\n/m, ""), "l2tpv2"));
  assert.deepEqual(one.issues.map((i) => i.key), ["interface_name"]);
});

Deno.test('pseudowire "pppac" is L2TPv2 only, and not for role "lns"', () => {
  // L2TPv3: refused, saying why, and the missing PPPoE keys are not listed on top.
  for (const text of [dynamic("", `pseudowire = "pppac"`), staticV3("", PPPAC)]) {
    const e = parseError(text);
    assert.deepEqual(e.issues.map((i) => `${i.session}/${i.key}`), ["s1/pseudowire"], text);
    assert.match(
      e.issues[0].message,
      /^pseudowire "pppac" is L2TPv2 only \(go-l2tp's kpppoed and the kernel's PPPoE relay carry PPPoE sessions over L2TPv2\): set version = "l2tpv2"/,
    );
  }
  // A static tunnel's version defaults to L2TPv3, which the message says.
  const defaulted = parseError(staticV3("", PPPAC).replace(`version = "l2tpv3"\n`, ""));
  assert.match(defaulted.issues[0].message, /\(version defaults to l2tpv3 for static tunnels\)$/);
  // An LNS terminates PPP: pppac is the other side.
  const lns = parseError(
    `[tunnel.t1]\nrole = "lns"\nlocal = "192.0.2.1"\npeer = "192.0.2.2"\nversion = "l2tpv2"\n` +
      `[tunnel.t1.session.s1]\n${PPPAC}\n[tunnel.t1.session.s2]\npseudowire = "pppac"\n`,
  );
  assert.deepEqual(lns.issues.map((i) => `${i.session}/${i.key}`), [
    "s1/pseudowire",
    "s2/pseudowire",
  ]);
  assert.match(
    lns.issues[0].message,
    /^pseudowire "pppac" is the access concentrator's side .* this tunnel has role "lns", which terminates PPP: use pseudowire "ppp" here/,
  );
});

Deno.test("pppoe_peer_mac: go-l2tp's bytes or the text form; a unicast address", () => {
  const mac = (value: string): Uint8Array | undefined =>
    parseConfig(
      dynamic("", PPPAC.replace(/^pppoe_peer_mac.*$/m, `pppoe_peer_mac = ${value}`), "l2tpv2"),
    )
      .tunnels[0].sessions[0].config.pppoePeerMac;
  const want = new Uint8Array([0x02, 0x00, 0x5e, 0x00, 0x53, 0xab]);
  assert.deepEqual(mac(`[2, 0, 0x5e, 0, 0x53, 0xab]`), want);
  assert.deepEqual(mac(`"02:00:5e:00:53:AB"`), want);
  const bad: [string, RegExp][] = [
    [
      `[2, 0, 0, 0, 1]`,
      /expected a MAC address, an array of 6 bytes or "xx:xx:xx:xx:xx:xx", got 5 bytes$/,
    ],
    [`[2, 0, 0, 0, 0, 256]`, /, element 5 is integer 256$/],
    [`"02-00-5e-00-53-01"`, /, got string "02-00-5e-00-53-01"$/],
    [`"2:0:5e:0:53:1"`, /, got string "2:0:5e:0:53:1"$/],
    [`0x020000000001`, /, got integer /],
    [`[0, 0, 0, 0, 0, 0]`, /expected a unicast MAC address, got the all-zero address$/],
    [`"ff:ff:ff:ff:ff:ff"`, /got the group address ff:ff:ff:ff:ff:ff \(its first byte is odd/],
    [`[1, 0, 0x5e, 0, 0, 1]`, /got the group address 01:00:5e:00:00:01/],
  ];
  for (const [value, re] of bad) {
    const e = parseError(
      dynamic("", PPPAC.replace(/^pppoe_peer_mac.*$/m, `pppoe_peer_mac = ${value}`), "l2tpv2"),
    );
    assert.equal(e.issues.length, 1, `${value}: ${e.message}`);
    assert.equal(e.issues[0].key, "pppoe_peer_mac");
    assert.match(e.issues[0].message, re, value);
  }
  // pppoe_session_id: 1..65534 (RFC 2516: 0xffff is reserved).
  for (const id of [0, 65535]) {
    const e = parseError(dynamic("", PPPAC.replace("4660", String(id)), "l2tpv2"));
    assert.deepEqual(e.issues.map((i) => i.message), [
      `expected an integer in 1..65534 (PPPoE session ID), got ${id}`,
    ]);
  }
});

Deno.test("pppac sessions share their Ethernet interface; a PPPoE session is unique", () => {
  const session = (name: string, id: number, mac: string, ifname = "eth0"): string =>
    `[tunnel.t1.session.${name}]\npseudowire = "pppac"\npppoe_session_id = ${id}\n` +
    `pppoe_peer_mac = "${mac}"\ninterface_name = "${ifname}"\n`;
  const head = `[tunnel.t1]\npeer = "192.0.2.2"\nversion = "l2tpv2"\n`;
  // Same interface, different PPPoE sessions (ID or peer): fine.
  const ok = parseConfig(
    head + session("a", 1, "02:00:00:00:00:01") + session("b", 2, "02:00:00:00:00:01") +
      session("c", 1, "02:00:00:00:00:02") + session("d", 1, "02:00:00:00:00:01", "eth1"),
  );
  assert.equal(ok.tunnels[0].sessions.length, 4);
  // The same PPPoE session twice, even in another tunnel.
  const e = parseError(
    head + session("a", 7, "02:00:00:00:00:01") +
      `[tunnel.t2]\npeer = "192.0.2.3"\nversion = "l2tpv2"\n` +
      session("b", 7, "02:00:00:00:00:01").replaceAll("t1", "t2"),
  );
  assert.deepEqual(e.issues, [{
    tunnel: "t2",
    session: "b",
    key: "pppoe_session_id",
    message: 'duplicate PPPoE session 7 with 02:00:00:00:00:01 on "eth0": tunnel "t1" ' +
      'session "a" is it too',
  }]);
});

Deno.test("the PPPoE keys apply to pppac only: elsewhere they are ignored, with a warning", () => {
  const ppp = parseConfig(dynamic("", `pseudowire = "ppp"\npppoe_session_id = 7`, "l2tpv2"), "p");
  assert.equal(ppp.tunnels[0].sessions[0].config.pppoeSessionId, undefined);
  assert.match(ppp.warnings?.[0] ?? "", /key "pppoe_session_id": ignored: applies to "pppac"/);
});

// ---- one IP parser -------------------------------------------------------------------------------

Deno.test("addressKind takes IP literals from control/endpoint.ts, with stricter zones on top", () => {
  const literals = [
    "192.0.2.1",
    "0.0.0.0",
    "255.255.255.255",
    "256.0.0.1",
    "1.2.3",
    "01.2.3.4",
    "::",
    "::1",
    "2001:DB8::1",
    "1:2:3:4:5:6:7:8",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    "::ffff:192.0.2.1",
    "::ffff:192.0.2.256",
    "1:2:3:4:5:6:1.2.3.4",
    "fe80::1%eth0",
    "fe80::1%2",
    "fe80::1%",
    "g::1",
  ];
  for (const text of literals) {
    const kind = addressKind(text);
    const ip = kind === "ipv4" || kind === "ipv6";
    assert.equal(ip, isIP(text), text);
    if (ip) assert.equal(kind, ipFamily(text) === 4 ? "ipv4" : "ipv6", text);
  }
  // On top of isIP: a zone must be an interface name or number; host names must be DNS names
  // and not mistyped IPv4 addresses.
  assert.equal(isIP("fe80::1%eth 0"), true);
  assert.equal(addressKind("fe80::1%eth 0"), undefined);
  assert.equal(addressKind("fe80::1%eth0.100"), "ipv6");
  assert.equal(addressKind("lns.example.net."), "hostname");
  assert.equal(addressKind("1.2.3.4.5"), undefined);
  assert.equal(addressKind("a_b.example"), undefined);
  assert.equal(addressKind(""), undefined);
  // Endpoints use the same parser, and say what is wrong.
  assert.deepEqual(parseEndpoint("[fe80::1%eth0]:1701", 0), {
    address: "fe80::1%eth0",
    port: 1701,
  });
  assert.throws(
    () => parseEndpoint("[fe80::1%eth 0]:1701", 0),
    /Cannot parse endpoint: .*"fe80::1%eth 0" is not an IPv6 address/,
  );
  assert.throws(() => parseEndpoint("::ffff:192.0.2.256", 0), /is not a valid IPv6 address/);
  assert.throws(() => parseEndpoint("192.0.2.256:1", 0), /is not a valid IPv4 address/);
  // router_id's dotted form is read by it too.
  assert.match(parseError(dynamic(`router_id = "01.2.3.4"`)).message, /key "router_id"/);
});

// ---- the schema drives parsing, hints and printing -------------------------------------------

Deno.test("every schema key has a doc line and a default, and config.example.toml documents it", () => {
  const example = Deno.readTextFileSync(EXAMPLE);
  const schemas = [["tunnel", TUNNEL_KEYS], ["session", SESSION_KEYS], ["daemon", DAEMON_KEYS]];
  for (const [table, schema] of schemas as [string, Record<string, KeySpecLike>][]) {
    for (const [key, spec] of Object.entries(schema)) {
      assert.ok(spec.doc.length > 0 && spec.default.length > 0, `${table} key ${key}`);
      if (key === "session") continue;
      assert.match(example, new RegExp(`^#? ?${key}[ =:(/]`, "m"), `${table} key ${key}`);
    }
  }
});

Deno.test("every schema key gets a did-you-mean from its camelCase and dashed spellings", () => {
  for (const [schema, text] of [[TUNNEL_KEYS, staticV3], [SESSION_KEYS, null]] as const) {
    for (const key of Object.keys(schema)) {
      if (!key.includes("_")) continue;
      const camel = key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
      for (const spelling of [camel, key.replaceAll("_", "-")]) {
        const line = `"${spelling}" = 1`;
        const e = parseError(text === null ? staticV3("", line) : text(line));
        assert.ok(
          e.issues.some((i) =>
            i.key === spelling && i.message === `unknown key; did you mean "${key}"?`
          ),
          `${spelling}: ${e.message}`,
        );
      }
    }
  }
});

Deno.test("formatConfig prints schema keys only, in schema order", () => {
  const config = parseConfig(Deno.readTextFileSync(EXAMPLE), "example.toml");
  const order = {
    tunnel: Object.keys(TUNNEL_KEYS),
    session: Object.keys(SESSION_KEYS),
    daemon: Object.keys(DAEMON_KEYS),
  };
  let table: "tunnel" | "session" | "daemon" = "tunnel";
  let last = -1;
  for (const line of formatConfig(config).split("\n")) {
    if (line.startsWith("[")) {
      table = line === "[daemon]" ? "daemon" : line.includes(".session.") ? "session" : "tunnel";
      last = -1;
    } else if (line !== "" && !line.startsWith("#")) {
      const at = order[table].indexOf(line.split(" = ")[0]);
      assert.ok(at > last, `${table}: ${line}`);
      last = at;
    }
  }
});

// ---- on_up / on_down, [daemon], secrets -------------------------------------------------------

Deno.test("on_up and on_down: an array runs without a shell, a string with /bin/sh -c", () => {
  const config = parseConfig(
    staticV3(
      `on_up = ["/usr/local/sbin/tunnel-up", "t1"]\non_down = "logger tunnel down"`,
      `on_up = ["ip", "link", "set", "dev", "l2tpeth0", "master", "br0"]\n` +
        `on_down = '''\necho "$L2TPD_SESSION" down\nexit 0\n'''`,
    ),
    "h.toml",
  );
  const [t] = config.tunnels;
  assert.deepEqual(t.config.onUp, { argv: ["/usr/local/sbin/tunnel-up", "t1"] });
  assert.deepEqual(t.config.onDown, { shell: "logger tunnel down" });
  assert.deepEqual(t.sessions[0].config.onUp, {
    argv: ["ip", "link", "set", "dev", "l2tpeth0", "master", "br0"],
  });
  assert.deepEqual(t.sessions[0].config.onDown, { shell: `echo "$L2TPD_SESSION" down\nexit 0\n` });
  const text = formatConfig(config);
  assert.ok(text.includes(`on_up = ["ip", "link", "set", "dev", "l2tpeth0", "master", "br0"]`));
  assert.ok(text.includes(`on_down = "echo \\"$L2TPD_SESSION\\" down\\nexit 0\\n"`), text);
  assert.deepEqual(parseConfig(text, "h.toml"), withoutWarnings(config));
  // Without the keys, nothing is set.
  assert.equal(parseConfig(staticV3()).tunnels[0].sessions[0].config.onUp, undefined);
});

Deno.test("on_up and on_down: mistakes name the tunnel, session and key", () => {
  const e = parseError(
    staticV3(`on_up = ""\non_down = []`, `on_up = ["ip", 5]\non_down = ["", "x"]\n`) +
      `[tunnel.t1.session.s2]\nsid = 11\npsid = 21\non_up = 7\non_down = "  "\n`,
  );
  const expected = "expected a command, an array of strings (run without a shell) or a string " +
    "(run with /bin/sh -c), ";
  assert.deepEqual(e.issues.map((i) => [i.tunnel, i.session, i.key, i.message]), [
    ["t1", undefined, "on_up", `${expected}got an empty string`],
    ["t1", undefined, "on_down", `${expected}got an empty array`],
    ["t1", "s1", "on_up", `${expected}element 1 is integer 5`],
    ["t1", "s1", "on_down", `${expected}element 0 (the program to run) is an empty string`],
    ["t1", "s2", "on_up", `${expected}got integer 7`],
    ["t1", "s2", "on_down", `${expected}got an empty string`],
  ]);
  assert.match(e.message, /tunnel "t1" session "s2" key "on_up": expected a command/);
  // A hook key in the wrong place says where it belongs.
  assert.match(
    parseError(`on_up = "x"`).message,
    /key "on_up": "on_up" is a tunnel and session key: put it in a tunnel table/,
  );
});

Deno.test("[daemon]: socket, socket_group, metrics and hook_timeout, printed back", () => {
  const config = parseConfig(
    `[daemon]
socket = "/run/l2tpd/l2tpd.sock"
socket_group = "l2tpd"
metrics = "[::1]:9100"
hook_timeout = 2500
`,
    "d.toml",
  );
  assert.deepEqual(config, {
    file: "d.toml",
    tunnels: [],
    daemon: {
      socket: "/run/l2tpd/l2tpd.sock",
      socketGroup: "l2tpd",
      metrics: { address: "::1", port: 9100 },
      hookTimeoutMs: 2500,
    },
  });
  const text = formatConfig(config);
  assert.match(
    text,
    /\n\[daemon\]\nsocket = "\/run\/l2tpd\/l2tpd.sock"\nsocket_group = "l2tpd"\nmetrics = "\[::1\]:9100"\nhook_timeout = 2500\n/,
  );
  assert.deepEqual(parseConfig(text, "d.toml"), config);
  // An empty table gets the default hook timeout; no table, no daemon settings.
  assert.deepEqual(parseConfig("[daemon]\n").daemon, { hookTimeoutMs: 10000 });
  assert.equal(parseConfig(staticV3()).daemon, undefined);
  assert.deepEqual(parseConfig(`[daemon]\nmetrics = "127.0.0.1:9100"`).daemon?.metrics, {
    address: "127.0.0.1",
    port: 9100,
  });
  assert.equal(parseConfig(`[daemon]\nsocket_group = "1001"`).daemon?.socketGroup, "1001");
  // It goes with tunnels, in any order.
  const both = parseConfig(staticV3() + `[daemon]\nhook_timeout = 1\n`);
  assert.deepEqual([both.tunnels.length, both.daemon?.hookTimeoutMs], [1, 1]);
});

Deno.test("[daemon]: mistakes name the table and key, with did-you-mean", () => {
  const e = parseError(`[daemon]
sockt = "/run/l2tpd.sock"
socket_group = "two words"
metrics = "::1:9100"
hook_timeout = 0
`);
  assert.deepEqual(e.issues.map((i) => [i.table, i.key]), [
    ["daemon", "sockt"],
    ["daemon", "socket_group"],
    ["daemon", "metrics"],
    ["daemon", "hook_timeout"],
  ]);
  assert.match(e.message, /\[daemon\] key "sockt": unknown key; did you mean "socket"\?/);
  assert.match(
    e.message,
    /\[daemon\] key "metrics": .*an IPv6 address goes in brackets: "\[::1\]:9100"/,
  );
  assert.match(e.message, /\[daemon\] key "hook_timeout": expected an integer in 1\.\./);
  for (
    const [text, pattern] of [
      [`[daemon]\nsocket = "l2tpd.sock"`, /key "socket": expected an absolute path/],
      [`[daemon]\nsocket = "/${"x".repeat(120)}"`, /at most 107 bytes .*got 121 bytes/],
      [`[daemon]\nmetrics = "127.0.0.1"`, /key "metrics": .*the port is missing/],
      [`[daemon]\nmetrics = "127.0.0.1:0"`, /the port must be 1\.\.65535/],
      [`[daemon]\nmetrics = "[::1]"`, /the port is missing/],
      [`[daemon]\nmetrics = "1.2.3.999:80"`, /"1\.2\.3\.999" is not an IP address or host name/],
      [
        `[daemon]\nsocketGroup = "x"`,
        /key "socketGroup": unknown key; did you mean "socket_group"\?/,
      ],
      [`[daemon]\nhook-timeout = 5`, /did you mean "hook_timeout"\?/],
      [
        `[daemon]\nsecret = "x"`,
        /key "secret": "secret" is a tunnel key: put it in a tunnel table/,
      ],
      [`daemon = 5`, /key "daemon": expected a table \[daemon\]/],
      [`[deamon]\n`, /key "deamon": unknown key; did you mean "daemon"\?/],
      [`socket = "/x"`, /key "socket": "socket" is a daemon key: put it in the \[daemon\] table/],
      [
        staticV3(`metrics = "127.0.0.1:9100"`),
        /tunnel "t1" key "metrics": "metrics" is a daemon key/,
      ],
    ] as const
  ) {
    assert.match(parseError(text).message, pattern, text);
  }
});

Deno.test("formatConfig hides secrets unless asked, and stays valid TOML", () => {
  const secret = "correct horse battery staple";
  const config = parseConfig(dynamic(`secret = "${secret}"`), "s.toml");
  const hidden = formatConfig(config);
  assert.ok(!hidden.includes(secret), hidden);
  assert.ok(hidden.split("\n").includes(`secret = "<hidden>" # set, but not shown`), hidden);
  assert.equal(parseConfig(hidden, "s.toml").tunnels[0].config.secret, "<hidden>");
  const shown = formatConfig(config, { showSecrets: true });
  assert.ok(shown.split("\n").includes(`secret = "${secret}"`), shown);
  assert.deepEqual(parseConfig(shown, "s.toml"), withoutWarnings(config));
  // The example's secrets are hidden too.
  const example = formatConfig(parseConfig(Deno.readTextFileSync(EXAMPLE), "example.toml"));
  assert.ok(!example.includes("s3cret"), "no secret of config.example.toml is printed");
  assert.equal(parseConfig(example, "example.toml").tunnels.length, 6, "still a valid file");
});

Deno.test("a config file with a secret that others may read gets a warning with the fix", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/l2tpd.toml`;
    await Deno.writeTextFile(file, dynamic(`secret = "s3cret"`));
    const expected =
      `config ${file} holds a shared secret and is readable by others (mode 0644): chmod 600 ${file}`;
    await Deno.chmod(file, 0o644);
    assert.deepEqual(await secretFileWarnings(file), [expected]);
    const loaded = await loadConfig(file, { checkSecretPermissions: true });
    assert.deepEqual(loaded.warnings, [expected]);
    assert.ok(formatConfig(loaded).includes(`# warning: ${expected}`));
    assert.equal((await loadConfig(file)).warnings, undefined, "only when asked");
    await Deno.chmod(file, 0o640);
    assert.deepEqual(await secretFileWarnings(file), [
      `config ${file} holds a shared secret and is readable by its group (mode 0640): ` +
      `chmod 600 ${file}`,
    ]);
    await Deno.chmod(file, 0o600);
    assert.deepEqual(await secretFileWarnings(file), []);
    assert.equal((await loadConfig(file, { checkSecretPermissions: true })).warnings, undefined);
    // No secret, nothing to hide; a secret only in a comment is none.
    await Deno.writeTextFile(file, dynamic() + `# secret = "not really"\n`);
    await Deno.chmod(file, 0o644);
    assert.deepEqual(await secretFileWarnings(file), []);
    // A path a shell would split is quoted in the fix.
    const spaced = `${dir}/my l2tpd.toml`;
    await Deno.writeTextFile(spaced, dynamic(`secret = "s3cret"`));
    await Deno.chmod(spaced, 0o604);
    assert.deepEqual(await secretFileWarnings(spaced), [
      `config ${spaced} holds a shared secret and is readable by others (mode 0604): ` +
      `chmod 600 '${spaced}'`,
    ]);
    // A missing file is loadConfig's to report.
    assert.deepEqual(await secretFileWarnings(`${dir}/missing.toml`), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("max_retries: l2tpd's default for L2TPv2 is RFC 2661's 5, go-l2tp's 3 otherwise", async () => {
  const { configOptionsFor } = await import("../../lib/cli.ts");
  const text = '[tunnel.a]\npeer = "192.0.2.2"\nversion = "l2tpv2"\n' +
    '[tunnel.b]\npeer = "192.0.2.3"\nversion = "l2tpv2"\nmax_retries = 2\n' +
    '[tunnel.c]\npeer = "192.0.2.4"\nversion = "l2tpv3"\n';
  const retries = (p: "l2tpd" | "kl2tpd" | "ql2tpd") =>
    parseConfig(text, "r.toml", { ...configOptionsFor(p), defaultMode: "dynamic" }).tunnels
      .map((t) => t.config.maxRetries);
  assert.deepEqual(retries("l2tpd"), [5, 2, 3]);
  assert.deepEqual(retries("kl2tpd"), [3, 2, 3]);
  assert.deepEqual(retries("ql2tpd"), [3, 2, 3]);
});

Deno.test("window_size: l2tpd's default is 16, go-l2tp's 4 for kl2tpd and ql2tpd", async () => {
  const { configOptionsFor } = await import("../../lib/cli.ts");
  const text = '[tunnel.a]\npeer = "192.0.2.2"\nversion = "l2tpv2"\n' +
    '[tunnel.b]\npeer = "192.0.2.3"\nversion = "l2tpv3"\nwindow_size = 8\n' +
    '[tunnel.c]\npeer = "192.0.2.4"\nversion = "l2tpv3"\nwindow_size = 0\n';
  const windows = (p: "l2tpd" | "kl2tpd" | "ql2tpd") =>
    parseConfig(text, "w.toml", { ...configOptionsFor(p), defaultMode: "dynamic" }).tunnels
      .map((t) => t.config.windowSize);
  assert.deepEqual(windows("l2tpd"), [16, 8, 16]);
  assert.deepEqual(windows("kl2tpd"), [4, 8, 4]);
  assert.deepEqual(windows("ql2tpd"), [4, 8, 4]);
});
