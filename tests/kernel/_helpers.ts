/**
 * Shared pieces of the kernel tests: they need root and a kernel with L2TP (the `l2tp` generic
 * netlink family). `deno task test:kernel` runs them in the VM, which has both; on a host that
 * has both, `sudo deno test -A` from the repository root runs them natively with the unit tests
 * (`-A`, not a list of flags: some unit tests read `/proc/self/fd`, which Deno allows only with
 * `--allow-all`). Elsewhere {@linkcode kernelTest} registers them as ignored, with the reason in
 * the test name.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LibnlConnection } from "../../dataplane/netlink/libnl_connection.ts";
import type { Topology } from "../vm/topology.ts";
import { missingPermissions, type Permission, requirePermissions } from "./_permissions.ts";

/**
 * What every kernel test needs from Deno: it runs commands (ip, pppd, deno), writes temporary
 * configuration files, reads /proc and /sys and the environment, and calls libc and libnl.
 */
export const KERNEL_TEST_PERMISSIONS: readonly Permission[] = [
  "read",
  "write",
  "run",
  "env",
  "ffi",
];

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

function readOrEmpty(path: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return "";
  }
}

/** Whether this process runs with effective uid 0 (from /proc: no --allow-sys needed). */
function isRoot(): boolean {
  return /^Uid:\s+\d+\s+0\s/m.test(readOrEmpty("/proc/self/status"));
}

/**
 * Why the kernel's l2tp generic netlink family is not there, or undefined when it is: the module
 * is loaded (or built in), or, as root, asking generic netlink for the family (which makes the
 * kernel load an installed module) succeeds.
 */
async function l2tpMissing(root: boolean): Promise<string | undefined> {
  if (exists("/sys/module/l2tp_netlink")) return undefined;
  const release = readOrEmpty("/proc/sys/kernel/osrelease").trim();
  const modules = `/lib/modules/${release}`;
  if (/(^|\/)l2tp_netlink\.ko/m.test(readOrEmpty(`${modules}/modules.builtin`))) return undefined;
  const installed = /(^|\/)l2tp_netlink\.ko/m.test(readOrEmpty(`${modules}/modules.dep`));
  if (!installed) return `no L2TP in kernel ${release} (no l2tp_netlink module)`;
  if (!root) return `l2tp_netlink is not loaded in kernel ${release}`;
  try {
    using conn = LibnlConnection.open({ receiveTimeoutMs: 2000 });
    await conn.resolveFamily("l2tp");
    return undefined;
  } catch (e) {
    return `no l2tp generic netlink family in kernel ${release} ` +
      `(${e instanceof Error ? e.message : String(e)})`;
  }
}

async function kernelSkipReason(): Promise<string | undefined> {
  // Without these the tests cannot even look; they then fail, naming the flags.
  if (missingPermissions(KERNEL_TEST_PERMISSIONS).length > 0) return undefined;
  const root = isRoot();
  const missing = await l2tpMissing(root);
  if (missing !== undefined) return root ? missing : `needs root; ${missing}`;
  if (!root) return "needs root";
  return undefined;
}

/**
 * Why the kernel tests are ignored here, or undefined when they run: they need root and the
 * kernel's l2tp generic netlink family. Undefined as well when a permission in
 * {@linkcode KERNEL_TEST_PERMISSIONS} is missing: the tests then run and fail, naming the flags.
 */
export const kernelUnavailable: string | undefined = await kernelSkipReason();

/** A kernel test: `Deno.test`'s name and function, plus a further reason to skip it. */
export interface KernelTestDefinition {
  /** The test name. */
  name: string;
  /** The test. */
  fn: (t: Deno.TestContext) => void | Promise<void>;
  /** Why it cannot run here even with root and L2TP (e.g. "xl2tpd is not installed"). */
  skip?: string;
}

/**
 * Register a kernel test: ignored, with the reason appended to its name, when
 * {@linkcode kernelUnavailable} (or `skip`) says it cannot run here; otherwise it first checks
 * {@linkcode KERNEL_TEST_PERMISSIONS} and fails with "Cannot run: this test needs --allow-..."
 * when one is missing.
 *
 * @param def Name, function and further skip reason.
 */
export function kernelTest(def: KernelTestDefinition): void {
  const permitted = missingPermissions(KERNEL_TEST_PERMISSIONS).length === 0;
  const reason = permitted ? kernelUnavailable ?? def.skip : undefined;
  Deno.test({
    name: reason === undefined ? def.name : `${def.name} (ignored: ${reason})`,
    ignore: reason !== undefined,
    fn: async (t) => {
      requirePermissions(KERNEL_TEST_PERMISSIONS);
      await def.fn(t);
    },
  });
}

/** The project root (where main.ts lives). */
export const ROOT: string = new URL("../../", import.meta.url).pathname;

const decoder = new TextDecoder();

