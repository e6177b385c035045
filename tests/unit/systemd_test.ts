/**
 * The systemd units in systemd/: `systemd-analyze verify` accepts them (copied to a temporary
 * directory with ExecStart pointing at a stand-in executable, since /usr/local/bin/l2tpd is not
 * installed here, and with our man pages on MANPATH for their Documentation= lines), they set
 * what the daemon relies on (Type=notify, the runtime directory of the control socket, reload by
 * SIGHUP, the sandbox and capabilities), each personality starts with its own name and go-l2tp's
 * default configuration path, and the three differ in nothing else.
 *
 * Ignored, with the reason in the name, where systemd-analyze is missing (`bash .ci/setup`
 * installs the Debian package systemd).
 *
 * @module
 */

import assert from "node:assert/strict";
import { defaultConfigPath, PERSONALITIES, type Personality } from "../../lib/cli.ts";

const root = new URL("../../", import.meta.url).pathname;
const decoder = new TextDecoder();

/** A unit file: section -> setting -> values in order (a setting may repeat). */
type Unit = Map<string, Map<string, string[]>>;

function parseUnit(text: string): Unit {
  const unit: Unit = new Map();
  let section: Map<string, string[]> | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[([A-Za-z]+)\]$/.exec(line);
    if (header !== null) {
      section = new Map();
      unit.set(header[1], section);
      continue;
    }
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    assert.ok(m && section, `a setting inside a section: ${line}`);
    section.set(m[1], [...(section.get(m[1]) ?? []), m[2]]);
  }
  return unit;
}

function unitText(p: Personality): string {
  return Deno.readTextFileSync(`${root}systemd/${p}.service`);
}

function setting(unit: Unit, section: string, key: string): string {
  const values = unit.get(section)?.get(key);
  assert.ok(values && values.length === 1, `[${section}] ${key}= is set once`);
  return values[0];
}

