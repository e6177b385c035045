/**
 * Shared pieces of the kernel tests (run inside the VM, as root, with the l2tp modules loaded).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Topology } from "../vm/topology.ts";

/** True inside the test VM (`L2TPVM=1`); kernel tests are ignored elsewhere. */
export const inVm: boolean = Deno.env.get("L2TPVM") === "1";

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

/** Start `main.ts` with a config file in a namespace of `topo`. */
export function startDaemon(
  topo: Topology,
  host: number,
  configPath: string,
  extraArgs: string[] = [],
): DaemonProcess {
  const child = topo.spawn(host, [
    Deno.execPath(),
    "run",
    "--allow-all",
    "--no-check",
    `${ROOT}main.ts`,
    "--config",
    configPath,
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
