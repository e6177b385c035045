/**
 * The manual pages agree with the program: the options and commands of l2tpd(8) are exactly
 * those `--help` prints (main.ts run as a subprocess), the keys of l2tpd.toml(5) are exactly the
 * keys the configuration schema knows (the tables in lib/config/) and exactly those
 * config.example.toml shows (set or commented out), table by table; kpppoed(8) lists exactly
 * kpppoed's options (its usage text) and configuration keys (lib/kpppoed/keys.ts); the committed
 * roff is what tools/build_man.ts makes of the sources; and groff formats the pages without a
 * warning.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parse as parseToml } from "smol-toml";
import {
  buildPage,
  type ManBlock,
  type ManPage,
  ManSourceError,
  manSources,
  parseMan,
  plainText,
  renderRoff,
} from "../../tools/build_man.ts";
import { TOP_KEYS } from "../../lib/config/schema.ts";
import { TUNNEL_KEYS } from "../../lib/config/tunnel_keys.ts";
import { SESSION_KEYS } from "../../lib/config/session_keys.ts";
import { DAEMON_KEYS } from "../../lib/config/daemon_keys.ts";
import { HOOK_VARIABLES } from "../../lib/hooks.ts";
import { usage } from "../../lib/cli.ts";
import { KPPPOED_KEYS } from "../../lib/kpppoed/keys.ts";

const root = new URL("../../", import.meta.url).pathname;
const decoder = new TextDecoder();

function page(name: string): ManPage {
  return parseMan(Deno.readTextFileSync(`${root}man/${name}.md`), `man/${name}.md`);
}

/** The blocks of each `# SECTION`, by title. */
function sections(p: ManPage): Map<string, ManBlock[]> {
  const out = new Map<string, ManBlock[]>();
  let current: ManBlock[] | undefined;
  for (const b of p.blocks) {
    if (b.kind === "section") {
      current = [];
      out.set(b.title, current);
    } else current?.push(b);
  }
  return out;
}

function section(p: ManPage, title: string): ManBlock[] {
  const blocks = sections(p).get(title);
  assert.ok(blocks, `the page has a section ${title}`);
  return blocks;
}

/** The definition terms of a section (subsections included), as plain text. */
function terms(blocks: readonly ManBlock[]): string[] {
  return blocks.flatMap((b) => b.kind === "definition" ? [plainText(b.term)] : []);
}

/** Command line options in a text: `-x`, `--long`, `-golike`, where a word starts. */
function options(text: string): Set<string> {
  return new Set([...text.matchAll(/(?<=^|[\s[(,|])--?[A-Za-z][A-Za-z0-9-]*/gm)].map((m) => m[0]));
}

function sorted(s: Iterable<string>): string[] {
  return [...s].sort();
}

/** The first backtick span of a term (the key it documents). */
function keyOf(term: string): string {
  const m = /^`([^`]+)`/.exec(term);
  assert.ok(m, `a key's term starts with the key in backticks: ${term}`);
  return m[1];
}

function manKeys(title: string): Set<string> {
  return new Set(
    section(page("l2tpd.toml.5"), title).flatMap((b) =>
      b.kind === "definition" ? [keyOf(b.term)] : []
    ),
  );
}

async function helpText(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", `${root}main.ts`, "--help"],
    env: { L2TPD_PERSONALITY: "l2tpd", NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, `--help exits 0: ${decoder.decode(out.stderr)}`);
  return decoder.decode(out.stdout);
}

Deno.test("l2tpd(8): its options are exactly those of --help, and its synopsis uses no others", async () => {
  const help = options(await helpText());
  const man = page("l2tpd.8");
  const documented = new Set(
    [...terms(section(man, "OPTIONS")), ...terms(section(man, "COMMANDS"))].flatMap((t) => [
      ...options(t),
    ]),
  );
  assert.deepEqual(sorted(documented), sorted(help), "OPTIONS and COMMANDS terms vs --help");
  const synopsis = section(man, "SYNOPSIS").flatMap((b) => b.kind === "code" ? b.lines : []);
  const used = options(synopsis.join("\n"));
  assert.deepEqual(sorted([...used].filter((o) => !documented.has(o))), [], "SYNOPSIS");
});

