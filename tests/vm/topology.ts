/**
 * Network namespaces as test "hosts", for kernel tests running as root inside the VM.
 *
 * {@linkcode Topology.create} makes N namespaces on one IPv4 and one IPv6 subnet: with two hosts
 * a single veth pair joins them; with more, each host's veth ends on a bridge in an extra
 * "switch" namespace. Host `i` (1-based) has interface `eth0` with `10.0.0.i/24` and `fd00::i/64`
 * (IPv6 duplicate address detection off, so addresses work at once), and `lo` up.
 * Everything goes away with {@linkcode Topology.destroy} or `await using`.
 *
 * Uses the `ip` command (iproute2) through `Deno.Command`.
 *
 * @module
 */

/**
 * One namespace of the topology.
 *
 * @example Usage
 * ```ts ignore
 * import { Topology, type TopologyHost } from "./topology.ts";
 * await using topo = await Topology.create();
 * const h1: TopologyHost = topo.host(1);
 * console.log(h1.netns, h1.ipv4, h1.ipv6);
 * ```
 */
export interface TopologyHost {
  /** 1-based position. */
  index: number;
  /** Network namespace name (for `ip netns exec` / `ip -n`). */
  netns: string;
  /** Interface facing the other hosts (`eth0`). */
  ifname: string;
  /** IPv4 address without prefix, e.g. `10.0.0.1`. */
  ipv4: string;
  /** IPv6 address without prefix, e.g. `fd00::1`. */
  ipv6: string;
  /** IPv4 prefix length (24). */
  ipv4Prefix: number;
  /** IPv6 prefix length (64). */
  ipv6Prefix: number;
}

/**
 * Options of {@linkcode Topology.create}.
 *
 * @example Usage
 * ```ts
 * import type { TopologyOptions } from "./topology.ts";
 * const opts: TopologyOptions = { hosts: 3, prefix: "lac" };
 * console.log(opts);
 * ```
 */
export interface TopologyOptions {
  /** Number of hosts, 2 to 250 (default 2). */
  hosts?: number;
  /**
   * Namespace name prefix; host `i` is `<prefix><i>`, the switch `<prefix>sw`
   * (default: `h` plus a random tag, e.g. `hk3f2-1`, so leftovers never collide).
   */
  prefix?: string;
  /** The `ip` binary (default `ip` from PATH). */
  ip?: string;
  /**
   * A busybox binary, used by {@linkcode Topology.ping} (default: the VM's copy at
   * `/run/l2tpvm/busybox`, else `busybox` from PATH).
   */
  busybox?: string;
}

/**
 * Options of {@linkcode Topology.ping}.
 *
 * @example Usage
 * ```ts
 * import type { PingOptions } from "./topology.ts";
 * const opts: PingOptions = { count: 3, timeoutS: 2, allowFailure: true };
 * console.log(opts);
 * ```
 */
export interface PingOptions {
  /** Echo requests to send (default 1). */
  count?: number;
  /** Seconds to wait for a reply (default 5). */
  timeoutS?: number;
  /** Return the result instead of throwing when no reply came. */
  allowFailure?: boolean;
}

/**
 * Result of a command run in a namespace.
 *
 * @example Usage
 * ```ts ignore
 * import { type ExecResult, Topology } from "./topology.ts";
 * await using topo = await Topology.create();
 * const r: ExecResult = await topo.exec(1, ["ip", "route"]);
 * console.log(r.code, r.stdout);
 * ```
 */
export interface ExecResult {
  /** Exit status. */
  code: number;
  /** Standard output as text. */
  stdout: string;
  /** Standard error as text. */
  stderr: string;
}

/**
 * Options of {@linkcode Topology.exec}.
 *
 * @example Usage
 * ```ts
 * import type { ExecOptions } from "./topology.ts";
 * const opts: ExecOptions = { allowFailure: true, env: { NO_COLOR: "1" } };
 * console.log(opts);
 * ```
 */
