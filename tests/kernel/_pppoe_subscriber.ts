/**
 * The PPPoE access concentrator lab of the kpppoed kernel tests (in the VM, as root): three
 * network namespaces and what runs in them.
 *
 * ```
 *  sub                          ac                                  lns
 *  veth-sub  ------------------ veth-ac-sub   veth-ac-lns ---------- veth-lns
 *  (pppd + pppoe.so)            (kpppoed)     10.0.2.1/24            10.0.2.2/24 (xl2tpd or l2tpd)
 * ```
 *
 * With `subscribers: n` (n > 1) the subscriber side is a bridge `br-sub` in "sub" holding
 * `veth-sub` and n veth pairs `sN`/`sN-br`: each subscriber pppd runs on its own `sN`, with a MAC
 * of its own (kpppoed allows only a few sessions per subscriber MAC).
 *
 * - {@linkcode PppoeLab}: the namespaces and links; runs commands in them, starts processes it
 *   stops again (last started, first stopped), kills what those left in its namespaces (by
 *   process ID, never by name) and deletes the namespaces, even after a failure.
 * - {@linkcode startSubscriber}: pppd with Debian's `pppoe.so` plugin (kernel-mode PPPoE) on a
 *   subscriber interface, `nodetach`, its log collected; interface `pppsN` for `unit N`.
 * - {@linkcode startKpppoed}: our daemon as kpppoed (`L2TPD_PERSONALITY=kpppoed main.ts -config
 *   F -verbose --socket S`) in "ac"; {@linkcode kpppoedReady} waits for its control socket and
 *   {@linkcode kpppoedStatus} asks it (`main.ts show --socket S --json`).
 * - {@linkcode pppoeEntries}: the kernel's PPPoE sessions in a namespace (`/proc/net/pppoe`).
 * - {@linkcode startWatcher} and {@linkcode sendPadt}: this file run as a program in "sub",
 *   `deno run -A _pppoe_subscriber.ts watch IFNAME...` prints every discovery frame the
 *   interfaces receive (one JSON line each: `ifname`, `source`, `packetType`, `code`,
 *   `sessionId`) after a `{"ready":true}` line; `... padt IFNAME AC-MAC SESSION-ID` sends one
 *   PADT from the interface's MAC, as a subscriber that hangs up does.
 *
 * @module
 */

import { encodePppoe, PppoeCode } from "../../control/pppoe/codec.ts";
import { openDiscoverySocket } from "../../dataplane/packet_socket.ts";
import { Reactor } from "../../dataplane/reactor.ts";
import { ROOT, sh, waitFor } from "./_helpers.ts";

const decoder = new TextDecoder();

/** A process started in a namespace, with its collected output. */
export interface Proc {
  /** What it is, for logs ("kpppoed", "subscriber ppps0 on veth-sub", ...). */
  readonly name: string;
  /** Its process ID (`ip netns exec` executes the command in place). */
  readonly pid: number;
  /** Its exit status, once it has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /** stdout and stderr so far. */
  output(): string;
  /** Whether it has exited. */
  exited(): boolean;
  /**
   * Wait for output matching `re` (from character offset `from`); rejects on time-out or when
   * the process exits first.
   */
  waitFor(re: RegExp, timeoutMs: number, from?: number): Promise<RegExpMatchArray>;
  /** Send `signal` (default SIGTERM), SIGKILL after `graceMs` (default 10000); the status. */
  stop(signal?: Deno.Signal, graceMs?: number): Promise<Deno.CommandStatus>;
}

