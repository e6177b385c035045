/**
 * Run a command as root inside a throwaway qemu VM that boots the host's kernel, so tests can
 * use kernel features (L2TP, PPP, network namespaces) the host cannot load.
 *
 * The VM (TCG, no KVM needed) sees the host's file system at the same paths through an overlay
 * (host `/` read-only over 9p, tmpfs on top), so the project, Deno and its cache are all there
 * and writable; nothing written inside survives. It has no NIC: loopback and veth pairs only.
 * The command's output comes back over a second serial port, separate from the kernel console,
 * which is written to `.vm/console.log`.
 *
 * @module
 */

import { HOST_ROOT_TAG, JOB_TAG, jobScript, READY_MARKER } from "./guest.ts";
import { ensureInitramfs, VM_DIR } from "./initramfs.ts";

/**
 * What to run in the VM and how.
 *
 * @example Usage
 * ```ts
 * import type { VmRunOptions } from "./vm.ts";
 * const opts: VmRunOptions = { command: "ip l2tp show tunnel", timeoutMs: 60_000 };
 * console.log(opts);
 * ```
 */
export interface VmRunOptions {
  /** argv (looked up in the guest's PATH) or a shell command line (run by `/bin/sh -c`). */
  command: readonly string[] | string;
  /** Absolute working directory (default: the caller's current directory). */
  cwd?: string;
  /**
   * Extra environment, over the defaults: PATH (system dirs plus the directory of the running
   * `deno`), HOME=/root, USER, LOGNAME, LANG=C.UTF-8, DENO_DIR (the host's Deno cache),
   * DENO_NO_UPDATE_CHECK=1. The caller's own environment is not passed.
   */
  env?: Readonly<Record<string, string>>;
  /** Kill the VM after this long, boot included (default 600000 = 10 min). */
  timeoutMs?: number;
  /** Guest memory in MiB (default 2048). */
  memoryMb?: number;
  /** Guest CPUs (default 2). */
  cpus?: number;
  /** Called with each chunk of the command's output (stdout and stderr merged) as it arrives. */
  onOutput?: (chunk: Uint8Array) => void;
}

/**
 * How a VM run ended.
 *
 * @example Usage
 * ```ts ignore
 * import { runInVm, type VmRunResult } from "./vm.ts";
 * const r: VmRunResult = await runInVm({ command: ["true"] });
 * console.log(r.code, r.bootMs, r.totalMs);
 * ```
 */
export interface VmRunResult {
  /** The command's exit status; 124 when the run timed out. */
  code: number;
  /** The command's stdout and stderr, merged, as text. */
  output: string;
  /** True when the VM was killed because `timeoutMs` passed. */
  timedOut: boolean;
  /** Milliseconds from starting qemu to the command starting in the guest (-1 if never). */
  bootMs: number;
  /** Milliseconds from the call to qemu exiting (initramfs check included). */
  totalMs: number;
  /** Path of the kernel console log of this run. */
  consoleLog: string;
}

/**
 * Exit status reported for a run killed on timeout (like timeout(1)).
 *
 * @example Usage
 * ```ts ignore
 * import { runInVm, TIMEOUT_CODE } from "./vm.ts";
 * const r = await runInVm({ command: ["sleep", "999"], timeoutMs: 1000 });
 * console.log(r.code === TIMEOUT_CODE); // true
 * ```
 */
export const TIMEOUT_CODE = 124;

const QEMU = "qemu-system-x86_64";

/**
 * The host's Deno cache directory, as Deno itself resolves it (`DENO_DIR`, else
 * `$XDG_CACHE_HOME/deno`, else `$HOME/.cache/deno`).
 *
 * @returns An absolute path.
 *
 * @example Usage
 * ```ts ignore
 * import { hostDenoDir } from "./vm.ts";
 * console.log(hostDenoDir()); // e.g. "/root/.cache/deno"
 * ```
 */
export function hostDenoDir(): string {
  const explicit = Deno.env.get("DENO_DIR");
  if (explicit) return explicit.startsWith("/") ? explicit : `${Deno.cwd()}/${explicit}`;
  const xdg = Deno.env.get("XDG_CACHE_HOME");
  if (xdg) return `${xdg}/deno`;
  return `${Deno.env.get("HOME") ?? "/root"}/.cache/deno`;
}

function defaultEnv(): Record<string, string> {
  const exec = Deno.execPath();
  const denoBin = exec.slice(0, exec.lastIndexOf("/")) || "/";
  const system = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
  const path = system.includes(denoBin) ? system : [...system, denoBin];
  return {
    PATH: path.join(":"),
    HOME: "/root",
    USER: "root",
    LOGNAME: "root",
    LANG: "C.UTF-8",
    DENO_DIR: hostDenoDir(),
    DENO_NO_UPDATE_CHECK: "1",
  };
}

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return i;
  }
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

async function tail(path: string, lines: number): Promise<string> {
  try {
    const text = await Deno.readTextFile(path);
    return text.split("\n").slice(-lines).join("\n");
  } catch {
    return "(no console log)";
  }
}

/**
 * Boot the VM, run one command as root in it, and power it off.
 *
 * @param opts The command and its working directory, environment, limits and output callback.
 * @returns Exit status, output and timings.
 * @throws {Error} "Cannot boot VM: ..." naming the Debian package when qemu, the kernel or
 *   busybox-static is missing; "Cannot run command in VM: ..." (with the console log's tail)
 *   when the VM stopped without reporting an exit status.
 *
 * @example Usage
 * ```ts ignore
 * import { runInVm } from "./vm.ts";
 * const r = await runInVm({ command: ["ip", "l2tp", "show", "tunnel"] });
 * console.log(r.code, r.output, r.bootMs);
 * ```
 */
