/**
 * `deno run --allow-read --allow-write tools/build_man.ts [--check]` (`deno task man`): turn the
 * manual page sources `man/*.md` into roff (`man/l2tpd.8` from `man/l2tpd.8.md`, and so on).
 * The roff files are committed; `--check` writes nothing and exits 1 when one is missing or out
 * of date.
 *
 * The source format is a small, strict Markdown subset, chosen so that `deno fmt` (which the
 * repository's check runs on every Markdown file) leaves it as it is; anything outside it is an
 * error naming the file and line, so a page never renders differently from what its source says:
 *
 * - a front matter block between `---` lines with `title`, `section`, `source` and `manual`
 *   (`{version}` in a value is replaced by the version in `deno.json`);
 * - `# NAME` (a section, `.SH`) and `## Name` (a subsection, `.SS`);
 * - `### term`: an entry of a definition list (`.TP`), whose body is every block up to the next
 *   heading;
 * - paragraphs: lines of text, ended by a blank line;
 * - bullet lists: lines starting with `- `, continued by lines indented by two spaces;
 * - code blocks between lines of three backticks, shown as they are (`.nf`);
 * - inline: a backtick span is literal text (bold), `_text_` (at word boundaries) is a
 *   placeholder (italic), `**text**` is bold, and a backslash before punctuation stands for that
 *   character; roff's own specials need no escaping.
 *
 * Sources are ASCII only (groff reads its input as Latin-1 unless told otherwise).
 *
 * @example Usage
 * ```ts
 * import { parseMan, renderRoff } from "./build_man.ts";
 * const page = parseMan("---\ntitle: DEMO\nsection: 1\n---\n\n# NAME\n\ndemo - a `demo`\n");
 * console.log(renderRoff(page, "0.1.0"));
 * ```
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };

/**
 * One block of a page.
 *
 * @example Usage
 * ```ts
 * import type { ManBlock } from "./build_man.ts";
 * const b: ManBlock = { kind: "paragraph", text: "Runs the `l2tpd` daemon." };
 * console.log(b.kind);
 * ```
 */
export type ManBlock =
  | { kind: "section"; title: string }
  | { kind: "subsection"; title: string }
  | { kind: "paragraph"; text: string }
  | { kind: "code"; lines: string[] }
  | { kind: "list"; items: ManBlock[][] }
  | { kind: "definition"; term: string; body: ManBlock[] };

/**
 * A parsed page: the front matter and the blocks in order.
 *
 * @example Usage
 * ```ts
 * import type { ManPage } from "./build_man.ts";
 * const p: ManPage = {
 *   title: "L2TPD", section: "8", source: "l2tpd", manual: "System Manager's Manual", blocks: [],
 * };
 * console.log(p.title);
 * ```
 */
export interface ManPage {
  /** The page's name in capitals, e.g. `L2TPD`. */
  title: string;
  /** The manual section, e.g. `8`. */
  section: string;
  /** Where the page comes from (the footer), e.g. `l2tpd 0.1.0`. */
  source: string;
  /** The manual's name (the header), e.g. `System Manager's Manual`. */
  manual: string;
  /** The content. */
  blocks: ManBlock[];
}

/**
 * A source error: "Cannot parse FILE:LINE: detail".
 *
 * @example Usage
 * ```ts
 * import { ManSourceError, parseMan } from "./build_man.ts";
 * try {
 *   parseMan("# NAME\n", "x.md");
 * } catch (e) {
 *   console.log(e instanceof ManSourceError && e.message); // "Cannot parse x.md:1: ..."
 * }
 * ```
 */
export class ManSourceError extends Error {
  /** Make the error for `file` at 1-based `line`. */
  constructor(file: string, line: number, detail: string) {
    super(`Cannot parse ${file}:${line}: ${detail}`);
    this.name = "ManSourceError";
  }
}

interface Line {
  text: string;
  no: number;
}

const FENCE = "```";

/**
 * Parse a page source.
 *
 * @param source The Markdown subset described in the module documentation.
 * @param file The file name, for error messages.
 * @returns The page.
 * @throws {ManSourceError} for anything outside the format.
 *
 * @example Usage
 * ```ts
 * import { parseMan } from "./build_man.ts";
 * const page = parseMan(
 *   "---\ntitle: X\nsection: 8\n---\n\n# OPTIONS\n\n### `--help`\n\nShow help.\n",
 * );
 * console.log(page.blocks[1]); // { kind: "definition", term: "`--help`", body: [...] }
 * ```
 */
