/**
 * A writer for the "newc" cpio archive format (the one the Linux kernel unpacks as an
 * initramfs), plus gzip compression. Pure: no file system access.
 *
 * Format: each entry is a 110-byte ASCII header (`070701` then 13 eight-digit hex fields), the
 * NUL-terminated name padded to a multiple of 4 bytes, then the data padded to a multiple of 4.
 * The archive ends with an entry named `TRAILER!!!`.
 *
 * @module
 */

/** File type bits of `st_mode`. */
const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

/**
 * One archive member. Paths are relative (no leading `/`), parents listed before children.
 *
 * @example Usage
 * ```ts
 * import type { CpioEntry } from "./cpio.ts";
 * const e: CpioEntry = { kind: "symlink", path: "bin/sh", target: "busybox" };
 * console.log(e);
 * ```
 */
export type CpioEntry =
  | { kind: "dir"; path: string; mode?: number }
  | { kind: "file"; path: string; data: Uint8Array; mode?: number }
  | { kind: "symlink"; path: string; target: string }
  | { kind: "chardev"; path: string; major: number; minor: number; mode?: number };

const encoder = new TextEncoder();

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`Cannot write cpio header field: ${value} is out of range`);
  }
  return value.toString(16).padStart(8, "0");
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

/**
 * Serialize entries into an uncompressed newc cpio archive (with the trailer).
 *
 * @param entries The members, in the order they should be unpacked.
 * @returns The archive bytes.
 *
 * @example Usage
 * ```ts
 * import { writeCpio } from "./cpio.ts";
 * const archive = writeCpio([
 *   { kind: "dir", path: "bin" },
 *   { kind: "file", path: "init", data: new TextEncoder().encode("#!/bin/sh\n"), mode: 0o755 },
 * ]);
 * console.log(new TextDecoder().decode(archive.subarray(0, 6))); // "070701"
 * ```
 */
export function writeCpio(entries: readonly CpioEntry[]): Uint8Array<ArrayBuffer> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const push = (bytes: Uint8Array): void => {
    chunks.push(bytes);
    total += bytes.length;
  };
  const pushPadding = (n: number): void => {
    if (n > 0) push(new Uint8Array(n));
  };
  let ino = 1;
  const member = (
    path: string,
    mode: number,
    data: Uint8Array,
    rdev: [number, number] = [0, 0],
    nlink = 1,
  ): void => {
    if (path.startsWith("/")) {
      throw new TypeError(`Cannot add cpio entry: path "${path}" must be relative`);
    }
    const name = encoder.encode(path + "\0");
    const header = "070701" +
      hex8(path === "TRAILER!!!" ? 0 : ino++) +
      hex8(mode) +
      hex8(0) + // uid
      hex8(0) + // gid
      hex8(nlink) +
      hex8(0) + // mtime: fixed, so identical inputs give identical archives
      hex8(data.length) +
      hex8(0) + // devmajor
      hex8(0) + // devminor
      hex8(rdev[0]) +
      hex8(rdev[1]) +
      hex8(name.length) +
      hex8(0); // check
    push(encoder.encode(header));
    push(name);
    pushPadding(pad4(110 + name.length));
    push(data);
    pushPadding(pad4(data.length));
  };
  for (const e of entries) {
    switch (e.kind) {
      case "dir":
        member(e.path, S_IFDIR | (e.mode ?? 0o755), new Uint8Array(0), [0, 0], 2);
        break;
      case "file":
        member(e.path, S_IFREG | (e.mode ?? 0o644), e.data);
        break;
      case "symlink":
        member(e.path, S_IFLNK | 0o777, encoder.encode(e.target));
        break;
      case "chardev":
        member(e.path, S_IFCHR | (e.mode ?? 0o600), new Uint8Array(0), [e.major, e.minor]);
        break;
    }
  }
  member("TRAILER!!!", 0, new Uint8Array(0));
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

/**
 * Gzip bytes (the kernel accepts a gzip'd initramfs everywhere).
 *
 * @param data The bytes to compress.
 * @returns The gzip stream.
 *
 * @example Usage
 * ```ts
 * import { gzip } from "./cpio.ts";
 * const gz = await gzip(new Uint8Array(1000));
 * console.log(gz[0] === 0x1f && gz[1] === 0x8b); // true
 * ```
 */
export async function gzip(data: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream().pipeThrough(
    new CompressionStream("gzip"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}
