/**
 * `deno run --allow-read tools/check_layers.ts [ROOT]`: check that the static imports of the
 * package's modules (`main.ts`, `lib/`, `control/`, `dataplane/`) follow the layer directions and
 * form no cycle. Part of `deno task check`.
 *
 * The layers, each importing only downwards:
 *
 * - `main.ts` (the CLI) may import `lib/`, `control/` and `dataplane/`;
 * - `lib/` (the library) may import `lib/`, `control/` and `dataplane/`;
 * - `control/` (pure protocol) imports nothing outside `control/` except `node:crypto`;
 * - `dataplane/` (the OS) may import `dataplane/`, and from `control/` only the shared vocabulary
 *   `control/types.ts`, `control/endpoint.ts` and `control/mac.ts`;
 * - none of them imports `tests/` or any other module outside these layers.
 *
 * Every import declaration and `export ... from` at module level counts, type-only ones
 * included (they are marked in the report); dynamic `import()` does not, and neither does
 * anything in comments (JSDoc examples) or strings. Each violation is printed as
 * `FILE: imports TARGET: REASON`; the exit status is 1 when there is any, 0 otherwise.
 *
 * @example Usage
 * ```ts ignore
 * // Needs the repository's files: run it as a script (deno task check does).
 * import { checkGraph, formatViolation, readGraph } from "./check_layers.ts";
 * const graph = await readGraph(Deno.cwd());
 * for (const v of checkGraph(graph)) console.log(formatViolation(v));
 * ```
 *
 * @module
 */

/** The layer of a repository path: one of the four package layers, `tests`, or `other`. */
export type Layer = "main" | "lib" | "control" | "dataplane" | "tests" | "other";

/** One static import as written in a module. */
export interface ImportDeclaration {
  /** The module specifier, e.g. `"../control/types.ts"` or `"node:crypto"`. */
  specifier: string;
  /** True for `import type` / `export type ... from` (erased at run time). */
  typeOnly: boolean;
  /** 1-based line of the `import` / `export` keyword. */
  line: number;
}

/** One edge of the module graph: an import, resolved. */
export interface ImportEdge extends ImportDeclaration {
  /**
   * What it names: a repository-relative path (`control/types.ts`; starting with `../` when it
   * points outside the repository) for a local module, else the specifier or the import map
   * target (`node:crypto`, `npm:smol-toml@1.9.1`).
   */
  target: string;
  /** True when `target` is not a local file (a `node:`, `npm:`, `jsr:` or URL module). */
  external: boolean;
}

/** The module graph: repository-relative path of each checked module -> its imports. */
export type ModuleGraph = ReadonlyMap<string, readonly ImportEdge[]>;

/** A broken rule: `file` imports `imports`, which it must not, because of `reason`. */
export interface Violation {
  /** The importing module (repository-relative). */
  file: string;
  /** The imported module (repository-relative path, or the external specifier). */
  imports: string;
  /** Why this is not allowed (the layer rule, or the cycle it closes). */
  reason: string;
  /** The import's line in `file`, when known. */
  line?: number;
}

/** Import map of deno.json: bare specifier (or prefix ending in `/`) -> target. */
export type ImportMap = Readonly<Record<string, string>>;

/** The directories and files whose modules are checked. */
export const CHECKED_ROOTS: readonly string[] = ["main.ts", "lib", "control", "dataplane"];

/** What `dataplane/` may import from `control/`: the shared vocabulary. */
export const DATAPLANE_MAY_IMPORT_FROM_CONTROL: readonly string[] = [
  "control/types.ts",
  "control/endpoint.ts",
  "control/mac.ts",
];

/** External modules `control/` may import (pure computation, no I/O). */
export const CONTROL_MAY_IMPORT_EXTERNAL: readonly string[] = ["node:crypto"];

