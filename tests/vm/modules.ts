/**
 * The host kernel the VM boots, and the kernel modules it needs: finding the newest installed
 * kernel, parsing `modules.dep`, ordering modules so dependencies load first, and reading module
 * files (plain, `.ko.gz`, `.ko.xz` or `.ko.zst`).
 *
 * @module
 */

/**
 * An installed kernel: image plus its module tree.
 *
 * @example Usage
 * ```ts
 * import type { KernelInfo } from "./modules.ts";
 * const k: KernelInfo = {
 *   version: "6.1.0-56-amd64",
 *   image: "/boot/vmlinuz-6.1.0-56-amd64",
 *   modulesDir: "/lib/modules/6.1.0-56-amd64",
 * };
 * console.log(k);
 * ```
 */
export interface KernelInfo {
  /** Release string, e.g. `6.1.0-56-amd64`. */
  version: string;
  /** Path of the bootable image (`/boot/vmlinuz-<version>`). */
  image: string;
  /** `/lib/modules/<version>`. */
  modulesDir: string;
}

/**
 * One module ready to load: its name and its path relative to the module tree.
 *
 * @example Usage
 * ```ts
 * import type { ModuleRef } from "./modules.ts";
 * const m: ModuleRef = { name: "l2tp_core", path: "kernel/net/l2tp/l2tp_core.ko" };
 * console.log(m);
 * ```
 */
export interface ModuleRef {
  /** Canonical name (`-` replaced by `_`), e.g. `l2tp_core`. */
  name: string;
  /** Path relative to `/lib/modules/<version>`, e.g. `kernel/net/l2tp/l2tp_core.ko`. */
  path: string;
}

/**
 * What `modules.dep` says about one module.
 *
 * @example Usage
 * ```ts
 * import type { ModuleDepEntry } from "./modules.ts";
 * const e: ModuleDepEntry = { path: "kernel/net/l2tp/l2tp_ip.ko", deps: ["l2tp_core"] };
 * console.log(e);
 * ```
 */
export interface ModuleDepEntry {
  /** Path relative to the module tree. */
  path: string;
  /** Names of every module it depends on (the file lists the transitive closure). */
  deps: string[];
}

/**
 * The canonical module name of a module file path (`kernel/net/l2tp/l2tp-x.ko.xz` → `l2tp_x`).
 *
 * @param path A path or file name ending in `.ko`, `.ko.gz`, `.ko.xz` or `.ko.zst`.
 * @returns The name with `-` turned into `_`.
 *
 * @example Usage
 * ```ts
 * import { moduleName } from "./modules.ts";
 * console.log(moduleName("kernel/net/9p/9pnet_virtio.ko.zst")); // "9pnet_virtio"
 * ```
 */
export function moduleName(path: string): string {
  const base = path.slice(path.lastIndexOf("/") + 1);
  return base.replace(/\.ko(\.(gz|xz|zst))?$/, "").replaceAll("-", "_");
}

/**
 * Parse the text of `modules.dep` (`path: dep-path dep-path ...` per line).
 *
 * @param text The file contents.
 * @returns Entries keyed by canonical module name.
 *
 * @example Usage
 * ```ts
 * import { parseModulesDep } from "./modules.ts";
 * const dep = parseModulesDep("kernel/a.ko: kernel/b.ko\nkernel/b.ko:\n");
 * console.log(dep.get("a")?.deps); // ["b"]
 * ```
 */
export function parseModulesDep(text: string): Map<string, ModuleDepEntry> {
  const out = new Map<string, ModuleDepEntry>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const path = line.slice(0, colon).trim();
    const deps = line.slice(colon + 1).trim().split(/\s+/).filter((d) => d !== "").map(
      moduleName,
    );
    out.set(moduleName(path), { path, deps });
  }
  return out;
}

/**
 * Parse `modules.builtin` (one path per line) into the set of built-in module names.
 *
 * @param text The file contents.
 * @returns Canonical names of modules compiled into the kernel.
 *
 * @example Usage
 * ```ts
 * import { parseModulesBuiltin } from "./modules.ts";
 * console.log(parseModulesBuiltin("kernel/fs/ext4/ext4.ko\n").has("ext4")); // true
 * ```
 */
export function parseModulesBuiltin(text: string): Set<string> {
  return new Set(
    text.split("\n").map((l) => l.trim()).filter((l) => l !== "").map(moduleName),
  );
}

/**
 * Order the wanted modules and all their dependencies so every module comes after the ones it
 * needs. Built-in modules are skipped; a module that is neither loadable nor built in is an error.
 *
 * @param wanted Module names (either `-` or `_` spelling).
 * @param dep Parsed `modules.dep`.
 * @param builtin Names of built-in modules.
 * @returns Modules to `insmod`, in order, each once.
 * @throws {Error} When a wanted module or a dependency is unknown.
 *
 * @example Usage
 * ```ts
 * import { parseModulesDep, resolveModules } from "./modules.ts";
 * const dep = parseModulesDep("k/a.ko: k/b.ko\nk/b.ko:\n");
 * console.log(resolveModules(["a"], dep, new Set()).map((m) => m.name)); // ["b", "a"]
 * ```
 */
