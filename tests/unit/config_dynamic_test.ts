/**
 * lib/config: the keys of dynamic control connections (ours) and go-l2tp compatibility corners.
 *
 * @module
 */

import assert from "node:assert/strict";
import { formatConfig, loadConfig, parseConfig } from "../../lib/config.ts";
import { dynamic, parseError, staticV3 } from "./_config_util.ts";

// ---- dynamic control connection keys (ours) --------------------------------------------------

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