const MODULE_EXTENSIONS = /\.(?:ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;

/**
 * The layer a repository-relative path belongs to.
 *
 * @param path e.g. `lib/daemon.ts`.
 * @returns Its layer.
 *
 * @example Usage
 * ```ts
 * import { layerOf } from "./check_layers.ts";
 * console.log(layerOf("dataplane/netlink/conn.ts")); // "dataplane"
 * ```
 */
export function layerOf(path: string): Layer {
  if (path === "main.ts") return "main";
  const top = path.split("/")[0];
  if (top === "lib" || top === "control" || top === "dataplane" || top === "tests") return top;
  return "other";
}

// ---------------------------------------------------------------------------------------------
// Lexing: just enough of TypeScript to find module-level imports outside comments and strings.

type TokenKind = "name" | "string" | "punct" | "other";

interface Token {
  kind: TokenKind;
  /** The identifier, the string's value, or the punctuator. */
  text: string;
  /** Nesting depth of `{}`, `()` and `[]` before the token (0 = module level). */
  depth: number;
  line: number;
}

/** Keywords after which a `/` starts a regular expression rather than a division. */
const REGEX_AFTER = new Set([
  "return",
  "typeof",
  "instanceof",
  "in",
  "of",
  "new",
  "delete",
  "void",
  "throw",
  "case",
  "do",
  "else",
  "yield",
  "await",
]);

function isIdentStart(c: string): boolean {
  return /[A-Za-z_$\u00a0-\uffff]/.test(c);
}

function isIdentPart(c: string): boolean {
  return /[A-Za-z0-9_$\u00a0-\uffff]/.test(c);
}

/** Split source text into tokens, skipping comments, template literals and regexes. */
function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  // Open brackets; "`" marks a `${` whose closing `}` resumes a template literal.
  const stack: string[] = [];
  let line = 1;
  let i = 0;
  const n = src.length;
  const push = (kind: TokenKind, text: string, at: number): void => {
    tokens.push({ kind, text, depth: stack.length, line: at });
  };
  const regexAllowed = (): boolean => {
    const prev = tokens[tokens.length - 1];
    if (prev === undefined) return true;
    if (prev.kind === "name") return REGEX_AFTER.has(prev.text);
    if (prev.kind === "string" || prev.kind === "other") return false;
    return prev.text !== ")" && prev.text !== "]" && prev.text !== "}";
  };
  /** Skip a template literal body from just after "`" or "}"; true if it stopped at `${`. */
  const skipTemplate = (): boolean => {
    while (i < n) {
      const c = src[i];
      if (c === "\\") {
        if (src[i + 1] === "\n") line++;
        i += 2;
      } else if (c === "`") {
        i++;
        return false;
      } else if (c === "$" && src[i + 1] === "{") {
        i += 2;
        return true;
      } else {
        if (c === "\n") line++;
        i++;
      }
    }
    return false;
  };
  while (i < n) {
    const c = src[i];
    if (c === "\n") {
      line++;
      i++;
    } else if (c === " " || c === "\t" || c === "\r" || c === "\f" || c === "\v") {
      i++;
    } else if (c === "/" && src[i + 1] === "/") {
      while (i < n && src[i] !== "\n") i++;
    } else if (c === "/" && src[i + 1] === "*") {
      const end = src.indexOf("*/", i + 2);
      const stop = end < 0 ? n : end + 2;
      for (let k = i; k < stop; k++) if (src[k] === "\n") line++;
      i = stop;
    } else if (c === '"' || c === "'") {
      const at = line;
      let value = "";
      i++;
      while (i < n && src[i] !== c && src[i] !== "\n") {
        if (src[i] === "\\") {
          if (src[i + 1] === "\n") line++;
          value += src[i + 1] ?? "";
          i += 2;
        } else {
          value += src[i++];
        }
      }
      i++;
      push("string", value, at);
    } else if (c === "`") {
      const at = line;
      i++;
      if (skipTemplate()) stack.push("`");
      push("other", "`", at);
    } else if (c === "/" && regexAllowed() && regexEnd(src, i) > 0) {
      push("other", "/regex/", line);
      i = regexEnd(src, i);
    } else if (isIdentStart(c)) {
      let j = i + 1;
      while (j < n && isIdentPart(src[j])) j++;
      push("name", src.slice(i, j), line);
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < n && /[0-9A-Za-z_.]/.test(src[j])) j++;
      push("other", src.slice(i, j), line);
      i = j;
    } else if (c === "{" || c === "(" || c === "[") {
      push("punct", c, line);
      stack.push(c);
      i++;
    } else if (c === "}" || c === ")" || c === "]") {
      const top = stack.pop();
      i++;
      if (top === "`") {
        if (skipTemplate()) stack.push("`");
        push("other", "`", line);
      } else {
        push("punct", c, line);
      }
    } else {
      push("punct", c, line);
      i++;
    }
  }
  return tokens;
}

