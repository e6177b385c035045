/**
 * tools/check_layers.ts: import parsing (comments, JSDoc examples, strings, dynamic imports),
 * resolution, the layer rules and cycle detection, on fake module graphs.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  checkGraph,
  formatViolation,
  graphFromSources,
  type ImportEdge,
  layerOf,
  parseImports,
  resolveImport,
  type Violation,
} from "../../tools/check_layers.ts";

function lines(violations: Violation[]): string[] {
  return violations.map(formatViolation);
}

Deno.test("parseImports: every static form, in order, with type-only marked", () => {
  const src = [
    `import a from "./a.ts";`,
    `import * as b from "./b.ts";`,
    `import {`,
    `  c,`,
    `  type C,`,
    `} from "./c.ts";`,
    `import type { D } from "./d.ts";`,
    `import type * as E from "./e.ts";`,
    `import "./f.ts";`,
    `import g, { h } from "./g.ts";`,
    `import json from "./h.json" with { type: "json" };`,
    `export { i } from "./i.ts";`,
    `export * from "./j.ts";`,
    `export * as k from "./k.ts";`,
    `export type { L } from "./l.ts";`,
    `import type from "./m.ts";`,
  ].join("\n");
  assert.deepEqual(parseImports(src), [
    { specifier: "./a.ts", typeOnly: false, line: 1 },
    { specifier: "./b.ts", typeOnly: false, line: 2 },
    { specifier: "./c.ts", typeOnly: false, line: 3 },
    { specifier: "./d.ts", typeOnly: true, line: 7 },
    { specifier: "./e.ts", typeOnly: true, line: 8 },
    { specifier: "./f.ts", typeOnly: false, line: 9 },
    { specifier: "./g.ts", typeOnly: false, line: 10 },
    { specifier: "./h.json", typeOnly: false, line: 11 },
    { specifier: "./i.ts", typeOnly: false, line: 12 },
    { specifier: "./j.ts", typeOnly: false, line: 13 },
    { specifier: "./k.ts", typeOnly: false, line: 14 },
    { specifier: "./l.ts", typeOnly: true, line: 15 },
    { specifier: "./m.ts", typeOnly: false, line: 16 },
  ]);
});

Deno.test("parseImports: comments, JSDoc examples, strings, templates, regexes and import() are not imports", () => {
  const src = [
    "/**",
    " * @example Usage",
    " * ```ts",
    ' * import { x } from "../lib/doc_example.ts";',
    " * ```",
    " */",
    '// import "./line_comment.ts";',
    'const s = "import \\"./string.ts\\"";',
    "const t = `",
    'import "./template.ts";',
    '${"}"} export * from "./template2.ts";`;',
    'const re = /import "x" from "y"/g;',
    "const ratio = 1 / 2; const other = 3 / 4;",
    'const lazy = await import("./dynamic.ts");',
    "const url = import.meta.url;",
    "function f(): void {",
    '  const inner = "nested";',
    "}",
    "export const exported = { import: 1 };",
    "export { s, t, re, ratio, other, lazy, url, f };",
    'import { real } from "./real.ts";',
  ].join("\n");
  assert.deepEqual(parseImports(src), [{ specifier: "./real.ts", typeOnly: false, line: 21 }]);
});

Deno.test("resolveImport: relative paths, the import map and external modules", () => {
  assert.deepEqual(resolveImport("lib/daemon.ts", "../control/./x/../types.ts"), {
    target: "control/types.ts",
    external: false,
  });
  assert.deepEqual(resolveImport("main.ts", "./lib/cli.ts"), {
    target: "lib/cli.ts",
    external: false,
  });
  assert.deepEqual(resolveImport("lib/a.ts", "../../outside.ts"), {
    target: "../outside.ts",
    external: false,
  });
  const map = { "smol-toml": "npm:smol-toml@1.9.1", "@ctl/": "./control/" };
  assert.deepEqual(resolveImport("lib/config.ts", "smol-toml", map), {
    target: "npm:smol-toml@1.9.1",
    external: true,
  });
  assert.deepEqual(resolveImport("dataplane/x.ts", "@ctl/connection.ts", map), {
    target: "control/connection.ts",
    external: false,
  });
  assert.deepEqual(resolveImport("control/auth.ts", "node:crypto", map), {
    target: "node:crypto",
    external: true,
  });
  assert.equal(layerOf("main.ts"), "main");
  assert.equal(layerOf("dataplane/netlink/conn.ts"), "dataplane");
  assert.equal(layerOf("tools/check_layers.ts"), "other");
});

Deno.test("checkGraph: a layered graph without cycles passes", () => {
  const graph = graphFromSources({
    "main.ts": 'import { run } from "./lib/daemon.ts";\nimport "./dataplane/kernel.ts";\n',
    "lib/daemon.ts":
      'import { x } from "../control/connection.ts";\nimport "../dataplane/kernel.ts";\n' +
      'import denoJson from "../deno.json" with { type: "json" };\nimport "npm:smol-toml";\n',
    "control/connection.ts": 'import { t } from "./types.ts";\nimport "node:crypto";\n',
    "control/types.ts": "export type T = number;\n",
    "control/endpoint.ts": 'import type { T } from "./types.ts";\n',
    "dataplane/kernel.ts":
      'import type { T } from "../control/types.ts";\nimport { e } from "../control/endpoint.ts";\n' +
      'import { nl } from "./netlink/conn.ts";\n',
    "dataplane/netlink/conn.ts": 'import "node:fs";\n',
  });
  assert.deepEqual(lines(checkGraph(graph)), []);
});

