/**
 * lib/config: the IP parser, the schema (docs, hints, printing), on_up/on_down, [daemon], secrets
 * and the personality defaults (max_retries, window_size).
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  addressKind,
  formatConfig,
  loadConfig,
  parseConfig,
  parseEndpoint,
  secretFileWarnings,
} from "../../lib/config.ts";
import { ipFamily, isIP } from "../../control/endpoint.ts";
import { DAEMON_KEYS } from "../../lib/config/daemon_keys.ts";
import { SESSION_KEYS } from "../../lib/config/session_keys.ts";
import { TUNNEL_KEYS } from "../../lib/config/tunnel_keys.ts";
import { dynamic, EXAMPLE, parseError, staticV3, withoutWarnings } from "./_config_util.ts";

/** What the documentation test reads of a schema entry. */
interface KeySpecLike {
  doc: string;
  default: string;
}

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
