/**
 * Builds the VM's initramfs: a gzip'd newc cpio with busybox-static (and its applet symlinks),
 * the kernel modules the tests need (resolved with their dependencies from `modules.dep`), and
 * the init scripts from `guest.ts`.
 *
 * The archive is cached under `<repo>/.vm/` with a name derived from a hash of everything that
 * goes into it (kernel release and image, busybox binary, module files, scripts), so it is
 * rebuilt exactly when one of those changes.
 *
 * @module
 */

import { type CpioEntry, gzip, writeCpio } from "./cpio.ts";
import { initScript, stage2Script } from "./guest.ts";
import {
  findKernel,
  type KernelInfo,
  type ModuleRef,
  parseModulesBuiltin,
  parseModulesDep,
  readModule,
  resolveModules,
} from "./modules.ts";

/**
 * Kernel modules loaded at boot (dependencies such as `udp_tunnel`, `ip6_udp_tunnel`, `slhc`,
 * `9pnet`, `netfs`, `virtio_ring` are added from `modules.dep`).
 *
 * @example Usage
 * ```ts
 * import { VM_MODULES } from "./initramfs.ts";
 * console.log(VM_MODULES.includes("l2tp_ppp")); // true
 * ```
 */
export const VM_MODULES: readonly string[] = [
  "virtio_pci",
  "9pnet_virtio",
  "9p",
  "overlay",
  "veth",
  "bridge",
  "ppp_generic",
  "pppox",
  "pppoe",
  "ppp_deflate",
  "bsd_comp",
  "l2tp_core",
  "l2tp_netlink",
  "l2tp_eth",
  "l2tp_ip",
  "l2tp_ip6",
  "l2tp_ppp",
];

/** Bump when the archive layout changes in a way the hashed inputs do not show. */
const FORMAT_VERSION = "1";

/**
 * The repository's `.vm/` directory (gitignored): caches, logs, per-run job directories.
 *
 * @example Usage
 * ```ts
 * import { VM_DIR } from "./initramfs.ts";
 * console.log(`${VM_DIR}/console.log`);
 * ```
 */
export const VM_DIR: string = new URL("../../.vm/", import.meta.url).pathname.replace(/\/$/, "");

/** Candidate locations of the busybox-static binary. */
const BUSYBOX_PATHS = ["/bin/busybox", "/usr/bin/busybox", "/usr/lib/busybox/busybox-static"];

/**
 * A built (or cached) initramfs.
 *
 * @example Usage
 * ```ts ignore
 * import { ensureInitramfs, type Initramfs } from "./initramfs.ts";
 * const img: Initramfs = await ensureInitramfs();
 * console.log(img.path, img.cached);
 * ```
 */
export interface Initramfs {
  /** Absolute path of the `.cpio.gz`. */
  path: string;
  /** The kernel it belongs to. */
  kernel: KernelInfo;
  /** Modules it loads, in load order. */
  modules: ModuleRef[];
  /** True when an existing archive was reused. */
  cached: boolean;
}

/**
 * Options of {@linkcode ensureInitramfs}.
 *
 * @example Usage
 * ```ts
 * import type { InitramfsOptions } from "./initramfs.ts";
 * const opts: InitramfsOptions = { cacheDir: "/tmp/vm-cache", force: true };
 * console.log(opts);
 * ```
 */
export interface InitramfsOptions {
  /** Cache directory (default {@linkcode VM_DIR}). */
  cacheDir?: string;
  /** Path of a statically linked busybox (default: the first found of the usual places). */
  busybox?: string;
  /** Kernel to build for (default: the newest installed, see `findKernel`). */
  kernel?: KernelInfo;
  /** Rebuild even when a cached archive matches. */
  force?: boolean;
}

/**
 * True when an ELF file has no program interpreter (`PT_INTERP`), i.e. it is statically linked.
 *
 * @param elf The file contents.
 * @returns Whether it can run without a dynamic loader.
 * @throws {TypeError} When the bytes are not a 64-bit little-endian ELF file.
 *
 * @example Usage
 * ```ts ignore
 * import { isStaticElf } from "./initramfs.ts";
 * console.log(isStaticElf(await Deno.readFile("/bin/busybox")));
 * ```
 */
