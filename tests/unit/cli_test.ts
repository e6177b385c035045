import assert from "node:assert/strict";
import {
  defaultConfigPath,
  detectPersonality,
  normaliseArgs,
  parseCli,
  type RunCommand,
  usage,
  UsageError,
} from "../../lib/cli.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURES = `${ROOT}tests/fixtures/config/`;

function run(argv: string[], personality: "l2tpd" | "kl2tpd" | "ql2tpd" = "l2tpd"): RunCommand {
  const cmd = parseCli(argv, personality);
  assert.equal(cmd.kind, "run");
  return cmd as RunCommand;
}

function usageError(argv: string[]): string {
  try {
    parseCli(argv);
  } catch (e) {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${e}`);
    return e.message;
  }
  assert.fail(`expected ${JSON.stringify(argv)} to be rejected`);
}

Deno.test("GNU spellings", () => {
  assert.deepEqual(run(["--config", "a.toml", "--verbose", "--null-dataplane"]), {
    kind: "run",
    personality: "l2tpd",
    configPath: "a.toml",
    defaultMode: "auto",
    logLevel: "debug",
    logFormat: "text",
    nullDataPlane: true,
  });
  assert.equal(run(["--config=b.toml"]).configPath, "b.toml");
  assert.equal(run(["-c", "c.toml"]).configPath, "c.toml");
  assert.equal(run(["-cd.toml"]).configPath, "d.toml");
  assert.equal(run(["-v"]).logLevel, "debug");
  assert.equal(run(["--log-format", "json"]).logFormat, "json");
  assert.equal(run(["--log-format=text"]).logFormat, "text");
  assert.equal(run(["--log-level", "warn"]).logLevel, "warning");
  assert.equal(run(["--verbose", "--log-level", "error"]).logLevel, "error");
  assert.equal(run(["run", "--config", "e.toml"]).configPath, "e.toml");
});

Deno.test("go-l2tp spellings: -config FILE, -verbose, -null, -flag=bool", () => {
  const cmd = run(["-config", "/etc/kl2tpd/x.toml", "-verbose", "-null"], "kl2tpd");
  assert.equal(cmd.configPath, "/etc/kl2tpd/x.toml");
  assert.equal(cmd.logLevel, "debug");
  assert.equal(cmd.nullDataPlane, true);
  assert.equal(run(["-config=f.toml"]).configPath, "f.toml");
  assert.equal(run(["--null"]).nullDataPlane, true);
  assert.equal(run(["-verbose=false"]).logLevel, "info");
  assert.equal(run(["-verbose=true", "-verbose=0"]).logLevel, "info");
  assert.equal(run(["-verbose=0", "-verbose=T"]).logLevel, "debug");
  assert.equal(parseCli(["-help"]).kind, "help");
  assert.equal(parseCli(["-version"]).kind, "version");
  assert.deepEqual(normaliseArgs(["-config", "a", "-null", "-verbose=false", "--", "-null"]), [
    "--config",
    "a",
    "--null-dataplane",
    "--no-verbose",
    "--",
    "-null",
  ]);
});

Deno.test("check-config takes a file, or --config, or the personality's default", () => {
  assert.deepEqual(parseCli(["check-config", "x.toml"]), {
    kind: "check-config",
    personality: "l2tpd",
    configPath: "x.toml",
    defaultMode: "auto",
  });
  const viaFlag = parseCli(["check-config", "-config", "y.toml"]);
  assert.equal(viaFlag.kind === "check-config" && viaFlag.configPath, "y.toml");
  const byDefault = parseCli(["check-config"], "ql2tpd");
  assert.equal(
    byDefault.kind === "check-config" && byDefault.configPath,
    "/etc/ql2tpd/ql2tpd.toml",
  );
  assert.match(usageError(["check-config", "a.toml", "b.toml"]), /takes one file, got 2/);
  assert.match(usageError(["check-config", "a.toml", "--config", "b.toml"]), /two files/);
});

Deno.test("personalities: default config path and default tunnel mode", () => {
  assert.equal(run([], "l2tpd").configPath, "/etc/l2tpd/l2tpd.toml");
  assert.equal(run([], "kl2tpd").configPath, "/etc/kl2tpd/kl2tpd.toml");
  assert.equal(run([], "ql2tpd").configPath, "/etc/ql2tpd/ql2tpd.toml");
  assert.equal(run([], "l2tpd").defaultMode, "auto");
  assert.equal(run([], "kl2tpd").defaultMode, "dynamic");
  assert.equal(run([], "ql2tpd").defaultMode, "static");
  assert.equal(defaultConfigPath("kl2tpd"), "/etc/kl2tpd/kl2tpd.toml");
  assert.match(usage("ql2tpd"), /^Usage: ql2tpd \[options\]/);
});

Deno.test("personality detection: executable name first, then L2TPD_PERSONALITY", () => {
  assert.equal(detectPersonality("/usr/sbin/kl2tpd"), "kl2tpd");
  assert.equal(detectPersonality("/usr/sbin/ql2tpd", "kl2tpd"), "ql2tpd");
  assert.equal(detectPersonality("/usr/bin/deno"), "l2tpd");
  assert.equal(detectPersonality("/usr/bin/deno", ""), "l2tpd");
  assert.equal(detectPersonality("/usr/bin/deno", "kl2tpd"), "kl2tpd");
  assert.equal(detectPersonality("/opt/l2tpd", "ql2tpd"), "ql2tpd");
  assert.throws(() => detectPersonality("/usr/bin/deno", "xl2tpd"), UsageError);
});

Deno.test("bad input is a UsageError that says what is wrong", () => {
  assert.match(usageError(["--bogus"]), /^Cannot parse arguments: unknown option --bogus$/);
  assert.match(usageError(["--conf", "x"]), /unknown option --conf; did you mean --config\?/);
  assert.match(usageError(["-nul"]), /unknown option -nul; did you mean --null-dataplane\?/);
  assert.match(usageError(["--config"]), /option --config needs a value/);
  assert.match(usageError(["--config="]), /--config needs a file name/);
  assert.match(usageError(["--log-format", "xml"]), /--log-format must be text or json/);
  assert.match(usageError(["--log-level", "loud"]), /--log-level must be one of/);
  assert.match(usageError(["--verbose=maybe"]), /--verbose takes no value or true\/false/);
  assert.match(usageError(["stray"]), /unexpected argument "stray"/);
  assert.match(usageError(["run", "stray"]), /unexpected argument "stray"/);
});

// --- The command itself, in a subprocess -------------------------------------------------------

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function l2tpd(args: string[], env: Record<string, string> = {}): Promise<Result> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-env", "main.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("main: check-config prints the effective configuration and exits 0", async () => {
  const r = await l2tpd(["check-config", "config.example.toml"]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^# Effective configuration of config\.example\.toml\n/);
  assert.match(r.stdout, /\n\[tunnel\.isp\]\nmode = "dynamic"\n/);
  assert.equal(r.stderr, "");
});

Deno.test("main: an invalid configuration exits 1 with every problem on stderr", async () => {
  const r = await l2tpd(["check-config", `${FIXTURES}many_errors.toml`]);
  assert.equal(r.code, 1);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /^Cannot load config .*many_errors\.toml: 7 problems:\n/);
});

Deno.test("main: bad command line input exits 2 with the message and usage on stderr", async () => {
  const r = await l2tpd(["-bogus"], { L2TPD_PERSONALITY: "kl2tpd" });
  assert.equal(r.code, 2);
  assert.equal(r.stdout, "");
  assert.match(
    r.stderr,
    /^kl2tpd: Cannot parse arguments: unknown option -bogus\n\nUsage: kl2tpd /,
  );
});

Deno.test("main: the personality changes how tunnels default", async () => {
  // go-l2tp's kl2tpd README example: dynamic under every personality but ql2tpd, where its
  // tunnel becomes static and lacks what static tunnels need.
  const file = `${FIXTURES}go_readme.toml`;
  const k = await l2tpd(["check-config", file], { L2TPD_PERSONALITY: "kl2tpd" });
  assert.equal(k.code, 1); // /home/bob/pppd.args does not exist here
  assert.match(k.stderr, /key "pppd_args": cannot read pppd arguments file/);
  assert.doesNotMatch(k.stderr, /key "tid"/);
  const q = await l2tpd(["check-config", file], { L2TPD_PERSONALITY: "ql2tpd" });
  assert.equal(q.code, 1);
  assert.match(q.stderr, /tunnel "t1" key "tid": missing: static tunnels need/);
  const v = await l2tpd(["--version"], { L2TPD_PERSONALITY: "ql2tpd" });
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^ql2tpd \(l2tpd \d+\.\d+\.\d+\)\n$/);
});

Deno.test("main: run with an invalid configuration logs a JSON error line and exits 1", async () => {
  const r = await l2tpd([
    "-config",
    `${FIXTURES}syntax_error.toml`,
    "--log-format",
    "json",
    "-null",
  ]);
  assert.equal(r.code, 1);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1);
  const record = JSON.parse(lines[0]);
  assert.equal(record.level, "error");
  assert.equal(record.category, "l2tpd.main");
  assert.match(record.message, /syntax_error\.toml: line 3, column \d+: invalid TOML/);
});

Deno.test("main: runs on the null data plane until SIGTERM, then exits 0", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/static.toml`;
    await Deno.writeTextFile(
      file,
      `[tunnel.t1]\nencap = "ip"\nlocal = "192.0.2.1"\npeer = "192.0.2.2"\ntid = 1\nptid = 2\n` +
        `[tunnel.t1.session.s1]\nsid = 10\npsid = 20\n`,
    );
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "main.ts", "--config", file, "--null-dataplane", "--log-format=json"],
      cwd: ROOT,
      env: { NO_COLOR: "1" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const records: { message: string; level: string }[] = [];
    let signalled = false;
    let buffered = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    try {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf("\n")) >= 0) {
          records.push(JSON.parse(buffered.slice(0, nl)));
          buffered = buffered.slice(nl + 1);
        }
        if (!signalled && records.some((r) => r.message.includes("starting"))) {
          signalled = true;
          child.kill("SIGTERM");
        }
      }
    } finally {
      clearTimeout(timer);
    }
    const status = await child.status;
    assert.equal(status.code, 0, JSON.stringify(records));
    assert.ok(records.some((r) => r.message === "SIGTERM received: shutting down"));
    assert.equal(records[records.length - 1].message, "shutdown complete");
    assert.ok(records.every((r) => r.level !== "error"), JSON.stringify(records));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