/** Where the regex literal starting at `start` ends (index after its flags), or -1 if none. */
function regexEnd(src: string, start: number): number {
  let i = start + 1;
  let inClass = false;
  while (i < src.length) {
    const c = src[i];
    if (c === "\n") return -1;
    if (c === "\\") {
      i += 2;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
    } else if (c === "[") {
      inClass = true;
    } else if (c === "/") {
      i++;
      while (i < src.length && isIdentPart(src[i])) i++;
      return i;
    }
    i++;
  }
  return -1;
}

/**
 * The module-level static imports of a module's source: `import ... from "x"`, `import "x"`,
 * `export ... from "x"` (with `type` forms). Comments, strings, `import()` and `import.meta`
 * are not imports.
 *
 * @param source TypeScript or JavaScript text.
 * @returns The declarations in source order.
 *
 * @example Usage
 * ```ts
 * import { parseImports } from "./check_layers.ts";
 * const src = '// import { x } from "./comment.ts";\nconst s = "import \\"./string.ts\\"";\n' +
 *   'import type { A } from "./a.ts";\nexport { b } from "./b.ts";\nawait import("./dynamic.ts");\n';
 * console.log(parseImports(src).map((d) => d.specifier)); // ["./a.ts", "./b.ts"]
 * ```
 */
export function parseImports(source: string): ImportDeclaration[] {
  const tokens = tokenize(source);
  const found: ImportDeclaration[] = [];
  const at = (k: number): Token | undefined => tokens[k];
  const isPunct = (k: number, text: string): boolean =>
    at(k)?.kind === "punct" && at(k)?.text === text;
  const isName = (k: number, text: string): boolean =>
    at(k)?.kind === "name" && at(k)?.text === text;
  /** From token k, find `from "x"` before the statement ends; the index of the string or -1. */
  const findFrom = (k: number, depth: number): number => {
    for (let j = k; j < tokens.length; j++) {
      const t = tokens[j];
      if (t.depth === depth && t.kind === "punct" && (t.text === ";" || t.text === "=")) {
        return -1;
      }
      if (t.depth === depth && t.kind === "name" && t.text === "from") {
        return at(j + 1)?.kind === "string" ? j + 1 : -1;
      }
    }
    return -1;
  };
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.depth !== 0 || t.kind !== "name") continue;
    if (t.text !== "import" && t.text !== "export") continue;
    if (isPunct(k - 1, ".")) continue; // a property named import/export
    const next = at(k + 1);
    if (next === undefined) break;
    if (t.text === "import") {
      if (isPunct(k + 1, "(") || isPunct(k + 1, ".")) continue; // import() / import.meta
      if (next.kind === "string") {
        found.push({ specifier: next.text, typeOnly: false, line: t.line });
        continue;
      }
      const after = at(k + 2);
      const typeOnly = isName(k + 1, "type") && after !== undefined &&
        !(after.kind === "punct" && (after.text === "," || after.text === "=")) &&
        !(after.kind === "name" && after.text === "from");
      const s = findFrom(k + 1, 0);
      if (s >= 0) found.push({ specifier: tokens[s].text, typeOnly, line: t.line });
    } else {
      let j = k + 1;
      let typeOnly = false;
      if (isName(j, "type") && (isPunct(j + 1, "{") || isPunct(j + 1, "*"))) {
        typeOnly = true;
        j++;
      }
      if (!isPunct(j, "{") && !isPunct(j, "*")) continue; // export const/function/default/...
      if (isPunct(j, "{")) {
        // Skip to the matching "}": only `export { ... } from "x"` re-exports.
        while (j < tokens.length && !(tokens[j].depth === 0 && isPunct(j, "}"))) j++;
        if (!isName(j + 1, "from")) continue;
      }
      const s = findFrom(j, 0);
      if (s >= 0) found.push({ specifier: tokens[s].text, typeOnly, line: t.line });
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Resolution

/** Normalize a `/`-separated relative path (`a/./b/../c` -> `a/c`); may start with `../`. */
function normalize(path: string): string {
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === ".." && out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else out.push(part);
  }
  return out.join("/");
}

function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "" : path.slice(0, slash);
}

