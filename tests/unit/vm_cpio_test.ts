import assert from "node:assert/strict";
import { gzip, writeCpio } from "../vm/cpio.ts";

interface Member {
  name: string;
  mode: number;
  nlink: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Uint8Array;
}

/** A minimal newc reader, independent of the writer, checking alignment as it goes. */
function readCpio(archive: Uint8Array): Member[] {
  const text = new TextDecoder();
  const out: Member[] = [];
  let off = 0;
  for (;;) {
    const header = text.decode(archive.subarray(off, off + 110));
    assert.equal(header.slice(0, 6), "070701", `magic at offset ${off}`);
    const field = (i: number): number => parseInt(header.slice(6 + i * 8, 14 + i * 8), 16);
    const nameSize = field(11);
    const fileSize = field(6);
    const name = text.decode(archive.subarray(off + 110, off + 110 + nameSize - 1));
    assert.equal(archive[off + 110 + nameSize - 1], 0, "name is NUL-terminated");
    let dataOff = off + 110 + nameSize;
    dataOff += (4 - (dataOff % 4)) % 4;
    if (name === "TRAILER!!!") {
      assert.equal(dataOff, archive.length, "nothing after the trailer");
      return out;
    }
    out.push({
      name,
      mode: field(1),
      nlink: field(4),
      rdevMajor: field(9),
      rdevMinor: field(10),
      data: archive.slice(dataOff, dataOff + fileSize),
    });
    off = dataOff + fileSize;
    off += (4 - (off % 4)) % 4;
  }
}

Deno.test("writeCpio: members round-trip through a newc reader with 4-byte alignment", () => {
  const enc = new TextEncoder();
  const archive = writeCpio([
    { kind: "dir", path: "bin" },
    { kind: "file", path: "bin/x", data: enc.encode("abcde"), mode: 0o755 },
    { kind: "symlink", path: "bin/sh", target: "busybox" },
    { kind: "chardev", path: "dev/console", major: 5, minor: 1 },
    { kind: "file", path: "empty", data: new Uint8Array(0) },
  ]);
  assert.equal(archive.length % 4, 0);
  const m = readCpio(archive);
  assert.deepEqual(m.map((x) => x.name), ["bin", "bin/x", "bin/sh", "dev/console", "empty"]);
  assert.equal(m[0].mode, 0o040755);
  assert.equal(m[0].nlink, 2);
  assert.equal(m[1].mode, 0o100755);
  assert.equal(new TextDecoder().decode(m[1].data), "abcde");
  assert.equal(m[2].mode, 0o120777);
  assert.equal(new TextDecoder().decode(m[2].data), "busybox");
  assert.equal(m[3].mode, 0o020600);
  assert.deepEqual([m[3].rdevMajor, m[3].rdevMinor], [5, 1]);
  assert.equal(m[4].data.length, 0);
});

Deno.test("writeCpio: absolute paths are rejected", () => {
  assert.throws(
    () => writeCpio([{ kind: "dir", path: "/bin" }]),
    (e: unknown) => e instanceof TypeError && /Cannot add cpio entry/.test(e.message),
  );
});

Deno.test("gzip: output is a gzip stream that decompresses to the input", async () => {
  const input = new TextEncoder().encode("hello ".repeat(1000));
  const gz = await gzip(input);
  assert.deepEqual([gz[0], gz[1]], [0x1f, 0x8b]);
  assert.ok(gz.length < input.length);
  const back = new Uint8Array(
    await new Response(new Blob([gz]).stream().pipeThrough(new DecompressionStream("gzip")))
      .arrayBuffer(),
  );
  assert.deepEqual(back, input);
});