Deno.test("checkGraph: a wrong-direction edge and a cycle are both reported", () => {
  const graph = graphFromSources({
    "lib/daemon.ts": 'import { a } from "../control/a.ts";\n',
    // Wrong direction: the OS layer reaching up into the library.
    "dataplane/kernel.ts": 'import type { Log } from "../lib/log.ts";\n',
    "lib/log.ts": "export interface Log {}\n",
    // A cycle of three modules, one of its edges type-only.
    "control/a.ts": 'import { b } from "./b.ts";\nexport const a = b;\n',
    "control/b.ts": 'import { c } from "./c.ts";\nexport const b = c;\n',
    "control/c.ts": 'import type { A } from "./a.ts";\nexport const c = 1;\n',
  });
  assert.deepEqual(lines(checkGraph(graph)), [
    "control/a.ts: imports control/b.ts: import cycle: " +
    "control/a.ts -> control/b.ts -> control/c.ts -> control/a.ts",
    "dataplane/kernel.ts: imports lib/log.ts (type-only): " +
    "dataplane/ must not import lib/ (lib/ -> dataplane/, not back)",
  ]);
});

Deno.test("checkGraph: a tangle is reported once, by its shortest cycle, naming every module", () => {
  const graph = graphFromSources({
    "control/a.ts": 'import "./b.ts";\nimport "./d.ts";\n',
    "control/b.ts": 'import "./c.ts";\n',
    "control/c.ts": 'import "./a.ts";\n',
    "control/d.ts": 'import type { A } from "./a.ts";\nexport type { A } from "./a.ts";\n',
    "control/e.ts": 'import "./a.ts";\n', // imports into the tangle, is not part of it
  });
  assert.deepEqual(lines(checkGraph(graph)), [
    "control/a.ts: imports control/d.ts: import cycle: control/a.ts -> control/d.ts -> " +
    "control/a.ts (one of the cycles among 4 modules: control/a.ts, control/b.ts, control/c.ts, " +
    "control/d.ts)",
  ]);
  const back = checkGraph(graphFromSources({
    "lib/x.ts": 'import type { Y } from "./y.ts";\nexport type X = Y;\n',
    "lib/y.ts": 'import type { X } from "./x.ts";\nexport type { X } from "./x.ts";\n',
  }));
  assert.deepEqual(lines(back), [
    "lib/x.ts: imports lib/y.ts (type-only): import cycle: lib/x.ts -> lib/y.ts -> lib/x.ts",
  ]);
});

Deno.test("checkGraph: every layer rule, and a module importing itself", () => {
  const graph = graphFromSources({
    "control/x.ts": [
      `import "../dataplane/socket.ts";`,
      `import "../lib/config.ts";`,
      `import "node:fs";`,
      `import "./x.ts";`,
    ].join("\n"),
    "dataplane/y.ts": [
      `import "../control/connection.ts";`,
      `import "../main.ts";`,
      `import "../tests/unit/helper.ts";`,
      `import "../tools/thing.ts";`,
    ].join("\n"),
    "lib/z.ts": `import "../main.ts";\nimport "../../elsewhere.ts";\n`,
  });
  const found = checkGraph(graph);
  assert.deepEqual(found.map((v) => [v.file, v.imports, v.line]), [
    ["control/x.ts", "control/x.ts", 4],
    ["control/x.ts", "dataplane/socket.ts", 1],
    ["control/x.ts", "lib/config.ts", 2],
    ["control/x.ts", "node:fs", 3],
    ["dataplane/y.ts", "control/connection.ts", 1],
    ["dataplane/y.ts", "main.ts", 2],
    ["dataplane/y.ts", "tests/unit/helper.ts", 3],
    ["dataplane/y.ts", "tools/thing.ts", 4],
    ["lib/z.ts", "../elsewhere.ts", 2],
    ["lib/z.ts", "main.ts", 1],
  ]);
  const reasons = new Map(found.map((v) => [`${v.file} ${v.imports}`, v.reason]));
  assert.equal(
    reasons.get("control/x.ts control/x.ts"),
    "import cycle: control/x.ts -> control/x.ts",
  );
  assert.match(reasons.get("control/x.ts node:fs") ?? "", /pure protocol.*only node:crypto/);
  assert.match(reasons.get("dataplane/y.ts control/connection.ts") ?? "", /shared vocabulary/);
  assert.match(reasons.get("dataplane/y.ts tests/unit/helper.ts") ?? "", /must not import tests/);
  assert.match(reasons.get("lib/z.ts main.ts") ?? "", /must not import main.ts/);
  assert.match(reasons.get("lib/z.ts ../elsewhere.ts") ?? "", /outside the repository/);
});

Deno.test("checkGraph: edges built by hand; imports of unchecked modules make no cycle", () => {
  const edge = (target: string): ImportEdge => ({
    specifier: `./${target}`,
    typeOnly: false,
    line: 1,
    target,
    external: false,
  });
  // lib/b.ts is not in the graph: lib/a.ts -> lib/b.ts -> lib/a.ts cannot be seen or reported.
  const graph = new Map([["lib/a.ts", [edge("lib/b.ts")]]]);
  assert.deepEqual(checkGraph(graph), []);
  const cyclic = new Map([
    ["lib/a.ts", [edge("lib/b.ts")]],
    ["lib/b.ts", [edge("lib/a.ts")]],
  ]);
  assert.deepEqual(lines(checkGraph(cyclic)), [
    "lib/a.ts: imports lib/b.ts: import cycle: lib/a.ts -> lib/b.ts -> lib/a.ts",
  ]);
});