/** Wrap a spawned child (piped stdout and stderr) as a {@linkcode Proc}. */
function track(name: string, child: Deno.ChildProcess): Proc {
  let text = "";
  let exited = false;
  const waiters = new Set<() => void>();
  const wake = (): void => {
    for (const w of [...waiters]) w();
  };
  const collect = async (stream: ReadableStream<Uint8Array>): Promise<void> => {
    try {
      for await (const chunk of stream) {
        text += decoder.decode(chunk, { stream: true });
        wake();
      }
    } catch {
      // cancelled
    }
  };
  const streams = [child.stdout, child.stderr];
  const collected = Promise.all(streams.map(collect));
  const status = child.status.then((s) => {
    exited = true;
    wake();
    return s;
  });
  let stopped: Promise<Deno.CommandStatus> | undefined;
  return {
    name,
    pid: child.pid,
    status,
    output: () => text,
    exited: () => exited,
    waitFor: (re, timeoutMs, from = 0) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const m = text.slice(from).match(re);
          if (m) {
            done();
            resolve(m);
          } else if (exited) {
            done();
            reject(new Error(`Cannot find ${re} in the output of ${name}: it exited\n${text}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${re} from ${name}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      }),
    stop: (signal = "SIGTERM", graceMs = 10_000) => {
      stopped ??= (async () => {
        if (!exited) {
          try {
            child.kill(signal);
          } catch {
            // already gone
          }
          const timer = setTimeout(() => {
            try {
              child.kill("SIGKILL");
            } catch {
              // already gone
            }
          }, graceMs);
          await status;
          clearTimeout(timer);
        }
        // A child of it (pppd) may still hold the pipes: do not wait for them for long.
        const t = setTimeout(() => {
          for (const s of streams) s.cancel().catch(() => {});
        }, 1000);
        await collected;
        clearTimeout(t);
        return await status;
      })();
      return stopped;
    },
  };
}

/** The namespaces of a {@linkcode PppoeLab}. */
export interface LabNamespaces {
  /** The subscribers'. */
  sub: string;
  /** The access concentrator's (kpppoed). */
  ac: string;
  /** The LNS's. */
  lns: string;
}

/** Options of {@linkcode PppoeLab.create}. */
export interface PppoeLabOptions {
  /** Subscriber interfaces, each with a MAC of its own (default 1: `veth-sub` itself). */
  subscribers?: number;
}

/** A PPP interface of a namespace, as `ip -j addr show type ppp` lists it. */
export interface PppLink {
  /** Its name. */
  ifname: string;
  /** Our address on it, once IPCP is up. */
  local?: string;
  /** The peer's address. */
  peer?: string;
}

/** One line of `/proc/net/pppoe`: a kernel PPPoE session socket. */
export interface PppoeEntry {
  /** The PPPoE SESSION_ID (the kernel prints it in network byte order; turned back here). */
  sessionId: number;
  /** The peer's MAC, lowercase. */
  peerMac: string;
  /** The interface. */
  device: string;
}

/** The AC's address towards the LNS, and the LNS's. */
export const AC_LNS_ADDRESS = "10.0.2.1";
/** The LNS's address, reachable from "ac". */
export const LNS_ADDRESS = "10.0.2.2";
/** The AC's interface towards the subscribers (kpppoed's `interface_name`). */
export const AC_SUB_IFNAME = "veth-ac-sub";

function busybox(): string {
  try {
    Deno.statSync("/run/l2tpvm/busybox");
    return "/run/l2tpvm/busybox";
  } catch {
    return "busybox";
  }
}

/** The three namespaces, their links and everything started in them: see the module doc. */
export class PppoeLab implements AsyncDisposable {
  /** Namespace names. */
  readonly ns: LabNamespaces;
  /** A temporary directory for configuration files (removed with the lab). */
  readonly dir: string;
  /** The subscriber interfaces in "sub", one per subscriber. */
  readonly subIfnames: readonly string[];
  readonly #cleanups: (() => Promise<unknown>)[] = [];
  readonly #logs: { name: string; output: () => string }[] = [];
  #destroyed = false;

  private constructor(ns: LabNamespaces, dir: string, subIfnames: string[]) {
    this.ns = ns;
    this.dir = dir;
    this.subIfnames = subIfnames;
  }

  /**
   * Make the namespaces and links (see the module doc); on failure whatever was made is removed.
   *
   * @param options How many subscriber interfaces.
   * @returns The lab.
   */
  static async create(options: PppoeLabOptions = {}): Promise<PppoeLab> {
    const tag = crypto.randomUUID().slice(0, 4);
    const ns = { sub: `kp${tag}-sub`, ac: `kp${tag}-ac`, lns: `kp${tag}-lns` };
    const n = options.subscribers ?? 1;
    const subIfnames = n === 1 ? ["veth-sub"] : [...Array(n).keys()].map((i) => `s${i}`);
    const dir = await Deno.makeTempDir({ prefix: "kpppoed-vm-" });
    const lab = new PppoeLab(ns, dir, subIfnames);
    try {
      for (const name of Object.values(ns)) {
        await sh(["ip", "netns", "add", name]);
        await sh(["ip", "-n", name, "link", "set", "lo", "up"]);
      }
      const veth = (a: string, nsA: string, b: string, nsB: string): Promise<unknown> =>
        sh(["ip", "link", "add", a, "netns", nsA, "type", "veth", "peer", "name", b, "netns", nsB]);
      await veth("veth-sub", ns.sub, AC_SUB_IFNAME, ns.ac);
      await veth("veth-ac-lns", ns.ac, "veth-lns", ns.lns);
      await sh(["ip", "-n", ns.ac, "addr", "add", `${AC_LNS_ADDRESS}/24`, "dev", "veth-ac-lns"]);
      await sh(["ip", "-n", ns.lns, "addr", "add", `${LNS_ADDRESS}/24`, "dev", "veth-lns"]);
      for (const [name, dev] of [[ns.sub, "veth-sub"], [ns.ac, AC_SUB_IFNAME]]) {
        // No IPv6 on the PPPoE segment: no router solicitations or MLD reports on it.
        await lab.exec(name, ["sh", "-c", `echo 1 > /proc/sys/net/ipv6/conf/${dev}/disable_ipv6`], {
          allowFailure: true,
        });
      }
      for (
        const [name, dev] of [
          [ns.sub, "veth-sub"],
          [ns.ac, AC_SUB_IFNAME],
          [ns.ac, "veth-ac-lns"],
          [ns.lns, "veth-lns"],
        ]
      ) {
        await sh(["ip", "-n", name, "link", "set", dev, "up"]);
      }
      if (n > 1) {
        const ip = (args: string): Promise<unknown> => sh(["ip", "-n", ns.sub, ...args.split(" ")]);
        await ip("link add br-sub type bridge stp_state 0");
        await ip("link set veth-sub master br-sub");
        await ip("link set br-sub up");
        for (const s of subIfnames) {
          await ip(`link add ${s} type veth peer name ${s}-br`);
          await ip(`link set ${s}-br master br-sub`);
          await ip(`link set ${s}-br up`);
          await ip(`link set ${s} up`);
        }
      }
    } catch (e) {
      await lab.destroy().catch(() => {});
      throw e;
    }
    return lab;
  }

  /**
   * Run a command in a namespace and wait for it.
   *
   * @param ns The namespace.
   * @param argv Program and arguments.
   * @param opts `allowFailure`: return a failed result instead of throwing.
   * @returns Exit code and output.
   */
  exec(
    ns: string,
    argv: readonly string[],
    opts: { allowFailure?: boolean } = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return sh(["ip", "netns", "exec", ns, ...argv], opts);
  }

  /**
   * Start a long-running command in a namespace; the lab stops it (SIGTERM, then SIGKILL).
   *
   * @param ns The namespace.
   * @param name What it is, for logs.
   * @param argv Program and arguments.
   * @param env Extra environment.
   * @returns The process.
   */
  spawn(ns: string, name: string, argv: readonly string[], env?: Record<string, string>): Proc {
    const proc = track(name, this.spawnChild(ns, argv, env, false));
    this.#logs.push(proc);
    this.#cleanups.push(() => proc.stop());
    return proc;
  }

  /**
   * Start a command in a namespace and hand back the raw child (for `startXl2tpd`'s `spawn`); the
   * lab kills it at the end if it still runs.
   *
   * @param ns The namespace.
   * @param argv Program and arguments.
   * @param env Extra environment.
   * @param kill Kill it when the lab is destroyed (default true).
   * @returns The child, stdout and stderr piped.
   */
  spawnChild(
    ns: string,
    argv: readonly string[],
    env?: Record<string, string>,
    kill = true,
  ): Deno.ChildProcess {
    const child = new Deno.Command("ip", {
      args: ["netns", "exec", ns, ...argv],
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (kill) {
      let exited = false;
      child.status.then(() => exited = true);
      this.#cleanups.push(async () => {
        if (exited) return;
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
        await child.status;
      });
    }
    return child;
  }

  /**
   * Run `fn` at cleanup, before what was started (or deferred) earlier is stopped.
   *
   * @param fn The cleanup step; its failure is ignored.
   */
  defer(fn: () => Promise<unknown>): void {
    this.#cleanups.push(fn);
  }

  /**
   * Include a log in {@linkcode PppoeLab.dumpLogs}.
   *
   * @param name Whose.
   * @param output Reads it.
   */
  addLog(name: string, output: () => string): void {
    this.#logs.push({ name, output });
  }

  /** Print every collected log (after a failure). */
  dumpLogs(): void {
    for (const l of this.#logs) console.log(`--- ${l.name}:\n${l.output()}`);
  }

  /**
   * Run a test body; on failure print every log, then rethrow.
   *
   * @param body The test.
   */
  async run(body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (e) {
      this.dumpLogs();
      throw e;
    }
  }

  /**
   * Ping from a namespace (busybox ping).
   *
   * @param ns From where.
   * @param address To what.
   * @param opts Count, source interface, whether a failure throws.
   * @returns Exit code and output.
   */
  ping(
    ns: string,
    address: string,
    opts: { count?: number; iface?: string; allowFailure?: boolean } = {},
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    const iface = opts.iface === undefined ? [] : ["-I", opts.iface];
    return this.exec(ns, [
      busybox(),
      "ping",
      "-c",
      String(opts.count ?? 3),
      "-W",
      "5",
      ...iface,
      address,
    ], { allowFailure: opts.allowFailure });
  }

  /**
   * The PPP interfaces of a namespace with their addresses.
   *
   * @param ns The namespace.
   * @returns One entry per interface.
   */
  async pppLinks(ns: string): Promise<PppLink[]> {
    const r = await sh(["ip", "-n", ns, "-j", "addr", "show", "type", "ppp"]);
    const links = JSON.parse(r.stdout || "[]") as {
      ifname: string;
      addr_info?: { family: string; local?: string; address?: string }[];
    }[];
    return links.map((l) => {
      const a = (l.addr_info ?? []).find((x) => x.family === "inet");
      return { ifname: l.ifname, local: a?.local, peer: a?.address };
    });
  }

  /**
   * The MAC address of an interface.
   *
   * @param ns Its namespace.
   * @param ifname Its name.
   * @returns Lowercase "aa:bb:cc:dd:ee:ff".
   */
  async mac(ns: string, ifname: string): Promise<string> {
    const r = await sh(["ip", "-n", ns, "-j", "link", "show", "dev", ifname]);
    return (JSON.parse(r.stdout) as { address: string }[])[0].address.toLowerCase();
  }

  /**
   * The process IDs of the pppd processes in a namespace (those we started and those an LNS
   * started).
   *
   * @param ns The namespace.
   * @returns Their PIDs.
   */
  async pppdPids(ns: string): Promise<number[]> {
    const r = await sh(["ip", "netns", "pids", ns], { allowFailure: true });
    const pids: number[] = [];
    for (const p of r.stdout.split(/\s+/).filter(Boolean)) {
      try {
        if (Deno.readTextFileSync(`/proc/${p}/comm`).trim() === "pppd") pids.push(Number(p));
      } catch {
        // gone meanwhile
      }
    }
    return pids;
  }

  /**
   * Stop everything started (last first), kill what is left in the namespaces (by PID), delete
   * the namespaces and the directory. Safe to call twice.
   *
   * @throws {Error} "Cannot delete namespace ..." when a namespace stays.
   */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const fn of this.#cleanups.reverse()) await fn().catch(() => {});
    const names = Object.values(this.ns);
    for (const ns of names) {
      for (const signal of ["SIGTERM", "SIGKILL"] as const) {
        const pids = await this.pppdPids(ns);
        if (pids.length === 0) break;
        for (const pid of pids) {
          await sh(["kill", `-${signal}`, String(pid)], { allowFailure: true });
        }
        await waitFor(
          `pppd in ${ns} to exit`,
          async () => (await this.pppdPids(ns)).length === 0,
          5000,
        )
          .catch(() => {});
      }
    }
    const failures: string[] = [];
    for (const ns of names) {
      const r = await sh(["ip", "netns", "del", ns], { allowFailure: true });
      if (r.code !== 0 && !/No such file|not found/i.test(r.stderr)) {
        failures.push(`${ns}: ${r.stderr.trim()}`);
      }
    }
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    if (failures.length > 0) throw new Error(`Cannot delete namespace ${failures.join("; ")}`);
  }

  /** Same as {@linkcode PppoeLab.destroy}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}

/**
 * The kernel's PPPoE session sockets in a namespace, from its `/proc/net/pppoe`.
 *
 * @param lab The lab.
 * @param ns The namespace (default "ac").
 * @returns One entry per session socket.
 */
export async function pppoeEntries(lab: PppoeLab, ns: string = lab.ns.ac): Promise<PppoeEntry[]> {
  const r = await lab.exec(ns, ["cat", "/proc/net/pppoe"]);
  const out: PppoeEntry[] = [];
  for (const line of r.stdout.split("\n")) {
    const m = line.trim().match(/^([0-9A-Fa-f]{8})\s+([0-9A-Fa-f:]{17})\s+(\S+)$/);
    if (!m) continue;
    const raw = parseInt(m[1], 16) & 0xffff; // a __be16 printed as a host integer
    out.push({
      sessionId: ((raw & 0xff) << 8) | (raw >> 8),
      peerMac: m[2].toLowerCase(),
      device: m[3],
    });
  }
  return out;
}

/** Options of {@linkcode startSubscriber}. */
export interface SubscriberOptions {
  /** The Ethernet interface in "sub". */
  ifname: string;
  /** The ppp unit: the interface is `pppsN`. */
  unit: number;
  /** `rp_pppoe_service`: the Service-Name asked for (default: any). */
  service?: string;
}

/** A subscriber's pppd. */
export interface Subscriber extends Proc {
  /** Its ppp interface (`pppsN`). */
  readonly pppIfname: string;
  /** The Ethernet interface it runs PPPoE on. */
  readonly ethIfname: string;
}

/**
 * Start a subscriber: pppd with the `pppoe.so` plugin on `options.ifname` in "sub", taking the
 * addresses its peer gives it, no authentication either way, no LCP echoes, no persist (it exits
 * when the link goes), PADIs every 2 s doubling, 6 tries.
 *
 * @param lab The lab.
 * @param options Interface, unit, service.
 * @returns The running pppd.
 */
export function startSubscriber(lab: PppoeLab, options: SubscriberOptions): Subscriber {
  const pppIfname = `ppps${options.unit}`;
  const service = options.service === undefined ? [] : ["rp_pppoe_service", options.service];
  const proc = lab.spawn(lab.ns.sub, `subscriber ${pppIfname} on ${options.ifname}`, [
    "pppd",
    "plugin",
    "pppoe.so",
    `nic-${options.ifname}`,
    ...service,
    ...["pppoe-padi-timeout", "2", "pppoe-padi-attempts", "6"],
    ...["nodetach", "noauth", "nodefaultroute", "noipdefault"],
    ...["ipcp-accept-local", "ipcp-accept-remote", "lcp-echo-interval", "0", "noccp"],
    ...["maxfail", "1", "unit", String(options.unit), "ifname", pppIfname, "debug"],
  ]);
  return { ...proc, pppIfname, ethIfname: options.ifname };
}

/** kpppoed running in "ac". */
export interface Kpppoed extends Proc {
  /** Its control socket. */
  readonly socket: string;
  /** Its configuration file. */
  readonly configPath: string;
}

/**
 * Write `toml` as kpppoed.toml and start our daemon as kpppoed in "ac":
 * `L2TPD_PERSONALITY=kpppoed deno run --allow-all main.ts -config F -verbose --socket S`.
 *
 * @param lab The lab.
 * @param toml The configuration.
 * @returns The running daemon (see {@linkcode kpppoedReady}).
 */
export function startKpppoed(lab: PppoeLab, toml: string): Kpppoed {
  const configPath = `${lab.dir}/kpppoed.toml`;
  const socket = `${lab.dir}/kpppoed.sock`;
  Deno.writeTextFileSync(configPath, toml);
  const proc = lab.spawn(lab.ns.ac, "kpppoed", [
    Deno.execPath(),
    "run",
    "--allow-all",
    "--no-check",
    `${ROOT}main.ts`,
    "-config",
    configPath,
    "-verbose",
    "--socket",
    socket,
  ], { L2TPD_PERSONALITY: "kpppoed", NO_COLOR: "1" });
  return { ...proc, socket, configPath };
}

/**
 * Wait until kpppoed serves its control socket; fail at once if it exits.
 *
 * @param ac The daemon.
 * @param timeoutMs How long (default 90 s: Deno starts slowly under TCG).
 */
export async function kpppoedReady(ac: Kpppoed, timeoutMs = 90_000): Promise<void> {
  await waitFor("kpppoed's control socket", () => {
    if (ac.exited()) throw new Error(`kpppoed exited:\n${ac.output()}`);
    try {
      return Deno.statSync(ac.socket).isSocket === true;
    } catch {
      return false;
    }
  }, timeoutMs);
}

/** What the tests read of kpppoed's status. */
export interface KpppoedStatusView {
  /** The PPPoE sessions. */
  pppoe: {
    sessions: { sessionId: number; peerMac: string; service: string; state: string }[];
  };
  /** The tunnels, as `l2tpd show --json` gives them. */
  tunnels: { name?: string; sessions?: unknown[] }[];
}

/**
 * kpppoed's status, from `main.ts show --socket S --json`.
 *
 * @param ac The daemon.
 * @returns Its status.
 * @throws {Error} When the command fails or the answer lacks `pppoe.sessions` or `tunnels`.
 */
export async function kpppoedStatus(ac: Kpppoed): Promise<KpppoedStatusView> {
  const r = await sh([
    Deno.execPath(),
    "run",
    "--allow-all",
    "--no-check",
    `${ROOT}main.ts`,
    "show",
    "--socket",
    ac.socket,
    "--json",
  ]);
  const s = JSON.parse(r.stdout) as Partial<KpppoedStatusView>;
  if (!Array.isArray(s.pppoe?.sessions) || !Array.isArray(s.tunnels)) {
    throw new Error(`Cannot read kpppoed's status: no pppoe.sessions or tunnels in\n${r.stdout}`);
  }
  return s as KpppoedStatusView;
}

/** A discovery frame a watcher saw. */
export interface SeenFrame {
  /** The interface it came in on. */
  ifname: string;
  /** The sender's MAC. */
  source: string;
  /** How it was addressed ("host", "broadcast", ...). */
  packetType: string;
  /** The PPPoE CODE (0xa7: PADT). */
  code: number;
  /** The PPPoE SESSION_ID. */
  sessionId: number;
}

/** A watcher of discovery frames in "sub" (see the module doc). */
export interface Watcher extends Proc {
  /** The frames seen so far. */
  frames(): SeenFrame[];
}

const THIS_FILE = new URL(import.meta.url).pathname;

function helperArgv(args: readonly string[]): string[] {
  return [Deno.execPath(), "run", "--allow-all", "--no-check", THIS_FILE, ...args];
}

/**
 * Start a watcher of the discovery frames arriving on `ifnames` in "sub"; resolves once its
 * sockets are open.
 *
 * @param lab The lab.
 * @param ifnames The interfaces (default: every subscriber interface).
 * @returns The watcher.
 */
export async function startWatcher(
  lab: PppoeLab,
  ifnames: readonly string[] = lab.subIfnames,
): Promise<Watcher> {
  const proc = lab.spawn(lab.ns.sub, "discovery watcher", helperArgv(["watch", ...ifnames]));
  await proc.waitFor(/\{"ready":true\}/, 90_000);
  return {
    ...proc,
    frames: () =>
      proc.output().split("\n").filter((l) => l.startsWith('{"ifname"')).map((l) =>
        JSON.parse(l) as SeenFrame
      ),
  };
}

/**
 * Send one PADT from `ifname` in "sub" to the AC, for `sessionId`.
 *
 * @param lab The lab.
 * @param ifname The subscriber interface (its MAC is the source).
 * @param acMac The AC's MAC.
 * @param sessionId The PPPoE SESSION_ID.
 */
export async function sendPadt(
  lab: PppoeLab,
  ifname: string,
  acMac: string,
  sessionId: number,
): Promise<void> {
  const r = await lab.exec(lab.ns.sub, helperArgv(["padt", ifname, acMac, String(sessionId)]));
  if (!r.stdout.includes('"sent":true')) {
    throw new Error(`Cannot send a PADT from ${ifname}: ${r.stdout}${r.stderr}`);
  }
}

async function watchMain(ifnames: readonly string[]): Promise<void> {
  await using reactor = new Reactor();
  const sockets = ifnames.map((ifname) => openDiscoverySocket(ifname, { reactor }));
  console.log(JSON.stringify({ ready: true }));
  await Promise.all(sockets.map(async (s) => {
    for await (const f of s) {
      const p = f.payload;
      console.log(JSON.stringify({
        ifname: s.ifname,
        source: f.source,
        packetType: f.packetType,
        code: p[1],
        sessionId: (p[2] << 8) | p[3],
      }));
    }
  }));
}

async function padtMain(ifname: string, acMac: string, sessionId: number): Promise<void> {
  await using s = openDiscoverySocket(ifname);
  const sent = s.send(encodePppoe({ code: PppoeCode.PADT, sessionId, tags: [] }), acMac);
  console.log(JSON.stringify({ sent, from: s.mac }));
}

if (import.meta.main) {
  const [verb, ...args] = Deno.args;
  if (verb === "watch") await watchMain(args);
  else if (verb === "padt") await padtMain(args[0], args[1], Number(args[2]));
  else {
    console.error(`Cannot run ${THIS_FILE}: unknown command "${verb}" (watch or padt)`);
    Deno.exit(2);
  }
}
