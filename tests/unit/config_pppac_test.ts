/**
 * lib/config: pppac sessions (a PPPoE session relayed to the LNS, as go-l2tp's kpppoed writes them).
 *
 * @module
 */

import assert from "node:assert/strict";
import { formatConfig, loadConfig, parseConfig } from "../../lib/config.ts";
import { dynamic, parseError, staticV3 } from "./_config_util.ts";

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