/**
 * Resolve an import of module `from` (repository-relative) to a repository path or an external
 * module, following deno.json's import map.
 *
 * @param from The importing module, e.g. `lib/daemon.ts`.
 * @param specifier As written, e.g. `../control/types.ts`.
 * @param importMap deno.json's `imports`; a target starting with `./` or `../` is local (relative
 *   to the repository root).
 * @returns The target and whether it is external.
 *
 * @example Usage
 * ```ts
 * import { resolveImport } from "./check_layers.ts";
 * console.log(resolveImport("dataplane/ffi/sockaddr.ts", "../../control/types.ts"));
 * // { target: "control/types.ts", external: false }
 * console.log(resolveImport("lib/config.ts", "smol-toml", { "smol-toml": "npm:smol-toml@1" }));
 * // { target: "npm:smol-toml@1", external: true }
 * ```
 */
export function resolveImport(
  from: string,
  specifier: string,
  importMap: ImportMap = {},
): { target: string; external: boolean } {
  if (specifier.startsWith("./") || specifier.startsWith("../")) {
    return { target: normalize(`${dirname(from)}/${specifier}`), external: false };
  }
  let mapped: string | undefined = importMap[specifier];
  if (mapped === undefined) {
    for (const [key, value] of Object.entries(importMap)) {
      if (key.endsWith("/") && specifier.startsWith(key)) {
        mapped = value + specifier.slice(key.length);
        break;
      }
    }
  }
  if (mapped !== undefined) {
    if (mapped.startsWith("./") || mapped.startsWith("../")) {
      return { target: normalize(mapped), external: false };
    }
    return { target: mapped, external: true };
  }
  return { target: specifier, external: true };
}

/**
 * Build a module graph from source texts (what {@linkcode readGraph} does with the files).
 *
 * @param sources Repository-relative path -> source text.
 * @param importMap deno.json's `imports`.
 * @returns The graph.
 *
 * @example Usage
 * ```ts
 * import { checkGraph, graphFromSources } from "./check_layers.ts";
 * const graph = graphFromSources({ "control/a.ts": 'import "../lib/x.ts";\n' });
 * console.log(checkGraph(graph)[0].imports); // "lib/x.ts"
 * ```
 */
export function graphFromSources(
  sources: Readonly<Record<string, string>>,
  importMap: ImportMap = {},
): Map<string, ImportEdge[]> {
  const graph = new Map<string, ImportEdge[]>();
  for (const [path, text] of Object.entries(sources)) {
    graph.set(
      path,
      parseImports(text).map((d) => ({ ...d, ...resolveImport(path, d.specifier, importMap) })),
    );
  }
  return graph;
}

// ---------------------------------------------------------------------------------------------
// Rules

/** Why an import breaks the layer directions, or undefined when it is allowed. */
function layerViolation(from: string, edge: ImportEdge): string | undefined {
  const source = layerOf(from);
  if (edge.external) {
    if (source === "control" && !CONTROL_MAY_IMPORT_EXTERNAL.includes(edge.target)) {
      return `control/ is pure protocol and imports nothing outside control/ ` +
        `(of external modules only ${CONTROL_MAY_IMPORT_EXTERNAL.join(", ")})`;
    }
    return undefined;
  }
  const target = layerOf(edge.target);
  const isModule = MODULE_EXTENSIONS.test(edge.target);
  if (target === "tests") return `${layerName(source)} must not import tests/`;
  if (edge.target.startsWith("../")) return "imports a file outside the repository";
  switch (source) {
    case "main":
    case "lib":
      if (target === "main") return "lib/ must not import main.ts (main.ts -> lib/, not back)";
      if (target === "other" && isModule) {
        return `${layerName(source)} may import only lib/, control/ and dataplane/ modules`;
      }
      return undefined;
    case "control":
      if (target === "control") return undefined;
      return "control/ is pure protocol and imports nothing outside control/";
    case "dataplane":
      if (target === "dataplane") return undefined;
      if (target === "control") {
        if (DATAPLANE_MAY_IMPORT_FROM_CONTROL.includes(edge.target)) return undefined;
        return `dataplane/ may import from control/ only the shared vocabulary ` +
          `(${DATAPLANE_MAY_IMPORT_FROM_CONTROL.join(", ")})`;
      }
      if (target === "lib") return "dataplane/ must not import lib/ (lib/ -> dataplane/, not back)";
      if (target === "main") return "dataplane/ must not import main.ts";
      if (isModule) return "dataplane/ may import only dataplane/ and control/'s vocabulary";
      return undefined;
    default:
      return undefined;
  }
}

function layerName(layer: Layer): string {
  return layer === "main"
    ? "main.ts"
    : layer === "other"
    ? "a file outside the layers"
    : `${layer}/`;
}

