import assert from "node:assert/strict";
import {
  type ControlCommand,
  DEFAULT_KPPPOED_SOCKET_PATH,
  defaultConfigPath,
  detectPersonality,
  detectProgram,
  type KpppoedCommand,
  normaliseArgs,
  parseCli,
  parseCommandLine,
  parseKpppoedCli,
  PERSONALITIES,
  PROGRAMS,
  type RunCommand,
  usage,
  UsageError,
} from "../../lib/cli.ts";
import { libc } from "../../dataplane/ffi/libc.ts";
import { notifySocketAddress } from "../../dataplane/notify.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const FIXTURES = `${ROOT}tests/fixtures/config/`;

function run(argv: string[], personality: "l2tpd" | "kl2tpd" | "ql2tpd" = "l2tpd"): RunCommand {
  const cmd = parseCli(argv, personality);
  assert.equal(cmd.kind, "run");
  return cmd as RunCommand;
}

function verb(
  argv: string[],
  personality: "l2tpd" | "kl2tpd" | "ql2tpd" = "l2tpd",
): ControlCommand {
  const cmd = parseCli(argv, personality);
  assert.equal(cmd.kind, "control");
  return cmd as ControlCommand;
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
  assert.match(usage("ql2tpd"), /^Usage: ql2tpd \[run\] \[options\]/);
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

Deno.test("control verbs: show [--json], reload, down NAME[/SESSION], up; --socket", () => {
  assert.deepEqual(verb(["show"]), {
    kind: "control",
    personality: "l2tpd",
    request: { command: "show" },
    json: false,
    configPath: "/etc/l2tpd/l2tpd.toml",
  });
  assert.equal(verb(["show", "--json"]).json, true);
  assert.equal(verb(["show", "-json"]).json, true);
  assert.equal(verb(["--json", "reload"]).json, true);
  assert.deepEqual(verb(["reload"]).request, { command: "reload" });
  assert.deepEqual(verb(["down", "t1"]).request, { command: "down", tunnel: "t1" });
  assert.deepEqual(verb(["up", "t1/s1"]).request, { command: "up", tunnel: "t1", session: "s1" });
  assert.deepEqual(verb(["down", "t1/s/x"]).request, {
    command: "down",
    tunnel: "t1",
    session: "s/x",
  });
  assert.equal(verb(["show", "--socket", "/tmp/a.sock"]).socketPath, "/tmp/a.sock");
  assert.equal(verb(["show", "-socket=/tmp/b.sock"]).socketPath, "/tmp/b.sock");
  assert.equal(verb(["show", "-c", "/etc/x.toml"]).configPath, "/etc/x.toml");
  assert.equal(verb(["show"], "kl2tpd").configPath, "/etc/kl2tpd/kl2tpd.toml");
  assert.equal(run(["--socket", "/tmp/c.sock"]).socketPath, "/tmp/c.sock");
  assert.equal(run(["-socket", "/tmp/d.sock", "-null"]).socketPath, "/tmp/d.sock");
  assert.equal("socketPath" in run([]), false);
  assert.match(usageError(["down"]), /down needs a tunnel: down NAME or down NAME\/SESSION/);
  assert.match(usageError(["up", "/s1"]), /up needs NAME or NAME\/SESSION, got "\/s1"/);
  assert.match(usageError(["up", "a", "b"]), /takes one tunnel \(NAME or NAME\/SESSION\), got 2/);
  assert.match(usageError(["reload", "now"]), /reload takes no arguments, got "now"/);
  assert.match(usageError(["down", "t1", "--json"]), /--json applies to show and reload, not down/);
  assert.match(usageError(["--json"]), /--json applies to show and reload only/);
  assert.match(usageError(["check-config", "--socket", "/x"]), /--socket applies to run, show/);
  assert.match(usageError(["show", "--socket="]), /--socket needs a path/);
  assert.match(usageError(["show", "--json=maybe"]), /--json takes no value or true\/false/);
  assert.match(usageError(["bogus"]), /commands: run, check-config, show, reload, down, up/);
  const text = usage("l2tpd");
  assert.match(text, /\n {2}show \[--json\] {2}/);
  assert.match(text, /--socket PATH +control socket \(default: the file's \[daemon\] socket, else/);
  assert.match(text, /\/run\/l2tpd\/l2tpd\.sock/);
  assert.match(text, /Exit status: 0 done; 1 .*\n2 bad command line; 3 .*cannot reach the daemon/s);
  assert.match(text, /4 \(show, reload, down, up\) permission denied on the socket/);
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

// --- kpppoed ------------------------------------------------------------------------------------

function kpppoed(argv: string[]): KpppoedCommand {
  const cmd = parseKpppoedCli(argv);
  assert.equal(cmd.kind, "kpppoed");
  return cmd as KpppoedCommand;
}

function kpppoedError(argv: string[]): string {
  try {
    parseKpppoedCli(argv);
  } catch (e) {
    assert.ok(e instanceof UsageError, `expected a UsageError, got ${e}`);
    return e.message;
  }
  assert.fail(`expected ${JSON.stringify(argv)} to be rejected`);
}

Deno.test("kpppoed: the program is chosen by its name or L2TPD_PERSONALITY, and is no personality", () => {
  assert.deepEqual(PROGRAMS, [...PERSONALITIES, "kpppoed"]);
  assert.equal(detectProgram("/usr/sbin/kpppoed"), "kpppoed");
  assert.equal(detectProgram("kpppoed", "ql2tpd"), "kpppoed");
  assert.equal(detectProgram("/usr/bin/deno", "kpppoed"), "kpppoed");
  assert.equal(detectProgram("/usr/sbin/kl2tpd", "kpppoed"), "kl2tpd");
  assert.equal(detectProgram("/usr/sbin/l2tpd", "kpppoed"), "kpppoed");
  assert.equal(detectProgram("/usr/bin/deno"), "l2tpd");
  assert.throws(
    () => detectProgram("/usr/bin/deno", "pppoed"),
    /L2TPD_PERSONALITY must be l2tpd, kl2tpd, ql2tpd or kpppoed, got "pppoed"/,
  );
  // The L2TP daemon's personalities do not include it.
  for (const [name, env] of [["/usr/sbin/kpppoed", undefined], ["deno", "kpppoed"]] as const) {
    assert.throws(
      () => detectPersonality(name, env),
      (e: unknown) =>
        e instanceof UsageError &&
        /^Cannot select personality: kpppoed is a program of its own, not a personality/.test(
          e.message,
        ),
    );
  }
  assert.equal(defaultConfigPath("kpppoed"), "/etc/kpppoed/kpppoed.toml");
});

Deno.test("kpppoed: go-l2tp's -config and -verbose, and our spellings", () => {
  assert.deepEqual(kpppoed([]), {
    kind: "kpppoed",
    personality: "kpppoed",
    configPath: "/etc/kpppoed/kpppoed.toml",
    logLevel: "info",
    logFormat: "text",
  });
  assert.deepEqual(kpppoed(["-config", "/etc/kpppoed/ac.toml", "-verbose"]), {
    kind: "kpppoed",
    personality: "kpppoed",
    configPath: "/etc/kpppoed/ac.toml",
    logLevel: "debug",
    logFormat: "text",
  });
  assert.equal(kpppoed(["--config", "a.toml"]).configPath, "a.toml");
  assert.equal(kpppoed(["--config=b.toml"]).configPath, "b.toml");
  assert.equal(kpppoed(["-config=c.toml"]).configPath, "c.toml");
  assert.equal(kpppoed(["-c", "d.toml"]).configPath, "d.toml");
  assert.equal(kpppoed(["-v"]).logLevel, "debug");
  assert.equal(kpppoed(["--verbose"]).logLevel, "debug");
  assert.equal(kpppoed(["-verbose=false"]).logLevel, "info");
  assert.equal(kpppoed(["-verbose", "--log-level", "warn"]).logLevel, "warning");
  assert.equal(kpppoed(["--log-format=json"]).logFormat, "json");
  assert.equal(kpppoed(["--socket", "/run/ac.sock"]).socketPath, "/run/ac.sock");
  assert.equal("socketPath" in kpppoed([]), false);
  assert.deepEqual(kpppoed(["-metrics", "127.0.0.1:9101"]).metrics, {
    hostname: "127.0.0.1",
    port: 9101,
  });
  for (const help of [["-h"], ["--help"], ["-help"], ["-config", "x", "-h"]]) {
    assert.deepEqual(parseKpppoedCli(help), { kind: "help", personality: "kpppoed" });
  }
  for (const version of [["-V"], ["--version"], ["-version"]]) {
    assert.deepEqual(parseKpppoedCli(version), { kind: "version", personality: "kpppoed" });
  }
  // One entry point for every program.
  assert.deepEqual(parseCommandLine(["-verbose"], "kpppoed"), kpppoed(["-verbose"]));
  assert.deepEqual(parseCommandLine(["-verbose"], "kl2tpd"), run(["-verbose"], "kl2tpd"));
});

Deno.test("kpppoed: bad input is a UsageError (exit 2) that says what is wrong", () => {
  assert.match(kpppoedError(["-bogus"]), /^Cannot parse arguments: unknown option -bogus$/);
  assert.match(kpppoedError(["--conf", "x"]), /unknown option --conf; did you mean --config\?/);
  assert.match(kpppoedError(["--verb"]), /unknown option --verb; did you mean --verbose\?/);
  // The L2TP daemon's own options and commands are not kpppoed's.
  assert.match(kpppoedError(["-null"]), /^Cannot parse arguments: unknown option -null$/);
  assert.match(kpppoedError(["--null-dataplane"]), /unknown option --null-dataplane$/);
  assert.match(kpppoedError(["--json"]), /unknown option --json$/);
  assert.match(
    kpppoedError(["run"]),
    /^Cannot parse arguments: kpppoed takes no commands or arguments, got "run" \(options start with -\)$/,
  );
  assert.match(
    kpppoedError(["-config", "a.toml", "b.toml"]),
    /no commands or arguments, got "b\.toml"/,
  );
  assert.match(kpppoedError(["-config"]), /option --config needs a value/);
  assert.match(kpppoedError(["-config="]), /--config needs a file name/);
  assert.match(kpppoedError(["--socket="]), /--socket needs a path/);
  assert.match(kpppoedError(["--metrics", "9100"]), /--metrics must be ADDR:PORT .*got "9100"/);
  assert.match(kpppoedError(["--log-format", "xml"]), /--log-format must be text or json/);
  assert.match(kpppoedError(["-verbose=maybe"]), /--verbose takes no value or true\/false/);
});

Deno.test("kpppoed: --help lists exactly the options it takes", () => {
  const text = usage("kpppoed");
  assert.match(text, /^Usage: kpppoed \[options\]\n/);
  assert.match(
    text,
    /-c, --config FILE +configuration file \(default \/etc\/kpppoed\/kpppoed\.toml\)/,
  );
  assert.match(
    text,
    new RegExp(`--socket PATH +control socket \\(default ${DEFAULT_KPPPOED_SOCKET_PATH}\\)`),
  );
  assert.match(text, /go-l2tp's spellings work too: -config FILE, -verbose\./);
  assert.match(text, /Exit status: 0 done; 1 failed .*; 2 bad command line\./s);
  const listed = new Set([...text.matchAll(/(?<=^|[\s,])--?[A-Za-z][a-z-]*/gm)].map((m) => m[0]));
  assert.deepEqual(
    [...listed].sort(),
    [
      "--config",
      "--help",
      "--log-format",
      "--log-level",
      "--metrics",
      "--socket",
      "--verbose",
      "--version",
      "-c",
      "-config",
      "-h",
      "-v",
      "-verbose",
      "-V",
    ].sort(),
  );
  // Every option it lists parses.
  for (const option of listed) {
    const value = /config|socket|^-c$/.test(option)
      ? ["/x"]
      : option === "--metrics"
      ? ["127.0.0.1:1"]
      : option === "--log-format"
      ? ["json"]
      : option === "--log-level"
      ? ["debug"]
      : [];
    assert.doesNotThrow(() => parseKpppoedCli([option, ...value]), option);
  }
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
      args: [
        "run",
        "-A",
        "main.ts",
        "--config",
        file,
        "--null-dataplane",
        "--log-format=json",
        "--socket",
        `${dir}/l2tpd.sock`,
      ],
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
        if (!signalled && records.some((r) => r.message.startsWith("Up: "))) {
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

// --- The daemon's life: systemd notifications, hooks, metrics -----------------------------------

/** A bound AF_UNIX datagram socket, as systemd's notify socket, read without blocking. */
class NotifySocket implements Disposable {
  readonly #fd: number;
  readonly path: string;

  constructor(path: string) {
    this.path = path;
    const c = libc();
    this.#fd = c.socket(1, /* AF_UNIX */ 2 /* SOCK_DGRAM */ | 0o2000000, /* SOCK_CLOEXEC */ 0);
    assert.ok(this.#fd >= 0);
    const sa = notifySocketAddress(path);
    assert.equal(c.bind(this.#fd, sa, sa.length), 0, `bind ${path}`);
  }

  /** Every datagram queued now. */
  drain(): string[] {
    const out: string[] = [];
    const buf = new Uint8Array(4096);
    while (true) {
      const n = libc().recvfrom(
        this.#fd,
        buf,
        BigInt(buf.length),
        0x40, /* MSG_DONTWAIT */
        null,
        null,
      );
      if (n < 0n) return out;
      out.push(new TextDecoder().decode(buf.subarray(0, Number(n))));
    }
  }

  [Symbol.dispose](): void {
    libc().close(this.#fd);
  }
}

Deno.test("main: --metrics takes ADDR:PORT, for the daemon only", () => {
  assert.deepEqual(run(["--metrics", "127.0.0.1:9100"]).metrics, {
    hostname: "127.0.0.1",
    port: 9100,
  });
  assert.deepEqual(run(["--metrics=[::1]:9101"]).metrics, { hostname: "::1", port: 9101 });
  assert.match(usageError(["--metrics", "9100"]), /--metrics must be ADDR:PORT .*got "9100"/);
  assert.match(usageError(["--metrics", "h:0"]), /the port must be 1 to 65535/);
  assert.match(usageError(["show", "--metrics", "h:1"]), /--metrics applies to run/);
});

Deno.test("main: run tells systemd READY, RELOADING and STOPPING; runs hooks; serves metrics", async () => {
  const dir = await Deno.makeTempDir({ prefix: "l2tpd-run-" });
  try {
    const hookLog = `${dir}/hooks.log`;
    const hook = (what: string): string =>
      `on_up = ["/bin/sh", "-c", "echo ${what} up $L2TPD_INTERFACE >> ${hookLog}"]\n` +
      `on_down = ["/bin/sh", "-c", "echo ${what} down >> ${hookLog}"]\n`;
    const file = `${dir}/l2tpd.toml`;
    const t1 = `[tunnel.t1]\nencap = "ip"\nlocal = "192.0.2.1"\npeer = "192.0.2.2"\ntid = 1\n` +
      `ptid = 2\n[tunnel.t1.session.s1]\nsid = 10\npsid = 20\n${hook("s1")}`;
    const t2 = `[tunnel.t2]\nencap = "ip"\nlocal = "192.0.2.1"\npeer = "192.0.2.3"\ntid = 3\n` +
      `ptid = 4\n[tunnel.t2.session.s2]\nsid = 30\npsid = 40\n${hook("s2")}`;
    await Deno.writeTextFile(file, t1);
    using notify = new NotifySocket(`${dir}/notify.sock`);
    const port = 20000 + Math.floor(Math.random() * 20000);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "main.ts",
        "--config",
        file,
        "--null-dataplane",
        "--socket",
        `${dir}/l2tpd.sock`,
        "--metrics",
        `127.0.0.1:${port}`,
      ],
      cwd: ROOT,
      env: { NO_COLOR: "1", NOTIFY_SOCKET: notify.path },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = new Response(child.stderr).text();
    const seen: string[] = [];
    const until = async (what: string, probe: () => Promise<boolean> | boolean): Promise<void> => {
      const deadline = Date.now() + 20_000;
      while (true) {
        seen.push(...notify.drain());
        if (await probe()) return;
        if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}: ${seen}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const hooksRan = async (): Promise<string[]> => {
      try {
        return (await Deno.readTextFile(hookLog)).trim().split("\n");
      } catch {
        return [];
      }
    };
    try {
      // READY=1 and the STATUS line are two datagrams: wait for both.
      const statusLine = (m: string) => /^STATUS=1 of 1 tunnel\(s\) up, 1 session\(s\) up$/.test(m);
      await until("READY=1 and STATUS", () => seen.includes("READY=1") && seen.some(statusLine));
      await until("s1's on_up", async () => (await hooksRan()).includes("s1 up l2tpeth0"));
      const scrape = await fetch(`http://127.0.0.1:${port}/metrics`);
      const text = await scrape.text();
      assert.equal(scrape.status, 200);
      assert.match(text, /^l2tpd_sessions_up 1$/m);

      // A reload: RELOADING=1 then READY=1, and the added session's hook runs.
      seen.length = 0;
      await Deno.writeTextFile(file, t1 + t2);
      child.kill("SIGHUP");
      await until("RELOADING=1, READY=1", () => seen.includes("READY=1"));
      assert.match(seen[0], /^RELOADING=1\nMONOTONIC_USEC=\d+$/);
      await until("s2's on_up", async () => (await hooksRan()).includes("s2 up l2tpeth1"));
    } finally {
      child.kill("SIGTERM");
    }
    const status = await child.status;
    const log = await stderr;
    assert.equal(status.code, 0, log);
    seen.push(...notify.drain());
    assert.ok(seen.includes("STOPPING=1"), `${seen}`);
    // The down hooks ran before the daemon exited.
    const ran = await hooksRan();
    assert.ok(ran.includes("s1 down") && ran.includes("s2 down"), ran.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
