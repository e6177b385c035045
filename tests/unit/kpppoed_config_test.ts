/**
 * kpppoed.toml: go-l2tp's file reads unchanged, defaults are go-l2tp's (and ours for our
 * keys), every mistake is reported with its key and table, and our extensions (several LNS,
 * per-service LNS and tunnel settings, a session limit) do what kpppoed(8) says.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parse as parseToml } from "smol-toml";
import { ConfigError } from "../../lib/config.ts";
import {
  formatKpppoedConfig,
  KPPPOED_DEFAULTS,
  type KpppoedConfig,
  KpppoedConfigError,
  loadKpppoedConfig,
  parseKpppoedConfig,
  serviceFor,
} from "../../lib/kpppoed/config.ts";
import { KPPPOED_KEYS, KPPPOED_SERVICE_KEYS } from "../../lib/kpppoed/keys.ts";

/** go-l2tp's example (doc/kpppoed.8.md, README), verbatim with its comments. */
const GO_EXAMPLE = `# ac_name is the name that kpppoed will use in the PPPoE AC Name tag sent
# in PADO packets.  If not specified it will default to "kpppoed".
ac_name = "MyAccessConcentrator.2000"

# interface_name is the name of the network interface that kpppoed will listen
# on for PPPoE discovery packets.  It must be specified.
interface_name = "eth0"

# services is a list of service names that kpppoed will advertise in PADO packets
# At least one service must be specified.
services = [ "serviceA", "serviceB", "serviceC" ]

# lns_ipaddr is the IP address and port of the L2TP server to tunnel
# pppoe sessions to.  The LNS address must be specified.
lns_ipaddr = "3.22.1.9:1701"
`;

/** The tunnel settings every service gets by default (l2tpd.toml's tunnel key defaults). */
const TUNNEL_DEFAULTS = {
  hideAvps: false,
  helloTimeoutMs: 0,
  retryTimeoutMs: 1000,
  maxRetries: 3,
  windowSize: 4,
};

/** A minimal valid file, plus extra lines. */
function minimal(extra = ""): string {
  return `interface_name = "eth0"\nservices = ["internet"]\nlns_ipaddr = "192.0.2.1"\n${extra}`;
}

/** Parse expecting failure; the error. */
function parseError(text: string, file = "/etc/kpppoed/kpppoed.toml"): KpppoedConfigError {
  try {
    parseKpppoedConfig(text, file);
  } catch (e) {
    assert.ok(e instanceof KpppoedConfigError, `expected a KpppoedConfigError, got ${e}`);
    return e;
  }
  assert.fail(`expected the configuration to be rejected:\n${text}`);
}

/** The issues of a bad file as `[table] key: message` lines. */
function problems(text: string): string[] {
  return parseError(text).issues.map((i) =>
    `${i.table !== undefined ? `[${i.table}] ` : ""}${i.key ?? "-"}: ${i.message}`
  );
}

Deno.test("go-l2tp's example kpppoed.toml parses unchanged, with go-l2tp's defaults", () => {
  const config = parseKpppoedConfig(GO_EXAMPLE, "kpppoed.toml");
  const lns = [{ address: "3.22.1.9", port: 1701 }];
  assert.deepEqual(config, {
    file: "kpppoed.toml",
    acName: "MyAccessConcentrator.2000",
    interfaceName: "eth0",
    services: ["serviceA", "serviceB", "serviceC"].map((name) => ({
      name,
      lns,
      ...TUNNEL_DEFAULTS,
    })),
    maxSessions: 4096,
    maxSessionsPerMac: 4,
  });
  // The four lines alone, as the brief of issue 11 quotes them, too.
  const bare = 'ac_name = "MyAccessConcentrator.2000"\ninterface_name = "eth0"\n' +
    'services = [ "serviceA", "serviceB", "serviceC" ]\nlns_ipaddr = "3.22.1.9:1701"\n';
  assert.deepEqual(parseKpppoedConfig(bare, "kpppoed.toml"), config);
});