export interface ExecOptions {
  /** Return the result instead of throwing when the exit status is not 0. */
  allowFailure?: boolean;
  /** Extra environment for the command. */
  env?: Record<string, string>;
  /** Text written to the command's standard input. */
  stdin?: string;
}

/**
 * A host reference: its 1-based index, its namespace name, or the host itself.
 *
 * @example Usage
 * ```ts
 * import type { HostRef } from "./topology.ts";
 * const byIndex: HostRef = 1;
 * const byName: HostRef = "h1";
 * console.log(byIndex, byName);
 * ```
 */
export type HostRef = number | string | TopologyHost;

const decoder = new TextDecoder();

function defaultBusybox(): string {
  try {
    Deno.statSync("/run/l2tpvm/busybox");
    return "/run/l2tpvm/busybox";
  } catch {
    return "busybox";
  }
}

/**
 * A set of network namespaces joined by veth pairs. Create with {@linkcode Topology.create}.
 *
 * @example Usage
 * ```ts ignore
 * import { Topology } from "./topology.ts";
 * await using topo = await Topology.create({ hosts: 2 });
 * const [h1, h2] = topo.hosts;
 * await topo.exec(h1, ["ping", "-c", "1", h2.ipv4]);
 * ```
 */
export class Topology implements AsyncDisposable {
  /** The hosts, in index order. */
  readonly hosts: readonly TopologyHost[];
  /** Namespace of the bridge when there are more than two hosts, else undefined. */
  readonly switchNetns: string | undefined;
  readonly #ip: string;
  readonly #busybox: string | undefined;
  readonly #children = new Set<Deno.ChildProcess>();
  #destroyed = false;

  private constructor(
    hosts: TopologyHost[],
    switchNetns: string | undefined,
    ip: string,
    busybox: string | undefined,
  ) {
    this.hosts = hosts;
    this.switchNetns = switchNetns;
    this.#ip = ip;
    this.#busybox = busybox;
  }