/** Strongly connected components of the graph's local edges between checked modules. */
function stronglyConnected(adj: ReadonlyMap<string, readonly string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let counter = 0;
  // Iterative Tarjan: frames of (node, next successor position).
  for (const root of [...adj.keys()].sort()) {
    if (index.has(root)) continue;
    const frames: { node: string; next: number }[] = [{ node: root, next: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1];
      const succ = adj.get(frame.node) ?? [];
      if (frame.next < succ.length) {
        const w = succ[frame.next++];
        if (!index.has(w)) {
          index.set(w, counter);
          low.set(w, counter++);
          stack.push(w);
          onStack.add(w);
          frames.push({ node: w, next: 0 });
        } else if (onStack.has(w)) {
          low.set(frame.node, Math.min(low.get(frame.node) ?? 0, index.get(w) ?? 0));
        }
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent !== undefined) {
        low.set(parent.node, Math.min(low.get(parent.node) ?? 0, low.get(frame.node) ?? 0));
      }
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let w: string | undefined;
        do {
          w = stack.pop();
          if (w === undefined) break;
          onStack.delete(w);
          component.push(w);
        } while (w !== frame.node);
        components.push(component.sort());
      }
    }
  }
  return components;
}

/** Shortest path from `start` to `goal` inside `within` (both included), or undefined. */
function shortestPath(
  adj: ReadonlyMap<string, readonly string[]>,
  start: string,
  goal: string,
  within: ReadonlySet<string>,
): string[] | undefined {
  const previous = new Map<string, string | null>([[start, null]]);
  const queue = [start];
  for (let q = 0; q < queue.length; q++) {
    const node = queue[q];
    if (node === goal) {
      const path: string[] = [];
      for (let p: string | null | undefined = node; p; p = previous.get(p)) path.unshift(p);
      return path;
    }
    for (const next of adj.get(node) ?? []) {
      if (!within.has(next) || previous.has(next)) continue;
      previous.set(next, node);
      queue.push(next);
    }
  }
  return undefined;
}

/**
 * Check a module graph: every import against the layer rules, and every group of modules that
 * import each other in a cycle (a strongly connected component), reported once with its
 * shortest cycle, blamed on that cycle's first import.
 *
 * @param graph Module -> its imports; only these modules' imports are checked, and cycles are
 *   looked for among them.
 * @returns The violations, sorted by file, then imported module.
 *
 * @example Usage
 * ```ts
 * import { checkGraph, formatViolation, graphFromSources } from "./check_layers.ts";
 * const graph = graphFromSources({
 *   "control/a.ts": 'import { b } from "./b.ts";\nexport const a = b;\n',
 *   "control/b.ts": 'import type { A } from "./a.ts";\nexport const b = 1;\n',
 * });
 * for (const v of checkGraph(graph)) console.log(formatViolation(v));
 * // control/a.ts: imports control/b.ts: import cycle: control/a.ts -> control/b.ts -> control/a.ts
 * ```
 */
export function checkGraph(graph: ModuleGraph): Violation[] {
  const violations: Violation[] = [];
  const seen = new Set<string>();
  const add = (v: Violation): void => {
    const key = formatViolation(v);
    if (seen.has(key)) return;
    seen.add(key);
    violations.push(v);
  };
  const adj = new Map<string, string[]>();
  for (const [file, edges] of graph) {
    const targets: string[] = [];
    for (const edge of edges) {
      const reason = layerViolation(file, edge);
      if (reason !== undefined) add({ file, imports: describe(edge), reason, line: edge.line });
      if (!edge.external && graph.has(edge.target) && !targets.includes(edge.target)) {
        targets.push(edge.target);
      }
    }
    adj.set(file, targets.sort());
  }
  const edgesOf = (file: string, target: string): ImportEdge[] =>
    (graph.get(file) ?? []).filter((e) => !e.external && e.target === target);
  const onlyTypes = (edges: ImportEdge[]): boolean =>
    edges.length > 0 && edges.every((e) => e.typeOnly);
  for (const component of stronglyConnected(adj)) {
    const members = new Set(component);
    // The shortest cycle; among those, one entered by a value import (it matters at run time).
    let shortest: string[] | undefined;
    let shortestTypeOnly = true;
    for (const file of component) {
      for (const next of adj.get(file) ?? []) {
        if (!members.has(next)) continue;
        const back = next === file ? [file] : shortestPath(adj, next, file, members);
        if (back === undefined) continue;
        const cycle = [file, ...back];
        const typeOnly = onlyTypes(edgesOf(file, next));
        if (
          shortest === undefined || cycle.length < shortest.length ||
          (cycle.length === shortest.length && shortestTypeOnly && !typeOnly)
        ) {
          shortest = cycle;
          shortestTypeOnly = typeOnly;
        }
      }
    }
    if (shortest === undefined) continue; // a single module that does not import itself
    const [file, target] = shortest;
    const edges = edgesOf(file, target);
    const typeOnly = onlyTypes(edges);
    const others = component.length - (shortest.length - 1);
    add({
      file,
      imports: typeOnly ? `${target} (type-only)` : target,
      reason: `import cycle: ${shortest.join(" -> ")}` +
        (others > 0
          ? ` (one of the cycles among ${component.length} modules: ${component.join(", ")})`
          : ""),
      line: edges[0]?.line,
    });
  }
  return violations.sort((a, b) =>
    a.file < b.file
      ? -1
      : a.file > b.file
      ? 1
      : a.imports < b.imports
      ? -1
      : a.imports > b.imports
      ? 1
      : 0
  );
}