export function parseMan(source: string, file = "<source>"): ManPage {
  const all = source.split("\n").map((text, i) => ({ text: text.trimEnd(), no: i + 1 }));
  if (all.at(-1)?.text === "") all.pop();
  for (const l of all) {
    const bad = /[^\x20-\x7e]/.exec(l.text);
    if (bad !== null) {
      throw new ManSourceError(
        file,
        l.no,
        `only printable ASCII is allowed, found U+${
          bad[0].codePointAt(0)?.toString(16).toUpperCase().padStart(4, "0")
        }`,
      );
    }
  }
  if (all[0]?.text !== "---") {
    throw new ManSourceError(file, 1, "expected the front matter, starting with ---");
  }
  const end = all.findIndex((l, i) => i > 0 && l.text === "---");
  if (end < 0) throw new ManSourceError(file, 1, "the front matter has no closing ---");
  const meta: Record<string, string> = {};
  for (const l of all.slice(1, end)) {
    const m = /^([a-z]+): (.+)$/.exec(l.text);
    if (m === null) throw new ManSourceError(file, l.no, `expected "key: value", got ${l.text}`);
    if (!["title", "section", "source", "manual"].includes(m[1])) {
      throw new ManSourceError(file, l.no, `unknown front matter key ${m[1]}`);
    }
    meta[m[1]] = m[2];
  }
  for (const k of ["title", "section"]) {
    if (meta[k] === undefined) throw new ManSourceError(file, 1, `the front matter needs ${k}`);
  }
  return {
    title: meta.title,
    section: meta.section,
    source: meta.source ?? "",
    manual: meta.manual ?? "",
    blocks: parseBlocks(all.slice(end + 1), file, true),
  };
}