  /**
   * Create the namespaces and links. On failure, whatever was created is removed again.
   *
   * @param opts Number of hosts, name prefix, `ip` binary.
   * @returns The ready topology.
   * @throws {RangeError} For a host count outside 2..250.
   * @throws {Error} "Cannot create topology: ..." when an `ip` command fails.
   *
   * @example Usage
   * ```ts ignore
   * import { Topology } from "./topology.ts";
   * await using topo = await Topology.create({ hosts: 3 });
   * console.log(topo.hosts.map((h) => h.ipv4)); // ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
   * ```
   */
  static async create(opts: TopologyOptions = {}): Promise<Topology> {
    const n = opts.hosts ?? 2;
    if (!Number.isInteger(n) || n < 2 || n > 250) {
      throw new RangeError(`Cannot create topology: host count ${n} is not in 2..250`);
    }
    const prefix = opts.prefix ?? `h${crypto.randomUUID().slice(0, 4)}-`;
    const hosts: TopologyHost[] = [];
    for (let i = 1; i <= n; i++) {
      hosts.push({
        index: i,
        netns: `${prefix}${i}`,
        ifname: "eth0",
        ipv4: `10.0.0.${i}`,
        ipv6: `fd00::${i.toString(16)}`,
        ipv4Prefix: 24,
        ipv6Prefix: 64,
      });
    }
    const sw = n > 2 ? `${prefix}sw` : undefined;
    const topo = new Topology(hosts, sw, opts.ip ?? "ip", opts.busybox);
    try {
      await topo.#build();
    } catch (e) {
      await topo.destroy().catch(() => {});
      throw new Error(
        `Cannot create topology: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
    return topo;
  }

  async #build(): Promise<void> {
    const namespaces = this.hosts.map((h) => h.netns);
    if (this.switchNetns !== undefined) namespaces.push(this.switchNetns);
    for (const ns of namespaces) {
      await this.#ipCmd(["netns", "add", ns]);
      await this.#ipCmd(["-n", ns, "link", "set", "lo", "up"]);
    }
    if (this.switchNetns === undefined) {
      const [a, b] = this.hosts;
      await this.#ipCmd([
        "link",
        "add",
        a.ifname,
        "netns",
        a.netns,
        "type",
        "veth",
        "peer",
        "name",
        b.ifname,
        "netns",
        b.netns,
      ]);
    } else {
      const sw = this.switchNetns;
      await this.#ipCmd(["-n", sw, "link", "add", "br0", "type", "bridge", "stp_state", "0"]);
      await this.#ipCmd(["-n", sw, "link", "set", "br0", "up"]);
      for (const h of this.hosts) {
        const port = `p${h.index}`;
        await this.#ipCmd([
          "link",
          "add",
          h.ifname,
          "netns",
          h.netns,
          "type",
          "veth",
          "peer",
          "name",
          port,
          "netns",
          sw,
        ]);
        await this.#ipCmd(["-n", sw, "link", "set", port, "master", "br0", "up"]);
      }
    }
    for (const h of this.hosts) {
      await this.#ipCmd([
        "-n",
        h.netns,
        "addr",
        "add",
        `${h.ipv4}/${h.ipv4Prefix}`,
        "dev",
        h.ifname,
      ]);
      await this.#ipCmd([
        "-n",
        h.netns,
        "addr",
        "add",
        `${h.ipv6}/${h.ipv6Prefix}`,
        "dev",
        h.ifname,
        "nodad",
      ]);
      await this.#ipCmd(["-n", h.netns, "link", "set", h.ifname, "up"]);
    }
  }

  async #ipCmd(args: string[]): Promise<void> {
    const out = await new Deno.Command(this.#ip, { args, stdout: "piped", stderr: "piped" })
      .output();
    if (!out.success) {
      throw new Error(
        `${this.#ip} ${args.join(" ")} failed (status ${out.code}): ` +
          decoder.decode(out.stderr).trim(),
      );
    }
  }

  /**
   * Look up a host by 1-based index or namespace name.
   *
   * @param ref Index, namespace name, or a host (returned as is).
   * @returns The host.
   * @throws {RangeError} When there is no such host.
   *
   * @example Usage
   * ```ts ignore
   * import { Topology } from "./topology.ts";
   * await using topo = await Topology.create();
   * console.log(topo.host(2).ipv6); // "fd00::2"
   * ```
   */
  host(ref: HostRef): TopologyHost {
    if (typeof ref === "object") return ref;
    const found = typeof ref === "number"
      ? this.hosts[ref - 1]
      : this.hosts.find((h) => h.netns === ref);
    if (found === undefined) throw new RangeError(`Cannot find host ${ref} in the topology`);
    return found;
  }

  #netnsArgs(ref: HostRef, argv: readonly string[]): string[] {
    if (argv.length === 0) throw new TypeError("Cannot run in namespace: the command is empty");
    return ["netns", "exec", this.host(ref).netns, ...argv];
  }

  /**
   * Run a command inside a host's namespace (`ip netns exec`) and wait for it.
   *
   * @param ref The host.
   * @param argv Program and arguments.
   * @param opts Allow failure, extra environment, standard input text.
   * @returns Exit status and output.
   * @throws {Error} "Cannot run ... in <netns>: ..." when it exits non-zero (unless allowed).
   *
   * @example Usage
   * ```ts ignore
   * import { Topology } from "./topology.ts";
   * await using topo = await Topology.create();
   * const r = await topo.exec(1, ["ip", "-br", "addr"]);
   * console.log(r.stdout);
   * ```
   */
  async exec(ref: HostRef, argv: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    const args = this.#netnsArgs(ref, argv);
    const child = new Deno.Command(this.#ip, {
      args,
      env: opts.env,
      stdin: opts.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (opts.stdin !== undefined) {
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(opts.stdin));
      await w.close();
    }
    const out = await child.output();
    const result = {
      code: out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
    };
    if (out.code !== 0 && !opts.allowFailure) {
      throw new Error(
        `Cannot run ${argv.join(" ")} in ${this.host(ref).netns}: exit status ${out.code}: ` +
          (result.stderr.trim() || result.stdout.trim()),
      );
    }
    return result;
  }