/** Run a command; throw with its stderr unless it succeeds (or `allowFailure`). */
export async function sh(
  argv: string[],
  opts: { allowFailure?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const result = {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
  if (out.code !== 0 && !opts.allowFailure) {
    throw new Error(`Cannot run ${argv.join(" ")}: exit ${out.code}: ${result.stderr.trim()}`);
  }
  return result;
}

/** A tunnel as `ip -j l2tp show tunnel` prints it. */
export interface IpTunnel {
  tunnel_id: number;
  peer_tunnel: number;
  encap: string;
  local: string;
  peer: string;
  local_port?: number;
  peer_port?: number;
}

/** A session as `ip -j l2tp show session` prints it. */
export interface IpSession {
  session_id: number;
  tunnel_id: number;
  peer_session_id: number;
  peer_tunnel_id: number;
  interface?: string;
  cookie?: string;
  peer_cookie?: string;
}

/** iproute2's independent view of the kernel's tunnels (optionally in a namespace). */
export async function ipTunnels(netns?: string): Promise<IpTunnel[]> {
  const ns = netns ? ["-n", netns] : [];
  const { stdout } = await sh(["ip", ...ns, "-j", "l2tp", "show", "tunnel"]);
  return stdout.trim() ? JSON.parse(stdout) : [];
}

/** iproute2's independent view of the kernel's sessions (optionally in a namespace). */
export async function ipSessions(netns?: string): Promise<IpSession[]> {
  const ns = netns ? ["-n", netns] : [];
  const { stdout } = await sh(["ip", ...ns, "-j", "l2tp", "show", "session"]);
  return stdout.trim() ? JSON.parse(stdout) : [];
}

/** Lowercase hex of bytes, as iproute2 prints cookies. */
export function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Poll `probe` until it returns true; fail with `what` after `timeoutMs`. */
export async function waitFor(
  what: string,
  probe: () => Promise<boolean> | boolean,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A daemon process started by a test, with its collected output. */
export interface DaemonProcess {
  child: Deno.ChildProcess;
  /** stdout + stderr so far. */
  output(): string;
  /** Whether the process has exited. */
  exited(): boolean;
  /** Send a signal and wait for the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * Start `main.ts` with a config file in a namespace of `topo`. Namespaces share the file system,
 * so each daemon gets a control socket of its own (unless `extraArgs` names one).
 */
export function startDaemon(
  topo: Topology,
  host: number,
  configPath: string,
  extraArgs: string[] = [],
): DaemonProcess {
  const socket = extraArgs.includes("--socket")
    ? []
    : ["--socket", `${configPath}.${host}.${crypto.randomUUID().slice(0, 8)}.sock`];
  const child = topo.spawn(host, [
    Deno.execPath(),
    "run",
    "--allow-all",
    "--no-check",
    `${ROOT}main.ts`,
    "--config",
    configPath,
    ...socket,
    ...extraArgs,
  ]);
  let text = "";
  const collect = async (stream: ReadableStream<Uint8Array>): Promise<void> => {
    for await (const chunk of stream) text += decoder.decode(chunk);
  };
  const done = Promise.all([collect(child.stdout), collect(child.stderr)]);
  let exited = false;
  child.status.then(() => exited = true);
  return {
    child,
    output: () => text,
    exited: () => exited,
    stop: async (signal = "SIGTERM") => {
      try {
        child.kill(signal);
      } catch {
        // already exited
      }
      const status = await child.status;
      await done;
      return status;
    },
  };
}

/** Read one session's counters in a namespace, through our own data plane (a child process). */
export async function sessionStats(
  topo: Topology,
  host: number,
  tunnelId: number,
  sessionId: number,
): Promise<Record<string, number>> {
  const r = await topo.exec(host, [
    Deno.execPath(),
    "run",
    "--allow-all",
    "--no-check",
    `${ROOT}tests/kernel/_session_stats.ts`,
    String(tunnelId),
    String(sessionId),
  ]);
  const stats = JSON.parse(r.stdout);
  assert.ok(stats, `session ${tunnelId}/${sessionId} exists in host ${host}`);
  return stats;
}

/** The ppp interfaces of a host. */
export async function pppInterfaces(topo: Topology, host: number): Promise<string[]> {
  const r = await topo.exec(host, ["ip", "-j", "link", "show", "type", "ppp"]);
  return (JSON.parse(r.stdout || "[]") as { ifname: string }[]).map((l) => l.ifname);
}

/** How many pppd processes run (in any namespace: the VM shares one PID namespace). */
export async function pppdCount(): Promise<number> {
  const r = await sh(["pgrep", "-c", "-x", "pppd"], { allowFailure: true });
  return Number(r.stdout.trim() || "0");
}

/** pppd options of the side that assigns addresses: append "LOCAL:REMOTE\n". */
export const PPPD_SERVER = "noauth\nnodefaultroute\nlcp-echo-interval 0\n";

/** pppd options of the side that takes the addresses its peer assigns. */
export const PPPD_CLIENT =
  "noauth\nnodefaultroute\nipcp-accept-local\nipcp-accept-remote\nlcp-echo-interval 0\n";