export function resolveModules(
  wanted: readonly string[],
  dep: ReadonlyMap<string, ModuleDepEntry>,
  builtin: ReadonlySet<string>,
): ModuleRef[] {
  const order: ModuleRef[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (name: string, requiredBy: string | undefined): void => {
    if (done.has(name) || builtin.has(name)) return;
    const entry = dep.get(name);
    if (entry === undefined) {
      const why = requiredBy === undefined ? "" : ` (needed by ${requiredBy})`;
      throw new Error(
        `Cannot resolve kernel module ${name}${why}: not in modules.dep and not built in`,
      );
    }
    if (visiting.has(name)) {
      throw new Error(`Cannot resolve kernel module ${name}: dependency cycle`);
    }
    visiting.add(name);
    for (const d of entry.deps) visit(d, name);
    visiting.delete(name);
    done.add(name);
    order.push({ name, path: entry.path });
  };
  for (const w of wanted) visit(w.replaceAll("-", "_"), undefined);
  return order;
}

/**
 * Compare two kernel release strings numerically, part by part (`6.1.0-56` < `6.1.0-100`).
 *
 * @param a A release string.
 * @param b Another release string.
 * @returns Negative, zero or positive like `Array.prototype.sort` expects.
 *
 * @example Usage
 * ```ts
 * import { compareKernelVersions } from "./modules.ts";
 * console.log(compareKernelVersions("6.1.0-9-amd64", "6.1.0-10-amd64") < 0); // true
 * ```
 */
export function compareKernelVersions(a: string, b: string): number {
  const pa = a.split(/[^0-9]+/).filter((p) => p !== "").map(Number);
  const pb = b.split(/[^0-9]+/).filter((p) => p !== "").map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? -1) - (pb[i] ?? -1);
    if (d !== 0) return d;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Find the newest kernel that has both `/boot/vmlinuz-<v>` and `/lib/modules/<v>/modules.dep`.
 *
 * @param bootDir Where kernel images live (default `/boot`).
 * @param modulesRoot Where module trees live (default `/lib/modules`).
 * @returns The kernel to boot.
 * @throws {Error} Naming the Debian package to install when there is none.
 *
 * @example Usage
 * ```ts ignore
 * import { findKernel } from "./modules.ts";
 * console.log((await findKernel()).version); // e.g. "6.1.0-56-amd64"
 * ```
 */
export async function findKernel(
  bootDir = "/boot",
  modulesRoot = "/lib/modules",
): Promise<KernelInfo> {
  const versions: string[] = [];
  try {
    for await (const e of Deno.readDir(bootDir)) {
      if (e.name.startsWith("vmlinuz-")) versions.push(e.name.slice("vmlinuz-".length));
    }
  } catch {
    // No /boot at all: handled below like an empty one.
  }
  const usable: string[] = [];
  for (const v of versions) {
    try {
      await Deno.stat(`${modulesRoot}/${v}/modules.dep`);
      usable.push(v);
    } catch {
      // An image without modules cannot load l2tp; skip it.
    }
  }
  if (usable.length === 0) {
    throw new Error(
      `Cannot boot VM: no kernel with modules found (${bootDir}/vmlinuz-* with ` +
        `${modulesRoot}/<version>/modules.dep); install the Debian package linux-image-amd64`,
    );
  }
  usable.sort(compareKernelVersions);
  const version = usable[usable.length - 1];
  return {
    version,
    image: `${bootDir}/vmlinuz-${version}`,
    modulesDir: `${modulesRoot}/${version}`,
  };
}

async function decompressWith(tool: string, pkg: string, path: string): Promise<Uint8Array> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(tool, { args: ["-dc", path], stdout: "piped", stderr: "piped" })
      .output();
  } catch (e) {
    throw new Error(
      `Cannot decompress kernel module ${path}: ${tool} is not runnable ` +
        `(${e instanceof Error ? e.message : String(e)}); install the Debian package ${pkg}`,
    );
  }
  if (!out.success) {
    throw new Error(
      `Cannot decompress kernel module ${path}: ${new TextDecoder().decode(out.stderr).trim()}`,
    );
  }
  return out.stdout;
}

/**
 * Read a module file, decompressing `.ko.gz` / `.ko.xz` / `.ko.zst` so busybox `insmod` can
 * load it whatever compression support it was built with.
 *
 * @param path Absolute path of the module file.
 * @returns The uncompressed ELF object.
 *
 * @example Usage
 * ```ts ignore
 * import { readModule } from "./modules.ts";
 * const ko = await readModule("/lib/modules/6.1.0-56-amd64/kernel/drivers/net/veth.ko");
 * ```
 */
export async function readModule(path: string): Promise<Uint8Array> {
  if (path.endsWith(".ko")) return await Deno.readFile(path);
  if (path.endsWith(".ko.xz")) return await decompressWith("xz", "xz-utils", path);
  if (path.endsWith(".ko.zst")) return await decompressWith("zstd", "zstd", path);
  if (path.endsWith(".ko.gz")) {
    const file = await Deno.open(path);
    const stream = file.readable.pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }
  throw new TypeError(`Cannot read kernel module ${path}: unknown file extension`);
}