  /**
   * Ping an address from a host (busybox `ping` / `ping6`, chosen by the address family).
   *
   * @param ref The host to ping from.
   * @param address IPv4 or IPv6 address (no prefix).
   * @param opts Count, reply timeout, whether a failure throws.
   * @returns The ping's exit status and output.
   * @throws {Error} "Cannot run ... in <netns>: ..." when no reply came (unless allowed).
   *
   * @example Usage
   * ```ts ignore
   * import { Topology } from "./topology.ts";
   * await using topo = await Topology.create();
   * await topo.ping(1, topo.host(2).ipv6);
   * ```
   */
  async ping(ref: HostRef, address: string, opts: PingOptions = {}): Promise<ExecResult> {
    const applet = address.includes(":") ? "ping6" : "ping";
    return await this.exec(ref, [
      this.#busybox ?? defaultBusybox(),
      applet,
      "-c",
      String(opts.count ?? 1),
      "-W",
      String(opts.timeoutS ?? 5),
      address,
    ], { allowFailure: opts.allowFailure });
  }

  /**
   * Start a long-running command inside a host's namespace (a daemon under test). It is killed
   * (SIGTERM) by {@linkcode Topology.destroy} if still running.
   *
   * @param ref The host.
   * @param argv Program and arguments.
   * @param opts Extra `Deno.CommandOptions` (stdout/stderr default to "piped").
   * @returns The child process.
   *
   * @example Usage
   * ```ts ignore
   * import { Topology } from "./topology.ts";
   * await using topo = await Topology.create();
   * const lns = topo.spawn(2, ["deno", "run", "-A", "main.ts", "-config", "lns.toml"]);
   * ```
   */
  spawn(
    ref: HostRef,
    argv: readonly string[],
    opts: Omit<Deno.CommandOptions, "args"> = {},
  ): Deno.ChildProcess {
    const child = new Deno.Command(this.#ip, {
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      ...opts,
      args: this.#netnsArgs(ref, argv),
    }).spawn();
    this.#children.add(child);
    child.status.finally(() => this.#children.delete(child));
    return child;
  }

  /**
   * Kill processes started with {@linkcode Topology.spawn} and delete every namespace (which
   * deletes the veths and bridge in them). Safe to call more than once.
   *
   * @throws {Error} "Cannot destroy topology: ..." when a namespace could not be deleted.
   *
   * @example Usage
   * ```ts ignore
   * import { Topology } from "./topology.ts";
   * const topo = await Topology.create();
   * await topo.destroy();
   * ```
   */
  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const child of [...this.#children]) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      await child.status;
      // Release output pipes nobody read, so no resource leaks.
      for (const which of ["stdout", "stderr"] as const) {
        let stream: ReadableStream<Uint8Array> | undefined;
        try {
          stream = child[which];
        } catch {
          continue; // not piped
        }
        if (!stream.locked) await stream.cancel().catch(() => {});
      }
    }
    const failures: string[] = [];
    const namespaces = this.hosts.map((h) => h.netns);
    if (this.switchNetns !== undefined) namespaces.push(this.switchNetns);
    for (const ns of namespaces) {
      const out = await new Deno.Command(this.#ip, {
        args: ["netns", "del", ns],
        stdout: "null",
        stderr: "piped",
      }).output();
      const err = decoder.decode(out.stderr);
      if (!out.success && !/No such file|not found/i.test(err)) {
        failures.push(`${ns}: ${err.trim()}`);
      }
    }
    if (failures.length > 0) {
      throw new Error(`Cannot destroy topology: ${failures.join("; ")}`);
    }
  }

  /** Same as {@linkcode Topology.destroy}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.destroy();
  }
}