export function isStaticElf(elf: Uint8Array): boolean {
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  if (
    elf.length < 64 || view.getUint32(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1
  ) {
    throw new TypeError("Cannot inspect binary: not a 64-bit little-endian ELF file");
  }
  const phoff = Number(view.getBigUint64(0x20, true));
  const phentsize = view.getUint16(0x36, true);
  const phnum = view.getUint16(0x38, true);
  for (let i = 0; i < phnum; i++) {
    const off = phoff + i * phentsize;
    if (off + 4 > elf.length) break;
    if (view.getUint32(off, true) === 3) return false; // PT_INTERP
  }
  return true;
}

async function findBusybox(explicit: string | undefined): Promise<string> {
  const candidates = explicit === undefined ? BUSYBOX_PATHS : [explicit];
  for (const path of candidates) {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch {
      continue;
    }
    if (isStaticElf(bytes)) return path;
  }
  throw new Error(
    `Cannot boot VM: no statically linked busybox found (tried ${candidates.join(", ")}); ` +
      "install the Debian package busybox-static",
  );
}

async function busyboxApplets(busybox: string): Promise<string[]> {
  const out = await new Deno.Command(busybox, { args: ["--list"], stdout: "piped" }).output();
  if (!out.success) throw new Error(`Cannot list busybox applets: ${busybox} --list failed`);
  return new TextDecoder().decode(out.stdout).split("\n").map((s) => s.trim()).filter((s) =>
    /^[A-Za-z0-9_.[-]+$/.test(s) && s !== "busybox"
  );
}

async function sha256Hex(parts: readonly (string | Uint8Array)[]): Promise<string> {
  const enc = new TextEncoder();
  const chunks = parts.map((p) => (typeof p === "string" ? enc.encode(p + "\0") : p));
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.length;
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function fileFingerprint(path: string): Promise<string> {
  const st = await Deno.stat(path);
  return `${path}:${st.size}:${st.mtime?.getTime() ?? 0}`;
}

/**
 * Return the initramfs for the kernel, building and caching it when needed.
 *
 * @param opts Where to cache, which busybox and kernel, whether to force a rebuild.
 * @returns The archive path and what it contains.
 * @throws {Error} "Cannot boot VM: ..." naming the Debian package when the kernel, its modules
 *   or busybox-static are missing.
 *
 * @example Usage
 * ```ts ignore
 * import { ensureInitramfs } from "./initramfs.ts";
 * const { path, kernel } = await ensureInitramfs();
 * console.log(path, kernel.version);
 * ```
 */
export async function ensureInitramfs(opts: InitramfsOptions = {}): Promise<Initramfs> {
  const cacheDir = opts.cacheDir ?? VM_DIR;
  const kernel = opts.kernel ?? await findKernel();
  const busybox = await findBusybox(opts.busybox);
  const dep = parseModulesDep(await Deno.readTextFile(`${kernel.modulesDir}/modules.dep`));
  let builtinText = "";
  try {
    builtinText = await Deno.readTextFile(`${kernel.modulesDir}/modules.builtin`);
  } catch {
    // Optional file: without it every module must be loadable.
  }
  let modules: ModuleRef[];
  try {
    modules = resolveModules(VM_MODULES, dep, parseModulesBuiltin(builtinText));
  } catch (e) {
    throw new Error(
      `Cannot boot VM: kernel ${kernel.version} lacks a needed module ` +
        `(${e instanceof Error ? e.message : String(e)})`,
    );
  }
  const init = initScript();
  const stage2 = stage2Script();
  const fingerprints = [
    FORMAT_VERSION,
    kernel.version,
    await fileFingerprint(kernel.image),
    await fileFingerprint(busybox),
    init,
    stage2,
  ];
  for (const m of modules) {
    fingerprints.push(await fileFingerprint(`${kernel.modulesDir}/${m.path}`));
  }
  const key = (await sha256Hex(fingerprints)).slice(0, 16);
  const path = `${cacheDir}/initramfs-${kernel.version}-${key}.cpio.gz`;
  const result = { path, kernel, modules };
  if (!opts.force) {
    try {
      await Deno.stat(path);
      return { ...result, cached: true };
    } catch {
      // Not cached yet.
    }
  }

  const enc = new TextEncoder();
  const entries: CpioEntry[] = [];
  for (const d of ["bin", "dev", "etc", "etc/l2tpvm", "lib", "lib/modules", "mnt", "proc"]) {
    entries.push({ kind: "dir", path: d });
  }
  entries.push(
    { kind: "dir", path: "sys" },
    { kind: "dir", path: "newroot" },
    { kind: "dir", path: "tmp", mode: 0o1777 },
    { kind: "chardev", path: "dev/console", major: 5, minor: 1 },
    { kind: "chardev", path: "dev/null", major: 1, minor: 3, mode: 0o666 },
    { kind: "file", path: "bin/busybox", data: await Deno.readFile(busybox), mode: 0o755 },
  );
  for (const applet of await busyboxApplets(busybox)) {
    entries.push({ kind: "symlink", path: `bin/${applet}`, target: "busybox" });
  }
  const list: string[] = [];
  for (const m of modules) {
    const file = `${m.name}.ko`;
    entries.push({
      kind: "file",
      path: `lib/modules/${file}`,
      data: await readModule(`${kernel.modulesDir}/${m.path}`),
    });
    list.push(`${m.name} ${file}\n`);
  }
  entries.push(
    { kind: "file", path: "etc/l2tpvm/modules", data: enc.encode(list.join("")) },
    { kind: "file", path: "etc/l2tpvm/stage2", data: enc.encode(stage2), mode: 0o755 },
    { kind: "file", path: "init", data: enc.encode(init), mode: 0o755 },
  );
  const archive = await gzip(writeCpio(entries));

  await Deno.mkdir(cacheDir, { recursive: true });
  const tmp = `${path}.${Deno.pid}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  await Deno.writeFile(tmp, archive);
  await Deno.rename(tmp, path);
  // Drop archives of older inputs (best effort: another run may be using or removing one).
  for await (const e of Deno.readDir(cacheDir)) {
    if (
      e.isFile && e.name.startsWith("initramfs-") && e.name.endsWith(".cpio.gz") &&
      `${cacheDir}/${e.name}` !== path
    ) {
      await Deno.remove(`${cacheDir}/${e.name}`).catch(() => {});
    }
  }
  return { ...result, cached: false };
}