Deno.test("defaults: ac_name kpppoed, LNS port 1701, 4096 sessions, the tunnel keys' defaults", () => {
  const config = parseKpppoedConfig(minimal());
  assert.equal(config.file, "<kpppoed config>");
  assert.equal(config.acName, "kpppoed");
  assert.equal(config.maxSessions, KPPPOED_DEFAULTS.maxSessions);
  assert.deepEqual(config.services, [{
    name: "internet",
    lns: [{ address: "192.0.2.1", port: 1701 }],
    ...TUNNEL_DEFAULTS,
  }]);
  assert.equal(config.warnings, undefined);
  // 0 means the default for the control connection settings, as in l2tpd.toml.
  const zero = parseKpppoedConfig(minimal("window_size = 0\nretry_timeout = 0\nmax_retries = 0"));
  assert.deepEqual(
    [zero.services[0].windowSize, zero.services[0].retryTimeoutMs, zero.services[0].maxRetries],
    [4, 1000, 3],
  );
  // go-l2tp takes an empty ac_name for its default; so do we, and say so.
  const empty = parseKpppoedConfig(minimal('ac_name = ""'), "k.toml");
  assert.equal(empty.acName, "kpppoed");
  assert.deepEqual(empty.warnings, [
    'key "ac_name": empty: the AC-Name is "kpppoed", as in go-l2tp',
  ]);
});

Deno.test("each required key missing is named, with what it is for", () => {
  assert.deepEqual(problems(""), [
    "interface_name: missing: kpppoed answers PPPoE discovery on this Ethernet interface, e.g. " +
    'interface_name = "eth0"',
    'services: missing: the PPPoE services to offer, e.g. services = ["internet"]',
    "lns_ipaddr: missing: the LNS to tunnel the PPPoE sessions to, e.g. lns_ipaddr = " +
    '"192.0.2.1:1701" (port 1701 by default), or lns_ipaddrs = [...] for several LNS tried in ' +
    "order",
  ]);
  const without = (key: string): string =>
    GO_EXAMPLE.split("\n").filter((l) => !l.startsWith(`${key} =`)).join("\n");
  for (const key of ["interface_name", "services", "lns_ipaddr"]) {
    const e = parseError(without(key));
    assert.deepEqual(e.issues.map((i) => i.key), [key], e.message);
    assert.match(e.issues[0].message, /^missing: /);
  }
  // ac_name is optional.
  assert.equal(parseKpppoedConfig(without("ac_name")).acName, "kpppoed");
});

Deno.test("the error says Cannot load kpppoed config FILE, one line per problem; a ConfigError", () => {
  const e = parseError('interface_name = "eth0"\nservices = []\nlns_ipaddr = 1\n', "/etc/k.toml");
  assert.ok(e instanceof ConfigError);
  assert.equal(e.name, "KpppoedConfigError");
  assert.equal(e.file, "/etc/k.toml");
  assert.equal(
    e.message,
    "Cannot load kpppoed config /etc/k.toml: 2 problems:\n" +
      '  key "services": expected an array of service names such as ["internet"], got an empty ' +
      "array: offer one at least\n" +
      '  key "lns_ipaddr": expected a string, got integer 1',
  );
  const one = parseError(minimal("max_sessions = 0"), "/etc/k.toml");
  assert.equal(
    one.message,
    'Cannot load kpppoed config /etc/k.toml: key "max_sessions": expected an integer in ' +
      "1..65534 (sessions), got 0",
  );
});

Deno.test("TOML syntax errors name the line and column", () => {
  const e = parseError('interface_name = "eth0"\nservices = ["a"\nlns_ipaddr = "192.0.2.1"\n');
  assert.equal(e.issues.length, 1);
  assert.equal(e.issues[0].line, 3);
  assert.equal(typeof e.issues[0].column, "number");
  assert.match(e.message, /kpppoed\.toml: line 3, column \d+: invalid TOML: /);
});