function describe(edge: ImportEdge): string {
  return edge.typeOnly ? `${edge.target} (type-only)` : edge.target;
}

/**
 * One violation as a report line: `FILE: imports TARGET: REASON`.
 *
 * @param v The violation.
 * @returns The line.
 *
 * @example Usage
 * ```ts
 * import { formatViolation } from "./check_layers.ts";
 * console.log(formatViolation({ file: "dataplane/x.ts", imports: "lib/y.ts", reason: "no" }));
 * // "dataplane/x.ts: imports lib/y.ts: no"
 * ```
 */
export function formatViolation(v: Violation): string {
  return `${v.file}: imports ${v.imports}: ${v.reason}`;
}

// ---------------------------------------------------------------------------------------------
// Files

async function collectModules(root: string, rel: string, into: string[]): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(`${root}/${rel}`);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    throw e;
  }
  if (info.isFile) {
    if (MODULE_EXTENSIONS.test(rel)) into.push(rel);
    return;
  }
  if (!info.isDirectory) return;
  for await (const entry of Deno.readDir(`${root}/${rel}`)) {
    await collectModules(root, `${rel}/${entry.name}`, into);
  }
}

/**
 * Read the checked modules ({@linkcode CHECKED_ROOTS}) of a repository and its deno.json import
 * map, and build the graph.
 *
 * @param root The repository root (absolute or relative to the working directory).
 * @returns The graph.
 * @throws {Error} "Cannot read ..." when a file cannot be read.
 *
 * @example Usage
 * ```ts ignore
 * // Reads the repository's files.
 * import { readGraph } from "./check_layers.ts";
 * console.log((await readGraph(".")).size);
 * ```
 */
export async function readGraph(root: string): Promise<Map<string, ImportEdge[]>> {
  const files: string[] = [];
  for (const r of CHECKED_ROOTS) await collectModules(root, r, files);
  let importMap: ImportMap = {};
  try {
    const config = JSON.parse(await Deno.readTextFile(`${root}/deno.json`));
    if (config && typeof config.imports === "object" && config.imports !== null) {
      importMap = config.imports;
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) {
      throw new Error(`Cannot read ${root}/deno.json: ${e instanceof Error ? e.message : e}`);
    }
  }
  const sources: Record<string, string> = {};
  for (const f of files.sort()) {
    try {
      sources[f] = await Deno.readTextFile(`${root}/${f}`);
    } catch (e) {
      throw new Error(`Cannot read ${root}/${f}: ${e instanceof Error ? e.message : e}`);
    }
  }
  return graphFromSources(sources, importMap);
}

async function main(args: readonly string[]): Promise<number> {
  const root = args[0] ?? new URL("../", import.meta.url).pathname.replace(/\/$/, "");
  const graph = await readGraph(root);
  const violations = checkGraph(graph);
  for (const v of violations) console.error(formatViolation(v));
  const imports = [...graph.values()].reduce((sum, edges) => sum + edges.length, 0);
  if (violations.length > 0) {
    console.error(
      `check_layers: ${violations.length} violation${violations.length === 1 ? "" : "s"} ` +
        `in ${graph.size} modules (${imports} imports)`,
    );
    return 1;
  }
  console.log(`check_layers: ${graph.size} modules, ${imports} imports, layers and no cycles ok`);
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    Deno.exit(2);
  }
}
