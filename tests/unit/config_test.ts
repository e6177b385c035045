/**
 * lib/config: static and quiescent tunnels, go-l2tp's examples, defaults, endpoints, the errors each
 * mistake gets, and formatConfig round trips. Dynamic keys, pppac and the schema: config_*_test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  addressKind,
  ConfigError,
  formatConfig,
  loadConfig,
  parseConfig,
  parseEndpoint,
  splitPppdArgs,
} from "../../lib/config.ts";
import {
  EXAMPLE,
  fixture,
  FIXTURES,
  parseError,
  staticV3,
  withoutWarnings,
} from "./_config_util.ts";

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