const analyze = (() => {
  try {
    return new Deno.Command("systemd-analyze", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
})();

const man = (() => {
  try {
    return new Deno.Command("man", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: analyze
    ? "systemd: systemd-analyze verify accepts the three units" +
      (man ? "" : " (Documentation= not checked: man is not installed)")
    : "systemd: systemd-analyze verify accepts the three units (ignored: systemd-analyze is " +
      "not installed; the Debian package systemd has it)",
  ignore: !analyze,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "l2tpd-units-" });
    try {
      const stub = `${dir}/l2tpd-stub`;
      await Deno.writeTextFile(stub, "#!/bin/sh\nexit 0\n", { mode: 0o755 });
      await Deno.mkdir(`${dir}/units`);
      await Deno.mkdir(`${dir}/man/man8`, { recursive: true });
      await Deno.mkdir(`${dir}/man/man5`, { recursive: true });
      await Deno.copyFile(`${root}man/l2tpd.8`, `${dir}/man/man8/l2tpd.8`);
      await Deno.copyFile(`${root}man/l2tpd.toml.5`, `${dir}/man/man5/l2tpd.toml.5`);
      const files: string[] = [];
      for (const p of PERSONALITIES) {
        const text = unitText(p);
        const rewritten = text.replaceAll(`ExecStart=/usr/local/bin/${p} `, `ExecStart=${stub} `);
        assert.notEqual(rewritten, text, `${p}.service starts /usr/local/bin/${p}`);
        const file = `${dir}/units/${p}.service`;
        await Deno.writeTextFile(file, rewritten);
        files.push(file);
      }
      const out = await new Deno.Command("systemd-analyze", {
        args: ["verify", ...(man ? [] : ["--man=no"]), ...files],
        env: { MANPATH: `${dir}/man`, SYSTEMD_LOG_COLOR: "0", SYSTEMD_PAGER: "" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const said = (decoder.decode(out.stdout) + decoder.decode(out.stderr)).trim();
      assert.equal(out.code, 0, `systemd-analyze verify failed:\n${said}`);
      // verify exits 0 on some problems it only warns about: there must be none for our units.
      const ours = said.split("\n").filter((l) => /l2tpd\.service/.test(l));
      assert.deepEqual(ours, [], `systemd-analyze verify warned:\n${said}`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("systemd: every unit sets what the daemon relies on", () => {
  for (const p of PERSONALITIES) {
    const u = parseUnit(unitText(p));
    const s = (key: string): string => setting(u, "Service", key);
    assert.equal(s("Type"), "notify", p);
    assert.equal(s("NotifyAccess"), "main", p);
    assert.equal(s("ExecReload"), "/bin/kill -HUP $MAINPID", p);
    // The control socket lives in /run/l2tpd (l2tpd.sock there).
    assert.equal(s("RuntimeDirectory"), "l2tpd", p);
    assert.equal(s("Restart"), "on-failure", p);
    assert.equal(s("KillMode"), "mixed", p);
    const caps = s("CapabilityBoundingSet").split(/\s+/).sort();
    assert.deepEqual(caps, ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE"], p);
    // Root with a bounding set: pppd 2.4.9 refuses to run with any other euid.
    assert.equal(u.get("Service")?.has("User"), false, `${p}: runs as root`);
    assert.equal(u.get("Service")?.has("AmbientCapabilities"), false, p);
    assert.equal(s("NoNewPrivileges"), "yes", p);
    assert.equal(s("ProtectSystem"), "strict", p);
    assert.equal(s("ReadWritePaths"), "/run", p);
    assert.equal(s("ProtectHome"), "yes", p);
    assert.equal(s("PrivateTmp"), "yes", p);
    // pppd opens /dev/ppp (ProtectClock= implies a DeviceAllow= list that would hide it); the
    // JavaScript engine needs writable executable memory.
    for (
      const absent of [
        "PrivateDevices",
        "DevicePolicy",
        "DeviceAllow",
        "ProtectClock",
        "MemoryDenyWriteExecute",
      ]
    ) {
      assert.equal(u.get("Service")?.has(absent), false, `${p}: no ${absent}=`);
    }
    assert.equal(setting(u, "Install", "WantedBy"), "multi-user.target", p);
    assert.equal(
      setting(u, "Unit", "Documentation"),
      "man:l2tpd(8) man:l2tpd.toml(5)",
      p,
    );
  }
});

Deno.test("systemd: each personality runs under its own name with go-l2tp's configuration path", () => {
  for (const p of PERSONALITIES) {
    const u = parseUnit(unitText(p));
    const exec = setting(u, "Service", "ExecStart").split(/\s+/);
    assert.equal(exec[0], `/usr/local/bin/${p}`, p);
    assert.equal(exec.length, 3, `${p}: the program, an option and the file`);
    assert.equal(exec[1], p === "l2tpd" ? "--config" : "-config", p);
    assert.equal(exec[2], defaultConfigPath(p), p);
    assert.deepEqual(
      u.get("Service")?.get("Environment") ?? [],
      p === "l2tpd" ? [] : [`L2TPD_PERSONALITY=${p}`],
      p,
    );
    const others = PERSONALITIES.filter((o) => o !== p).map((o) => `${o}.service`);
    assert.deepEqual(setting(u, "Unit", "Conflicts").split(/\s+/).sort(), others.sort(), p);
  }
  assert.equal(defaultConfigPath("kl2tpd"), "/etc/kl2tpd/kl2tpd.toml");
  assert.equal(defaultConfigPath("ql2tpd"), "/etc/ql2tpd/ql2tpd.toml");
  assert.equal(defaultConfigPath("l2tpd"), "/etc/l2tpd/l2tpd.toml");
});

Deno.test("systemd: the three units differ only in name, command and conflicts", () => {
  const personal = new Set(["Description", "Conflicts", "ExecStart", "Environment"]);
  const [first, ...rest] = PERSONALITIES.map((p) => parseUnit(unitText(p)));
  const common = (u: Unit): string[] =>
    [...u].flatMap(([section, settings]) =>
      [...settings].filter(([k]) => !personal.has(k)).map(([k, v]) =>
        `[${section}] ${k}=${v.join(" | ")}`
      )
    );
  for (const [i, u] of rest.entries()) {
    assert.deepEqual(common(u), common(first), `${PERSONALITIES[i + 1]} vs l2tpd`);
  }
  for (const [i, u] of [first, ...rest].entries()) {
    assert.match(setting(u, "Unit", "Description"), new RegExp(`\\(${PERSONALITIES[i]}\\)$`));
  }
});