function parseBlocks(lines: Line[], file: string, top: boolean): ManBlock[] {
  const blocks: ManBlock[] = [];
  /** The definition being filled: blocks go to its body until the next heading. */
  let into: ManBlock[] = blocks;
  let i = 0;
  while (i < lines.length) {
    const { text, no } = lines[i];
    if (text === "") {
      i++;
      continue;
    }
    if (/^ /.test(text)) {
      throw new ManSourceError(file, no, "unexpected indentation (only in lists)");
    }
    const heading = /^(#{1,3}) (\S.*)$/.exec(text);
    if (heading !== null) {
      if (!top) throw new ManSourceError(file, no, "headings cannot be nested in a list");
      if (heading[1] === "###") {
        const body: ManBlock[] = [];
        blocks.push({ kind: "definition", term: heading[2], body });
        into = body;
      } else {
        blocks.push({ kind: heading[1] === "#" ? "section" : "subsection", title: heading[2] });
        into = blocks;
      }
      i++;
      continue;
    }
    if (text.startsWith("#")) throw new ManSourceError(file, no, `bad heading: ${text}`);
    if (text.startsWith(FENCE)) {
      if (text !== FENCE) {
        throw new ManSourceError(file, no, "a code block starts with ``` alone on its line");
      }
      const close = lines.findIndex((l, k) => k > i && l.text === FENCE);
      if (close < 0) throw new ManSourceError(file, no, "unclosed code block");
      into.push({ kind: "code", lines: lines.slice(i + 1, close).map((l) => l.text) });
      i = close + 1;
      continue;
    }
    if (text.startsWith("- ")) {
      const items: ManBlock[][] = [];
      while (i < lines.length && lines[i].text.startsWith("- ")) {
        const item: Line[] = [{ text: lines[i].text.slice(2), no: lines[i].no }];
        i++;
        while (i < lines.length && lines[i].text.startsWith("  ")) {
          item.push({ text: lines[i].text.slice(2), no: lines[i].no });
          i++;
        }
        items.push(parseBlocks(item, file, false));
      }
      into.push({ kind: "list", items });
      continue;
    }
    // A paragraph: up to a blank line or the start of another kind of block.
    const para: string[] = [];
    while (i < lines.length && lines[i].text !== "" && !/^(#|- |```| )/.test(lines[i].text)) {
      para.push(lines[i].text);
      i++;
    }
    into.push({ kind: "paragraph", text: para.join("\n") });
  }
  return blocks;
}

/** Escape plain text for roff: backslash as `\e`, and `-` as `\-` (a minus, not a hyphen). */
function escapeText(text: string): string {
  return text.replaceAll("\\", "\\e").replaceAll("-", "\\-");
}

/**
 * Inline markup to roff: backtick spans bold and literal, `_x_` italic, `**x**` bold, `\\X`
 * the punctuation character X.
 *
 * @param text One or more lines of source text.
 * @returns The roff text (font escapes; `-` as `\-`; no line starting with a control
 *   character).
 *
 * @example Usage
 * ```ts
 * import { inlineRoff } from "./build_man.ts";
 * console.log(inlineRoff("`--config` _FILE_")); // "\\fB\\-\\-config\\fR \\fIFILE\\fR"
 * ```
 */
export function inlineRoff(text: string): string {
  let out = "";
  let i = 0;
  const word = (c: string | undefined): boolean => c !== undefined && /[A-Za-z0-9]/.test(c);
  while (i < text.length) {
    const c = text[i];
    if (c === "\\" && i + 1 < text.length && /[!-/:-@[-`{-~]/.test(text[i + 1])) {
      out += escapeText(text[i + 1]);
      i += 2;
    } else if (c === "`") {
      const close = text.indexOf("`", i + 1);
      if (close < 0) throw new Error(`Cannot render ${JSON.stringify(text)}: unclosed backtick`);
      out += `\\fB${escapeText(text.slice(i + 1, close))}\\fR`;
      i = close + 1;
    } else if (text.startsWith("**", i)) {
      const close = text.indexOf("**", i + 2);
      if (close < 0) throw new Error(`Cannot render ${JSON.stringify(text)}: unclosed **`);
      out += `\\fB${inlineRoff(text.slice(i + 2, close))}\\fR`;
      i = close + 2;
    } else if (c === "_" && !word(text[i - 1]) && i + 1 < text.length && text[i + 1] !== " ") {
      let close = text.indexOf("_", i + 1);
      while (close >= 0 && word(text[close + 1])) close = text.indexOf("_", close + 1);
      if (close < 0) throw new Error(`Cannot render ${JSON.stringify(text)}: unclosed _`);
      out += `\\fI${inlineRoff(text.slice(i + 1, close))}\\fR`;
      i = close + 1;
    } else {
      out += escapeText(c);
      i++;
    }
  }
  return out.split("\n").map((l) => /^[.']/.test(l) ? `\\&${l}` : l).join("\n");
}

/**
 * The plain text of inline markup (what a reader sees, without fonts).
 *
 * @param text Source text.
 * @returns The text without backticks, emphasis marks and escapes.
 *
 * @example Usage
 * ```ts
 * import { plainText } from "./build_man.ts";
 * console.log(plainText("`--config` _FILE_")); // "--config FILE"
 * ```
 */
export function plainText(text: string): string {
  return text.replace(/`([^`]*)`/g, "$1").replace(/\*\*([^*]+)\*\*/g, "$1")
    .replace(/(?<![A-Za-z0-9])_(\S(?:.*?\S)?)_(?![A-Za-z0-9])/g, "$1")
    .replace(/\\([!-/:-@[-`{-~])/g, "$1");
}

function quoteArg(text: string): string {
  return `"${text.replaceAll('"', "\\(dq")}"`;
}

function renderBlocks(blocks: readonly ManBlock[], nested: boolean, out: string[]): void {
  blocks.forEach((b, i) => {
    // Inside a definition or list item the first block follows the tag; later ones are
    // indented paragraphs of the same item.
    const lead = (): void => {
      if (nested) {
        if (i > 0) out.push(".IP");
      } else out.push(".PP");
    };
    switch (b.kind) {
      case "section":
        out.push(`.SH ${quoteArg(escapeText(b.title))}`);
        break;
      case "subsection":
        out.push(`.SS ${quoteArg(escapeText(b.title))}`);
        break;
      case "paragraph":
        lead();
        out.push(inlineRoff(b.text));
        break;
      case "code":
        if (nested && i === 0) out.push(".br");
        else lead();
        out.push(".RS 4", ".nf");
        for (const l of b.lines) out.push(l === "" ? "" : escapeCode(l));
        out.push(".fi", ".RE");
        break;
      case "list":
        // .RS/.RE keep the bullets' indentation from becoming that of what follows.
        if (nested && i === 0) out.push(".br");
        else if (!nested) out.push(".PP");
        out.push(nested ? ".RS" : ".RS 0");
        for (const item of b.items) {
          out.push(".IP \\(bu 2");
          renderBlocks(item, true, out);
        }
        out.push(".RE");
        break;
      case "definition":
        out.push(".TP", inlineRoff(b.term));
        renderBlocks(b.body, true, out);
        break;
    }
  });
}

function escapeCode(line: string): string {
  const e = escapeText(line);
  return /^[.']/.test(e) ? `\\&${e}` : e;
}

/**
 * Render a page as roff for the `man` macros.
 *
 * @param page A parsed page.
 * @param version Replaces `{version}` in the front matter (default: `deno.json`'s version).
 * @returns The roff text, ending with a newline.
 *
 * @example Usage
 * ```ts
 * import { parseMan, renderRoff } from "./build_man.ts";
 * const roff = renderRoff(parseMan("---\ntitle: X\nsection: 5\n---\n\n# NAME\n\nx - y\n"), "1.0");
 * console.log(roff.split("\n")[2]); // '.TH "X" "5" "" "" ""'
 * ```
 */
export function renderRoff(page: ManPage, version: string = denoJson.version): string {
  const v = (s: string): string => s.replaceAll("{version}", version);
  const out = [
    `.\\" Generated by tools/build_man.ts from man/${page.title.toLowerCase()}.${page.section}.md:`,
    `.\\" edit that file and run "deno task man"; do not edit this one.`,
    `.TH ${
      [page.title, page.section, "", v(page.source), v(page.manual)]
        .map((s) => quoteArg(escapeText(s))).join(" ")
    }`,
    // Left-aligned, no hyphenation: option names, keys and paths stay whole and searchable.
    ".ad l",
    ".nh",
  ];
  renderBlocks(page.blocks, false, out);
  return out.join("\n") + "\n";
}

/**
 * The pages built from `man/`: each source file and the roff file it becomes.
 *
 * @param dir The `man/` directory (default: the repository's).
 * @returns Source path and output path of every `*.md` there, sorted.
 *
 * @example Usage
 * ```ts
 * import { manSources } from "./build_man.ts";
 * for (const { source, output } of manSources()) console.log(source, "->", output);
 * ```
 */
export function manSources(
  dir: string = new URL("../man/", import.meta.url).pathname,
): { source: string; output: string }[] {
  const base = dir.endsWith("/") ? dir : `${dir}/`;
  return [...Deno.readDirSync(base)]
    .filter((e) => e.isFile && e.name.endsWith(".md"))
    .map((e) => ({ source: base + e.name, output: base + e.name.slice(0, -3) }))
    .sort((a, b) => a.source.localeCompare(b.source));
}

/**
 * Build one page: read its source and return the roff it becomes.
 *
 * @param source The source file.
 * @returns The roff text.
 * @throws {ManSourceError} for a bad source; the file's read error when it cannot be read.
 *
 * @example Usage
 * ```ts
 * import { buildPage, manSources } from "./build_man.ts";
 * const [first] = manSources();
 * console.log(buildPage(first.source).startsWith('.\\" Generated')); // true
 * ```
 */
export function buildPage(source: string): string {
  const page = parseMan(Deno.readTextFileSync(source), source);
  const expected = source.slice(source.lastIndexOf("/") + 1, -3);
  const named = `${page.title.toLowerCase()}.${page.section}`;
  if (named !== expected) {
    throw new ManSourceError(source, 1, `title and section make ${named}, the file is ${expected}`);
  }
  return renderRoff(page);
}

if (import.meta.main) {
  const check = Deno.args.includes("--check");
  let stale = 0;
  for (const { source, output } of manSources()) {
    const roff = buildPage(source);
    let current: string | undefined;
    try {
      current = Deno.readTextFileSync(output);
    } catch {
      current = undefined;
    }
    if (current === roff) continue;
    if (check) {
      console.error(`${output} is out of date: run "deno task man"`);
      stale++;
    } else {
      Deno.writeTextFileSync(output, roff);
      console.log(`wrote ${output}`);
    }
  }
  Deno.exit(stale > 0 ? 1 : 0);
}
