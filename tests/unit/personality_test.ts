/**
 * The personality follows the name the program is invoked by: a symlink called `kl2tpd` or
 * `ql2tpd` to the runtime makes it that tool, although `Deno.execPath()` resolves the link.
 */

import assert from "node:assert/strict";
import { argv0FromCmdline, invokedName, personalityOf, programOf } from "../../lib/personality.ts";
import { UsageError } from "../../lib/cli.ts";

const MAIN = new URL("../../main.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
const decoder = new TextDecoder();

Deno.test("argv[0] is the first NUL-separated field of /proc/self/cmdline", () => {
  const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);
  assert.equal(argv0FromCmdline(bytes("/usr/sbin/kl2tpd\0-config\0x.toml\0")), "/usr/sbin/kl2tpd");
  assert.equal(argv0FromCmdline(bytes("ql2tpd")), "ql2tpd");
  assert.equal(argv0FromCmdline(bytes("")), undefined);
  assert.equal(argv0FromCmdline(bytes("\0run\0")), undefined);
});

Deno.test("in this test process the name is deno's, and L2TPD_PERSONALITY decides", () => {
  assert.match(invokedName(), /deno$/);
  assert.equal(personalityOf(undefined), "l2tpd");
  assert.equal(personalityOf("kl2tpd"), "kl2tpd");
  assert.throws(() => personalityOf("xl2tpd"), UsageError);
  assert.equal(programOf(undefined), "l2tpd");
  assert.equal(programOf("ql2tpd"), "ql2tpd");
  assert.equal(programOf("kpppoed"), "kpppoed");
  assert.throws(() => programOf("xl2tpd"), UsageError);
  // kpppoed is a program, not one of the L2TP daemon's personalities.
  assert.throws(() => personalityOf("kpppoed"), /kpppoed is a program of its own/);
});

async function viaLink(
  name: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: "l2tpd-link-" });
  try {
    await Deno.symlink(Deno.execPath(), `${dir}/${name}`);
    const out = await new Deno.Command(`${dir}/${name}`, {
      args,
      env: { NO_COLOR: "1", ...env },
      stdin: "null",
    }).output();
    return {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("a symlink named kl2tpd or ql2tpd selects that personality", async () => {
  const k = await viaLink("kl2tpd", ["run", "-A", MAIN, "--version"]);
  assert.equal(k.code, 0, k.stderr);
  assert.match(k.stdout, /^kl2tpd \(l2tpd \d+\.\d+\.\d+\)\n$/);
  const q = await viaLink("ql2tpd", ["run", "-A", MAIN, "--help"]);
  assert.equal(q.code, 0, q.stderr);
  assert.match(q.stdout, /^Usage: ql2tpd /);
  assert.match(q.stdout, /default \/etc\/ql2tpd\/ql2tpd\.toml/);
  const l = await viaLink("l2tpd", ["run", "-A", MAIN, "--version"]);
  assert.match(l.stdout, /^l2tpd \d+\.\d+\.\d+\n$/);
});

Deno.test("without --allow-all (no /proc/self/cmdline) the link's name still counts", async () => {
  const k = await viaLink("kl2tpd", ["run", "--allow-read", "--allow-env", MAIN, "--version"]);
  assert.equal(k.code, 0, k.stderr);
  assert.match(k.stdout, /^kl2tpd \(l2tpd /);
});

Deno.test("the link's name wins over L2TPD_PERSONALITY; under plain deno the variable decides", async () => {
  const k = await viaLink("kl2tpd", ["run", "-A", MAIN, "--version"], {
    L2TPD_PERSONALITY: "ql2tpd",
  });
  assert.match(k.stdout, /^kl2tpd /);
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--version"],
    env: { NO_COLOR: "1", L2TPD_PERSONALITY: "ql2tpd" },
    stdin: "null",
  }).output();
  assert.match(decoder.decode(out.stdout), /^ql2tpd \(l2tpd /);
});

Deno.test("a symlink named kpppoed selects kpppoed, over L2TPD_PERSONALITY", async () => {
  // main.ts does not run kpppoed yet: ask the library directly, from a script run via the link.
  const dir = await Deno.makeTempDir({ prefix: "l2tpd-kpppoed-" });
  try {
    const script = `${dir}/which.ts`;
    await Deno.writeTextFile(
      script,
      `import { programOf } from "${ROOT}lib/personality.ts";\nconsole.log(programOf());\n`,
    );
    const runs: [string[], Record<string, string>][] = [
      [["-A"], {}],
      [["--allow-read", "--allow-env"], { L2TPD_PERSONALITY: "ql2tpd" }],
    ];
    for (const [args, env] of runs) {
      const r = await viaLink(
        "kpppoed",
        ["run", "--config", `${ROOT}deno.json`, ...args, script],
        env,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "kpppoed\n");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
