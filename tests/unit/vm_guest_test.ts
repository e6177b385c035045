import assert from "node:assert/strict";
import { initScript, jobScript, READY_MARKER, shQuote, stage2Script } from "../vm/guest.ts";

async function sh(script: string): Promise<{ code: number; stdout: string }> {
  const out = await new Deno.Command("/bin/sh", {
    args: ["-c", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: new TextDecoder().decode(out.stdout) };
}

Deno.test("shQuote: the shell reads back exactly the original string", async () => {
  const tricky = `it's "quoted" $HOME \`x\` \\ \n end`;
  const r = await sh(`printf %s ${shQuote(tricky)}`);
  assert.equal(r.stdout, tricky);
});

Deno.test("jobScript: runs argv in cwd with exactly the given environment", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = jobScript({
      command: ["/bin/sh", "-c", 'pwd; echo "$A"; echo "${HOME-unset}"; exit 7'],
      cwd: dir,
      env: { A: "x y'z", PATH: "/usr/bin:/bin" },
    });
    const r = await sh(script);
    assert.equal(r.code, 7);
    assert.equal(r.stdout, `${await Deno.realPath(dir)}\nx y'z\nunset\n`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("jobScript: a string command runs through /bin/sh -c", async () => {
  const script = jobScript({ command: "echo a && echo b", cwd: "/", env: { PATH: "/bin" } });
  const r = await sh(script);
  assert.equal(r.stdout, "a\nb\n");
});

Deno.test("jobScript: a missing working directory exits 125", async () => {
  const script = jobScript({ command: ["true"], cwd: "/nonexistent/dir", env: {} });
  assert.equal((await sh(`${script} 2>/dev/null`)).code, 125);
});

Deno.test("jobScript: rejects relative cwd, empty command and bad env names", () => {
  assert.throws(() => jobScript({ command: ["x"], cwd: "rel", env: {} }), /not absolute/);
  assert.throws(() => jobScript({ command: [], cwd: "/", env: {} }), /command is empty/);
  assert.throws(() => jobScript({ command: " ", cwd: "/", env: {} }), /command is empty/);
  assert.throws(
    () => jobScript({ command: ["x"], cwd: "/", env: { "A-B": "1" } }),
    /not a valid environment name/,
  );
});

Deno.test("init scripts: parse as shell and print the ready marker in octal", async () => {
  for (const text of [initScript(), stage2Script()]) {
    const r = await new Deno.Command("/bin/sh", {
      args: ["-n"],
      stdin: "piped",
      stderr: "piped",
    }).spawn();
    const w = r.stdin.getWriter();
    await w.write(new TextEncoder().encode(text));
    await w.close();
    const out = await r.output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  }
  const printf = /printf '([^']*)'/.exec(stage2Script());
  assert.ok(printf);
  const r = await sh(`printf '${printf[1]}'`);
  assert.equal(r.stdout, READY_MARKER);
});