Deno.test("bad values: each names its key and says what was expected", () => {
  const cases: [string, RegExp][] = [
    ["ac_name = 7", /^ac_name: expected a string, got integer 7$/],
    [`ac_name = "${"x".repeat(256)}"`, /^ac_name: expected an AC-Name: "x+" is 256 bytes, more/],
    ['ac_name = "a\\u0007b"', /^ac_name: expected an AC-Name: "a\\u0007b" holds a control char/],
    ['interface_name = "a-very-long-interface"', /^interface_name: expected a Linux interface/],
    ['services = "internet"', /^services: expected an array of service names .*, got string/],
    ["services = [1]", /^services: .*, element 0 is integer 1$/],
    ['services = ["a", ""]', /^services: .*, element 1 is empty \(a client asking for any service/],
    ['services = ["a", "b", "a"]', /^services: .*, element 2 repeats "a": list each once$/],
    [`services = ["${"s".repeat(300)}"]`, /^services: .*, element 0 is 300 bytes, more than 255$/],
    ['lns_ipaddr = "3.22.1.9:x"', /^lns_ipaddr: expected "address:port", .*port must be/],
    ['lns_ipaddr = "3.22.1.999"', /^lns_ipaddr: .*"3\.22\.1\.999" is not a valid IPv4 address/],
    ['lns_ipaddr = "0.0.0.0:1701"', /^lns_ipaddr: expected the LNS's unicast address, got "0\.0/],
    ['lns_ipaddr = "[::]:1701"', /^lns_ipaddr: expected the LNS's unicast address, got "\[::\]/],
    [
      'lns_ipaddr = "192.0.2.1:0"',
      /^lns_ipaddr: expected a non-zero UDP port, got "192\.0\.2\.1:0"/,
    ],
    ["max_sessions = 65535", /^max_sessions: expected an integer in 1\.\.65534 \(sessions\)/],
    ['max_sessions = "many"', /^max_sessions: expected an integer \(sessions\), got string/],
    ['secret = ""', /^secret: expected a non-empty shared secret$/],
    ["hello_timeout = -1", /^hello_timeout: expected an integer in 0\.\.2147483647 \(millisec/],
    ['hide_avps = "yes"', /^hide_avps: expected true or false, got string "yes"$/],
    ["host_name = 1", /^host_name: expected a string, got integer 1$/],
    ["window_size = 70000", /^window_size: expected an integer in 0\.\.65535 \(messages\)/],
  ];
  for (const [line, re] of cases) {
    const key = line.split(" = ")[0];
    const base = GO_EXAMPLE.split("\n").filter((l) => !l.startsWith(`${key} =`)).join("\n");
    const found = problems(`${line}\n${base}`);
    assert.equal(found.length, 1, `${line}: ${found.join("; ")}`);
    assert.match(found[0], re, line);
  }
});

Deno.test("unknown keys get a did-you-mean, or where the setting is in kpppoed.toml", () => {
  const cases: [string, string][] = [
    ['acname = "x"', 'acname: unknown key; did you mean "ac_name"?'],
    ['acName = "x"', 'acName: unknown key; did you mean "ac_name"?'],
    ['interface-name = "eth1"', 'interface-name: unknown key; did you mean "interface_name"?'],
    ['servces = ["a"]', 'servces: unknown key; did you mean "services"?'],
    ['lns_ipadr = "1.2.3.4"', 'lns_ipadr: unknown key; did you mean "lns_ipaddr"?'],
    ["helloTimeout = 1", 'helloTimeout: unknown key; did you mean "hello_timeout"?'],
    ['peer = "1.2.3.4"', 'peer: the LNS is lns_ipaddr = "host:port" in kpppoed.toml'],
    [
      '[tunnel.t1]\npeer = "1.2.3.4"',
      "tunnel: kpppoed.toml has no [tunnel.NAME] tables: kpppoed opens the tunnels to the LNS " +
      "itself; set lns_ipaddr (or lns_ipaddrs) and the tunnel keys here",
    ],
  ];
  for (const [text, want] of cases) assert.deepEqual(problems(minimal(text)), [want], text);
  const far = problems(minimal("verbose = true"))[0];
  assert.match(far, /^verbose: unknown key; expected one of ac_name, interface_name, services, /);
  // Every problem at once.
  assert.equal(problems('acname = 1\nsecret = ""\nmax_sessions = 0\n').length, 6);
});

Deno.test("lns_ipaddrs: several LNS in order, any address form; or lns_ipaddr, not both", () => {
  const config = parseKpppoedConfig(
    'interface_name = "eth0"\nservices = ["a"]\n' +
      'lns_ipaddrs = ["192.0.2.1", "[2001:db8::1]:1702", "lns.example.net:1701", "2001:db8::2"]\n',
  );
  assert.deepEqual(config.services[0].lns, [
    { address: "192.0.2.1", port: 1701 },
    { address: "2001:db8::1", port: 1702 },
    { address: "lns.example.net", port: 1701 },
    { address: "2001:db8::2", port: 1701 },
  ]);
  const bad: [string, RegExp][] = [
    ['lns_ipaddrs = "192.0.2.1"', /^lns_ipaddrs: expected an array of LNS addresses .*, got str/],
    ["lns_ipaddrs = []", /^lns_ipaddrs: expected an array of LNS addresses .*, got an empty arr/],
    ['lns_ipaddrs = ["192.0.2.1", 7]', /^lns_ipaddrs: element 1: expected a string, got integer/],
    ['lns_ipaddrs = ["0.0.0.0"]', /^lns_ipaddrs: element 0: expected the LNS's unicast address/],
    [
      'lns_ipaddrs = ["192.0.2.1", "192.0.2.1:1701"]',
      /^lns_ipaddrs: element 1 repeats "192\.0\.2\.1:1701": list each LNS once$/,
    ],
  ];
  for (const [line, re] of bad) {
    const found = problems(`interface_name = "eth0"\nservices = ["a"]\n${line}\n`);
    assert.equal(found.length, 1, `${line}: ${found.join("; ")}`);
    assert.match(found[0], re, line);
  }
  assert.deepEqual(problems(minimal('lns_ipaddrs = ["192.0.2.2"]')), [
    "lns_ipaddrs: set lns_ipaddr (one LNS) or lns_ipaddrs (several, tried in order), not both: " +
    "put every address in lns_ipaddrs",
  ]);
});

Deno.test("[service.NAME]: a service's own LNS and tunnel settings over the top level's", () => {
  const config = parseKpppoedConfig(`
interface_name = "eth1"
services = ["internet", "voip", "iptv"]
lns_ipaddrs = ["192.0.2.1", "192.0.2.2"]
secret = "top-s3cret"
hello_timeout = 60000
host_name = "ac1"

[service.voip]
lns_ipaddr = "198.51.100.9:1702"
secret = "voip-s3cret"
hide_avps = true

[service.iptv]
hello_timeout = 0
window_size = 8
`);
  const [internet, voip, iptv] = config.services;
  const top = [{ address: "192.0.2.1", port: 1701 }, { address: "192.0.2.2", port: 1701 }];
  assert.deepEqual(internet, {
    ...TUNNEL_DEFAULTS,
    name: "internet",
    lns: top,
    secret: "top-s3cret",
    hostName: "ac1",
    helloTimeoutMs: 60000,
  });
  assert.deepEqual(voip, {
    ...TUNNEL_DEFAULTS,
    name: "voip",
    lns: [{ address: "198.51.100.9", port: 1702 }],
    secret: "voip-s3cret",
    hideAvps: true,
    hostName: "ac1",
    helloTimeoutMs: 60000,
  });
  assert.deepEqual(iptv, {
    ...TUNNEL_DEFAULTS,
    name: "iptv",
    lns: top,
    secret: "top-s3cret",
    hostName: "ac1",
    windowSize: 8,
  });
  // Every service has its own LNS: none is needed at the top level.
  const own = parseKpppoedConfig(
    'interface_name = "eth0"\nservices = ["a", "b"]\n[service.a]\nlns_ipaddr = "192.0.2.1"\n' +
      '[service."b"]\nlns_ipaddrs = ["192.0.2.2", "192.0.2.3"]\n',
  );
  assert.deepEqual(own.services.map((s) => s.lns.length), [1, 2]);
});

Deno.test("[service.NAME]: mistakes name the table", () => {
  const head = 'interface_name = "eth0"\nservices = ["internet", "voip"]\n';
  assert.deepEqual(problems(`${head}lns_ipaddr = "192.0.2.1"\n[service.vopi]\nsecret = "x"\n`), [
    '[service.vopi] -: "vopi" is not one of services: add it there, or name the table after ' +
    'one; did you mean "voip"?',
  ]);
  assert.deepEqual(
    problems(
      `${head}lns_ipaddr = "192.0.2.1"\n[service.voip]\nmax_sessions = 10\nlns_ipadr = "x"\n`,
    ),
    [
      '[service.voip] max_sessions: "max_sessions" is a top-level key: put it before the first ' +
      "[service.NAME] table",
      '[service.voip] lns_ipadr: unknown key; did you mean "lns_ipaddr"?',
    ],
  );
  assert.deepEqual(
    problems(`${head}lns_ipaddr = "192.0.2.1"\n[service.voip]\nlns_ipaddr = "0.0.0.0"\n`),
    ['[service.voip] lns_ipaddr: expected the LNS\'s unicast address, got "0.0.0.0"'],
  );
  assert.deepEqual(
    problems(`${head}[service.voip]\nlns_ipaddr = "192.0.2.1"\nlns_ipaddrs = ["192.0.2.2"]\n`),
    [
      "[service.voip] lns_ipaddrs: set lns_ipaddr (one LNS) or lns_ipaddrs (several, tried in " +
      "order), not both: put every address in lns_ipaddrs",
      'lns_ipaddr: missing: service "internet" has no LNS: set lns_ipaddr here (for every ' +
      "service without its own), or in [service.internet]; e.g. lns_ipaddr = " +
      '"192.0.2.1:1701" (port 1701 by default), or lns_ipaddrs = [...] for several LNS tried ' +
      "in order",
    ],
  );
  assert.match(
    problems(
      'interface_name = "eth0"\nservices = ["a", "b", "c"]\n[service.a]\n' +
        'lns_ipaddr = "192.0.2.1"\n',
    )[0],
    /^lns_ipaddr: missing: services "b", "c" have no LNS: .* or in their \[service\.NAME\]; /,
  );
  assert.deepEqual(problems(`${head}lns_ipaddr = "192.0.2.1"\nservice = "voip"\n`), [
    "service: expected named service tables such as [service.internet], got string",
  ]);
  assert.deepEqual(problems(`${head}lns_ipaddr = "192.0.2.1"\nservice.voip = 1\n`), [
    'service: "voip" (integer 1) is not a service table; services are named tables such as ' +
    "[service.voip]",
  ]);
  // hide_avps needs the secret, of the service or of the top level.
  assert.deepEqual(
    problems(`${head}lns_ipaddr = "192.0.2.1"\n[service.voip]\nhide_avps = true\n`),
    [
      "[service.voip] hide_avps: hidden AVPs are hidden with the shared secret: set secret too",
    ],
  );
  assert.deepEqual(problems(minimal("hide_avps = true")), [
    "hide_avps: hidden AVPs are hidden with the shared secret: set secret too (service " +
    '"internet" has none)',
  ]);
  const fine = parseKpppoedConfig(
    minimal('hide_avps = true\nservices = ["a"]').replace('services = ["internet"]\n', "") +
      '\n[service.a]\nsecret = "x"\n',
  );
  assert.equal(fine.services[0].hideAvps, true);
});

Deno.test("serviceFor: by name; an empty Service-Name gets the first service", () => {
  const config = parseKpppoedConfig(GO_EXAMPLE);
  assert.equal(serviceFor(config, "serviceB")?.name, "serviceB");
  assert.equal(serviceFor(config, "")?.name, "serviceA");
  assert.equal(serviceFor(config, "serviceD"), undefined);
  assert.equal(serviceFor(config, "servicea"), undefined);
});

Deno.test("formatKpppoedConfig: every default written out, secrets hidden, and it reads back", () => {
  const text = `ac_name = "ac.example"\ninterface_name = "eth1"\nservices = ["a", "b/c"]\n` +
    `lns_ipaddrs = ["192.0.2.1", "[2001:db8::1]:1702"]\nsecret = "s3cret"\nmax_sessions = 100\n` +
    `[service."b/c"]\nlns_ipaddr = "lns.example.net"\nhost_name = "ac1"\n`;
  const config = parseKpppoedConfig(text, "k.toml");
  const shown = formatKpppoedConfig(config);
  assert.equal(
    shown,
    `# Effective kpppoed configuration of k.toml

ac_name = "ac.example"
interface_name = "eth1"
services = ["a", "b/c"]
max_sessions = 100
max_sessions_per_mac = 4

[service.a]
lns_ipaddrs = ["192.0.2.1:1701", "[2001:db8::1]:1702"]
secret = "<hidden>" # set, but not shown
hide_avps = false
hello_timeout = 0
retry_timeout = 1000
max_retries = 3
window_size = 4

[service."b/c"]
lns_ipaddr = "lns.example.net:1701"
secret = "<hidden>" # set, but not shown
hide_avps = false
host_name = "ac1"
hello_timeout = 0
retry_timeout = 1000
max_retries = 3
window_size = 4
`,
  );
  assert.doesNotThrow(() => parseToml(shown));
  // With the secrets shown, the text reads back to the same configuration.
  const again = parseKpppoedConfig(formatKpppoedConfig(config, { showSecrets: true }), "k.toml");
  assert.deepEqual(again, config);
  // Warnings are comments.
  const warned = parseKpppoedConfig(minimal('ac_name = ""'), "w.toml");
  assert.match(formatKpppoedConfig(warned), /^# warning: key "ac_name": empty/m);
});

Deno.test("loadKpppoedConfig reads the file; a file it cannot read is a KpppoedConfigError", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/kpppoed.toml`;
    await Deno.writeTextFile(file, GO_EXAMPLE);
    const config: KpppoedConfig = await loadKpppoedConfig(file);
    assert.equal(config.file, file);
    assert.equal(config.acName, "MyAccessConcentrator.2000");
    await assert.rejects(loadKpppoedConfig(`${dir}/none.toml`), (e: unknown) => {
      assert.ok(e instanceof KpppoedConfigError);
      assert.equal(
        e.message,
        `Cannot load kpppoed config ${dir}/none.toml: cannot read the file: file not found`,
      );
      return true;
    });
    await Deno.writeTextFile(file, "services = 1\n");
    await assert.rejects(
      loadKpppoedConfig(file),
      new RegExp(`^KpppoedConfigError: Cannot load kpppoed config ${file}: 3 problems:`),
    );
    // A secret others may read: a warning with the fix, when asked.
    await Deno.writeTextFile(file, minimal('secret = "s3cret"'));
    await Deno.chmod(file, 0o644);
    const warned = await loadKpppoedConfig(file, { checkSecretPermissions: true });
    assert.deepEqual(warned.warnings, [
      `config ${file} holds a shared secret and is readable by others (mode 0644): chmod 600 ` +
      file,
    ]);
    assert.equal((await loadKpppoedConfig(file)).warnings, undefined);
    await Deno.chmod(file, 0o600);
    const quiet = await loadKpppoedConfig(file, { checkSecretPermissions: true });
    assert.equal(quiet.warnings, undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the schema: go-l2tp's four keys, ours marked, each with a doc line and a default", () => {
  const goKeys = Object.entries(KPPPOED_KEYS).filter(([, s]) => s.origin === "go-l2tp");
  assert.deepEqual(goKeys.map(([k]) => k), ["ac_name", "interface_name", "services", "lns_ipaddr"]);
  for (
    const [key, spec] of [...Object.entries(KPPPOED_KEYS), ...Object.entries(KPPPOED_SERVICE_KEYS)]
  ) {
    assert.ok(spec.doc.length > 0 && spec.default.length > 0, key);
  }
  // A service table has the LNS and tunnel keys, which the top level has too.
  for (const key of Object.keys(KPPPOED_SERVICE_KEYS)) assert.ok(Object.hasOwn(KPPPOED_KEYS, key));
});