export async function runInVm(opts: VmRunOptions): Promise<VmRunResult> {
  const start = performance.now();
  const cwd = opts.cwd ?? Deno.cwd();
  const env = { ...defaultEnv(), ...(opts.env ?? {}) };
  const script = jobScript({ command: opts.command, cwd, env });
  const initramfs = await ensureInitramfs();

  const jobsDir = `${VM_DIR}/jobs`;
  if (jobsDir.includes(",")) {
    throw new Error(`Cannot boot VM: qemu options cannot name ${jobsDir} (it contains a comma)`);
  }
  await Deno.mkdir(jobsDir, { recursive: true });
  await removeStaleJobs(jobsDir);
  const jobDir = await Deno.makeTempDir({ dir: jobsDir, prefix: "job-" });
  const consoleLog = `${jobDir}/console.log`;
  await Deno.writeTextFile(`${jobDir}/job.sh`, script);

  const cpus = opts.cpus ?? 2;
  const args = [
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-machine",
    "pc",
    "-accel",
    cpus > 1 ? "tcg,thread=multi" : "tcg",
    "-cpu",
    "max",
    "-smp",
    String(cpus),
    "-m",
    String(opts.memoryMb ?? 2048),
    "-kernel",
    initramfs.kernel.image,
    "-initrd",
    initramfs.path,
    "-append",
    "console=ttyS0 panic=-1 quiet loglevel=4 random.trust_cpu=on mitigations=off " +
    "i8042.noaux i8042.nokbd",
    "-no-reboot",
    "-serial",
    `file:${consoleLog}`,
    "-serial",
    "stdio",
    "-virtfs",
    `local,path=/,mount_tag=${HOST_ROOT_TAG},security_model=none,readonly=on,multidevs=remap`,
    "-virtfs",
    `local,path=${jobDir},mount_tag=${JOB_TAG},security_model=none`,
  ];

  let child: Deno.ChildProcess;
  const spawnedAt = performance.now();
  try {
    child = new Deno.Command(QEMU, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    await Deno.remove(jobDir, { recursive: true }).catch(() => {});
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        `Cannot boot VM: ${QEMU} not found; install the Debian package qemu-system-x86`,
      );
    }
    throw new Error(`Cannot boot VM: ${e instanceof Error ? e.message : String(e)}`);
  }

  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, opts.timeoutMs ?? 600_000);

  const marker = new TextEncoder().encode(READY_MARKER);
  let bootMs = -1;
  let pending: Uint8Array = new Uint8Array(0);
  const outChunks: Uint8Array[] = [];
  const emit = (chunk: Uint8Array): void => {
    if (chunk.length === 0) return;
    outChunks.push(chunk);
    opts.onOutput?.(chunk);
  };
  const readOut = (async (): Promise<void> => {
    for await (const chunk of child.stdout) {
      if (bootMs >= 0) {
        emit(chunk);
        continue;
      }
      pending = concat(pending, chunk);
      const at = indexOfBytes(pending, marker);
      if (at >= 0) {
        bootMs = Math.round(performance.now() - spawnedAt);
        emit(pending.subarray(0, at)); // nothing is expected before the marker
        emit(pending.subarray(at + marker.length));
        pending = new Uint8Array(0);
      }
    }
    emit(pending);
  })();
  const readErr = new Response(child.stderr).text();

  const status = await child.status;
  clearTimeout(timer);
  await readOut;
  const qemuStderr = (await readErr).trim();
  const totalMs = Math.round(performance.now() - start);

  const keptLog = `${VM_DIR}/console.log`;
  await Deno.copyFile(consoleLog, keptLog).catch(() => {});
  let exitText: string | undefined;
  try {
    exitText = (await Deno.readTextFile(`${jobDir}/exit`)).trim();
  } catch {
    exitText = undefined;
  }
  await Deno.remove(jobDir, { recursive: true }).catch(() => {});

  const output = new TextDecoder().decode(mergeChunks(outChunks));
  if (exitText !== undefined && /^\d+$/.test(exitText)) {
    return { code: Number(exitText), output, timedOut, bootMs, totalMs, consoleLog: keptLog };
  }
  if (timedOut) {
    return { code: TIMEOUT_CODE, output, timedOut, bootMs, totalMs, consoleLog: keptLog };
  }
  const stderrNote = qemuStderr === "" ? "" : `\nqemu said: ${qemuStderr}`;
  throw new Error(
    `Cannot run command in VM: the VM stopped (qemu exit status ${status.code}) without ` +
      `reporting the command's exit status (${
        bootMs < 0 ? "it never started" : "it was started"
      }); see ${keptLog}, last lines:\n${await tail(keptLog, 30)}${stderrNote}`,
  );
}

/** Remove job directories left by runs that were killed (older than a day). */
async function removeStaleJobs(jobsDir: string): Promise<void> {
  const cutoff = Date.now() - 24 * 3600_000;
  for await (const e of Deno.readDir(jobsDir)) {
    if (!e.isDirectory || !e.name.startsWith("job-")) continue;
    const path = `${jobsDir}/${e.name}`;
    const mtime = (await Deno.stat(path).catch(() => undefined))?.mtime?.getTime();
    if (mtime !== undefined && mtime < cutoff) {
      await Deno.remove(path, { recursive: true }).catch(() => {});
    }
  }
}

function mergeChunks(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}