Deno.test("l2tpd(8): its commands are exactly those of --help", async () => {
  const help = await helpText();
  const m = /^Commands:\n((?: .*\n)+)/m.exec(help);
  assert.ok(m, "--help has a Commands: section");
  // A command's line starts with two spaces; its description's continuation lines with more.
  const fromHelp = m[1].split("\n").flatMap((l) => /^ {2}(\S+)/.exec(l)?.[1] ?? [])
    .filter((w) => w !== "(none)");
  const fromMan = terms(section(page("l2tpd.8"), "COMMANDS")).map((t) => t.split(/\s+/)[0]);
  assert.deepEqual(sorted(new Set(fromMan)), sorted(new Set(fromHelp)));
});

function readsAsToml(line: string): boolean {
  try {
    parseToml(line);
    return true;
  } catch {
    return false;
  }
}

/** Keys of config.example.toml by table kind: set, and commented out (`# key = value`). */
function exampleKeys(): {
  top: Set<string>;
  daemon: Set<string>;
  tunnel: Set<string>;
  session: Set<string>;
} {
  const text = Deno.readTextFileSync(`${root}config.example.toml`);
  const keys = {
    top: new Set<string>(),
    daemon: new Set<string>(),
    tunnel: new Set<string>(),
    session: new Set<string>(),
  };
  let table: keyof typeof keys = "top";
  for (const line of text.split("\n")) {
    const header = /^(?:# ?)?\[([A-Za-z0-9_.-]+)\]\s*$/.exec(line);
    if (header !== null) {
      const parts = header[1].split(".");
      keys.top.add(parts[0]);
      table = parts[0] === "daemon" && parts.length === 1
        ? "daemon"
        : parts[0] === "tunnel" && parts.length === 2
        ? "tunnel"
        : parts[0] === "tunnel" && parts.length === 4 && parts[2] === "session"
        ? "session"
        : (() => {
          throw new Error(`Cannot classify the table [${header[1]}] of config.example.toml`);
        })();
      continue;
    }
    // A commented-out assignment is one that TOML would read (prose like "# false = off" is not).
    const assignment = /^(?:# ?)?(([a-z][a-z0-9_]*) = \S.*)$/.exec(line);
    if (assignment !== null && readsAsToml(assignment[1])) keys[table].add(assignment[2]);
  }
  // What is set must also be what TOML reads (the line scan above is not fooled).
  const parsed = parseToml(text) as Record<string, Record<string, Record<string, unknown>>>;
  for (const k of Object.keys(parsed)) assert.ok(keys.top.has(k), `top-level ${k}`);
  for (const k of Object.keys(parsed.daemon ?? {})) assert.ok(keys.daemon.has(k), `[daemon] ${k}`);
  for (const t of Object.values(parsed.tunnel ?? {})) {
    for (const k of Object.keys(t)) if (k !== "session") assert.ok(keys.tunnel.has(k), k);
    const sessions = (t.session ?? {}) as Record<string, Record<string, unknown>>;
    for (const s of Object.values(sessions)) {
      for (const k of Object.keys(s)) assert.ok(keys.session.has(k), k);
    }
  }
  return keys;
}

Deno.test("l2tpd.toml(5): the keys of each table are those of the schema and of config.example.toml", () => {
  const example = exampleKeys();
  const tables: [string, Set<string>, Set<string>, Set<string>][] = [
    ["[daemon]", manKeys("DAEMON KEYS"), new Set(Object.keys(DAEMON_KEYS)), example.daemon],
    [
      "[tunnel.NAME]",
      manKeys("TUNNEL KEYS"),
      new Set(Object.keys(TUNNEL_KEYS).filter((k) => k !== "session")),
      example.tunnel,
    ],
    [
      "[tunnel.NAME.session.NAME]",
      manKeys("SESSION KEYS"),
      new Set(Object.keys(SESSION_KEYS)),
      example.session,
    ],
  ];
  // Every disagreement at once: what one list has and another lacks.
  const problems: string[] = [];
  const compare = (what: string, have: Set<string>, want: Set<string>): void => {
    const missing = sorted([...want].filter((k) => !have.has(k)));
    const extra = sorted([...have].filter((k) => !want.has(k)));
    if (missing.length > 0) problems.push(`${what} lacks ${missing.join(", ")}`);
    if (extra.length > 0) problems.push(`${what} has unknown ${extra.join(", ")}`);
  };
  for (const [table, man, schema, ex] of tables) {
    compare(`${table}: l2tpd.toml(5)`, man, schema);
    compare(`${table}: config.example.toml`, ex, schema);
  }
  // The top level: the tables FILE FORMAT documents.
  const topMan = new Set(
    terms(section(page("l2tpd.toml.5"), "FILE FORMAT")).map((t) => {
      const m = /^\[([a-z_]+)[.\]]/.exec(t);
      assert.ok(m, `a FILE FORMAT term is a table header: ${t}`);
      return m[1];
    }),
  );
  compare("top level: l2tpd.toml(5) FILE FORMAT", topMan, new Set(Object.keys(TOP_KEYS)));
  compare("top level: config.example.toml", example.top, new Set(Object.keys(TOP_KEYS)));
  assert.deepEqual(problems, [], `the key lists disagree (schema: lib/config/*_keys.ts):`);
});

Deno.test("l2tpd.toml(5): HOOKS lists exactly the variables an on_up / on_down command gets", () => {
  const documented = terms(section(page("l2tpd.toml.5"), "HOOKS"))
    .flatMap((t) => t.split(/,\s*/));
  assert.deepEqual(sorted(documented), sorted(HOOK_VARIABLES));
});

Deno.test("kpppoed(8): its options are exactly those of its --help, and its synopsis uses no others", () => {
  // main.ts does not dispatch kpppoed yet: the usage text is the one --help prints.
  const help = options(usage("kpppoed"));
  const man = page("kpppoed.8");
  const documented = new Set(terms(section(man, "OPTIONS")).flatMap((t) => [...options(t)]));
  assert.deepEqual(sorted(documented), sorted(help), "OPTIONS terms vs kpppoed --help");
  const synopsis = section(man, "SYNOPSIS").flatMap((b) => b.kind === "code" ? b.lines : []);
  const used = options(synopsis.join("\n"));
  assert.deepEqual(sorted([...used].filter((o) => !documented.has(o))), [], "SYNOPSIS");
});

Deno.test("kpppoed(8): CONFIGURATION documents exactly the keys of kpppoed.toml's schema", () => {
  const documented = section(page("kpppoed.8"), "CONFIGURATION").flatMap((b) => {
    if (b.kind !== "definition") return [];
    const key = keyOf(b.term);
    return [key === "[service.NAME]" ? "service" : key];
  });
  assert.deepEqual(sorted(documented), sorted(Object.keys(KPPPOED_KEYS)));
  assert.equal(new Set(documented).size, documented.length, "each key once");
});

Deno.test("man: the committed roff is what tools/build_man.ts makes of the sources", () => {
  const built = manSources(`${root}man`);
  assert.deepEqual(built.map((b) => b.output.slice(root.length)).sort(), [
    "man/kpppoed.8",
    "man/l2tpd.8",
    "man/l2tpd.toml.5",
  ]);
  for (const { source, output } of built) {
    let committed = "";
    try {
      committed = Deno.readTextFileSync(output);
    } catch {
      // missing: reported below
    }
    assert.ok(committed === buildPage(source), `${output} is out of date: run "deno task man"`);
  }
});

Deno.test("build_man: the source format, and its errors name the line", () => {
  const p = parseMan(
    [
      "---",
      "title: DEMO",
      "section: 1",
      "source: demo {version}",
      "---",
      "",
      "# NAME",
      "",
      "demo - does `-x` things with _placeholders_, hello_timeout and a \\* star",
      "",
      "### `--flag` _VALUE_",
      "",
      "First paragraph,",
      "continued.",
      "",
      "Second paragraph.",
      "",
      "```",
      ".dot line \\n",
      "```",
      "",
      "- a bullet",
      "  continued",
      "",
      "## Sub",
      "",
      "Back to text \\ with a backslash.",
      "",
    ].join("\n"),
  );
  assert.deepEqual(p.blocks.map((b) => b.kind), [
    "section",
    "paragraph",
    "definition",
    "subsection",
    "paragraph",
  ]);
  const roff = renderRoff(p, "9.9");
  assert.match(roff, /^\.TH "DEMO" "1" "" "demo 9\.9" ""$/m);
  assert.match(
    roff,
    /^demo \\- does \\fB\\-x\\fR things with \\fIplaceholders\\fR, hello_timeout and a \* star$/m,
  );
  assert.match(
    roff,
    /^\.TP\n\\fB\\-\\-flag\\fR \\fIVALUE\\fR\nFirst paragraph,\ncontinued\.\n\.IP\nSecond paragraph\.\n\.IP\n\.RS 4\n\.nf\n\\&\.dot line \\en\n\.fi\n\.RE\n\.RS\n\.IP \\\(bu 2\na bullet\ncontinued\n\.RE\n\.SS "Sub"$/m,
  );
  assert.match(roff, /^Back to text \\e with a backslash\.$/m);
  assert.equal(plainText("`--config` _FILE_, `-c` \\_x"), "--config FILE, -c _x");

  const bad: [string, RegExp][] = [
    ["# NAME\n", /:1: expected the front matter/],
    ["---\ntitle: X\n---\n", /:1: the front matter needs section/],
    ["---\ntitle: X\nsection: 1\ncolour: red\n---\n", /:4: unknown front matter key colour/],
    ["---\ntitle: X\nsection: 1\n---\n# A\n  indented\n", /:6: unexpected indentation/],
    ["---\ntitle: X\nsection: 1\n---\n```\ncode\n", /:5: unclosed code block/],
    ["---\ntitle: X\nsection: 1\n---\n#### deep\n", /:5: bad heading/],
    ["---\ntitle: X\nsection: 1\n---\ncaf\u00e9\n", /:5: only printable ASCII .* U\+00E9/],
  ];
  for (const [source, re] of bad) {
    assert.throws(() => parseMan(source, "t.md"), (e: unknown) => {
      assert.ok(e instanceof ManSourceError);
      assert.match(e.message, /^Cannot parse t\.md:/);
      assert.match(e.message, re);
      return true;
    });
  }
});

Deno.test("man: deno fmt leaves the sources as they are (the format survives the repository check)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--check", `${root}man/`],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, decoder.decode(out.stderr) + decoder.decode(out.stdout));
});

const groff = (() => {
  try {
    return new Deno.Command("groff", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: groff
    ? "man: groff formats every page without a warning"
    : "man: groff formats every page without a warning (ignored: groff is not installed)",
  ignore: !groff,
  fn: async () => {
    for (
      const [file, first] of [
        ["man/l2tpd.8", "L2TPD(8)"],
        ["man/l2tpd.toml.5", "L2TPD.TOML(5)"],
        ["man/kpppoed.8", "KPPPOED(8)"],
      ]
    ) {
      const out = await new Deno.Command("groff", {
        // -P-cbou: plain text, without bold, underline or overstrike.
        args: ["-man", "-Tutf8", "-ww", "-P-cbou", `${root}${file}`],
        env: { LC_ALL: "C.UTF-8" },
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.equal(decoder.decode(out.stderr), "", `${file}: groff warnings`);
      assert.equal(out.code, 0);
      const text = decoder.decode(out.stdout);
      assert.ok(text.trimStart().startsWith(first), `${file} starts with its header`);
      assert.match(text, /^NAME\n/m);
    }
  },
});
