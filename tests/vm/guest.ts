/**
 * The shell scripts that run inside the VM: the initramfs `/init` (stage 1), the script PID 1
 * runs after switching to the host's file system (stage 2), and the per-run job script.
 *
 * Inside the guest:
 * - the kernel console (and everything the init scripts print) goes to `ttyS0`;
 * - the job's stdout and stderr go to `ttyS1`, preceded by the {@linkcode READY_MARKER} line;
 * - the job directory of the host is mounted read-write at {@linkcode GUEST_JOB_DIR}; the job's
 *   exit status is written there to the file `exit`.
 *
 * The root file system is an overlay: the host's `/` over 9p (read-only) below, tmpfs above, so
 * every path (HOME, the Deno cache, `/etc`, `/tmp`) is writable and every write vanishes at
 * power-off. `/run` and `/dev/shm` are fresh tmpfs; `/tmp` is not, so a project checked out under
 * the host's `/tmp` can be run.
 *
 * @module
 */

/**
 * 9p mount tag of the host's root file system.
 *
 * @example Usage
 * ```ts
 * import { HOST_ROOT_TAG } from "./guest.ts";
 * console.log(`-virtfs local,path=/,mount_tag=${HOST_ROOT_TAG},readonly=on`);
 * ```
 */
export const HOST_ROOT_TAG = "hostroot";
/**
 * 9p mount tag of the per-run job directory.
 *
 * @example Usage
 * ```ts
 * import { JOB_TAG } from "./guest.ts";
 * console.log(`-virtfs local,path=/tmp/job,mount_tag=${JOB_TAG}`);
 * ```
 */
export const JOB_TAG = "l2tpvm_job";
/**
 * Where stage 2 finds its files inside the guest.
 *
 * @example Usage
 * ```ts
 * import { GUEST_DIR } from "./guest.ts";
 * console.log(`${GUEST_DIR}/busybox`); // the guest's copy of busybox
 * ```
 */
export const GUEST_DIR = "/run/l2tpvm";
/**
 * Where the job directory is mounted inside the guest.
 *
 * @example Usage
 * ```ts
 * import { GUEST_JOB_DIR } from "./guest.ts";
 * console.log(`${GUEST_JOB_DIR}/exit`); // where the exit status lands
 * ```
 */
export const GUEST_JOB_DIR = `${GUEST_DIR}/job`;
/**
 * The line written on the output port right before the job starts.
 *
 * @example Usage
 * ```ts
 * import { READY_MARKER } from "./guest.ts";
 * const output = "\x01L2TPVM-READY\nhello\n";
 * console.log(output.slice(output.indexOf(READY_MARKER) + READY_MARKER.length)); // "hello\n"
 * ```
 */
export const READY_MARKER = "\x01L2TPVM-READY\n";
/**
 * The exit status used when the guest could not start the job at all.
 *
 * @example Usage
 * ```ts
 * import { SETUP_FAILURE_CODE } from "./guest.ts";
 * console.log(SETUP_FAILURE_CODE); // 125
 * ```
 */
export const SETUP_FAILURE_CODE = 125;

/**
 * Quote a string for a POSIX shell (single quotes; embedded `'` become `'\''`).
 *
 * @param s Any string.
 * @returns A shell word that expands to exactly `s`.
 *
 * @example Usage
 * ```ts
 * import { shQuote } from "./guest.ts";
 * console.log(shQuote("it's")); // 'it'\''s'
 * ```
 */
export function shQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * What the guest should run.
 *
 * @example Usage
 * ```ts
 * import type { JobSpec } from "./guest.ts";
 * const job: JobSpec = { command: ["ip", "l2tp", "show", "tunnel"], cwd: "/", env: {} };
 * console.log(job);
 * ```
 */
export interface JobSpec {
  /** argv (run directly, looked up in PATH) or a shell command line (run by `/bin/sh -c`). */
  command: readonly string[] | string;
  /** Absolute working directory (host paths are visible at the same place in the guest). */
  cwd: string;
  /** The complete environment of the command (nothing else is inherited). */
  env: Readonly<Record<string, string>>;
}

/**
 * The job script: change to the working directory and `exec` the command with exactly the
 * given environment.
 *
 * @param job What to run.
 * @returns The script text, run by busybox `sh` inside the guest.
 * @throws {TypeError} When the command is empty, the directory is relative, or an environment
 *   name is not a valid identifier.
 *
 * @example Usage
 * ```ts
 * import { jobScript } from "./guest.ts";
 * const text = jobScript({ command: ["echo", "hi"], cwd: "/tmp", env: { A: "1" } });
 * console.log(text.includes("'echo' 'hi'")); // true
 * ```
 */
export function jobScript(job: JobSpec): string {
  if (!job.cwd.startsWith("/")) {
    throw new TypeError(`Cannot build VM job: working directory "${job.cwd}" is not absolute`);
  }
  const argv = typeof job.command === "string" ? ["/bin/sh", "-c", job.command] : job.command;
  if (argv.length === 0 || (typeof job.command === "string" && job.command.trim() === "")) {
    throw new TypeError("Cannot build VM job: the command is empty");
  }
  const assignments: string[] = [];
  for (const [name, value] of Object.entries(job.env)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new TypeError(`Cannot build VM job: "${name}" is not a valid environment name`);
    }
    assignments.push(shQuote(`${name}=${value}`));
  }
  const rest = [...assignments, ...argv.map(shQuote)].join(" ");
  // The system's env(1), not busybox's: busybox would prefer its own applets (sh, ip, ...)
  // over the programs in PATH.
  return [
    "# l2tpvm job script (generated by tests/vm/guest.ts)",
    `cd ${shQuote(job.cwd)} || exit ${SETUP_FAILURE_CODE}`,
    `if [ -x /usr/bin/env ]; then exec /usr/bin/env -i ${rest}; fi`,
    `exec ${GUEST_DIR}/busybox env -i ${rest}`,
    "",
  ].join("\n");
}

/** Mount options shared by both 9p mounts. */
const NINEP_OPTS = "trans=virtio,version=9p2000.L,msize=512000";

/**
 * Stage 1, the initramfs `/init`: mount the pseudo file systems, load the modules listed in
 * `/etc/l2tpvm/modules` (one `name path` per line, in load order), build the overlay root from
 * the host's `/`, mount the job directory, and switch to the new root running stage 2.
 *
 * @returns The script text (busybox `sh`).
 *
 * @example Usage
 * ```ts
 * import { initScript } from "./guest.ts";
 * console.log(initScript().startsWith("#!/bin/sh")); // true
 * ```
 */
export function initScript(): string {
  return `#!/bin/sh
# l2tpvm stage 1 (generated by tests/vm/guest.ts): runs as PID 1 from the initramfs.
export PATH=/bin
fail() {
  echo "l2tpvm: FATAL: $*"
  poweroff -f
  sleep 60
}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
while read -r name path; do
  insmod "/lib/modules/$path" || fail "cannot load kernel module $name"
done < /etc/l2tpvm/modules
mkdir -p /mnt/host /mnt/rw /newroot
mount -t 9p -o ${NINEP_OPTS},ro,cache=loose ${HOST_ROOT_TAG} /mnt/host ||
  fail "cannot mount the host root over 9p"
mount -t tmpfs -o mode=0755 rw /mnt/rw
mkdir -p /mnt/rw/upper /mnt/rw/work
mount -t overlay -o lowerdir=/mnt/host,upperdir=/mnt/rw/upper,workdir=/mnt/rw/work overlay \\
  /newroot || fail "cannot mount the overlay root"
mount --move /dev /newroot/dev || fail "cannot move /dev"
mount -t proc proc /newroot/proc
mount -t sysfs sysfs /newroot/sys
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 shm /newroot/dev/shm
# /tmp stays on the overlay (writable, and private to the VM like every path), so a checkout
# that lives under the host's /tmp (as CI clones can) is visible inside.
mount -t tmpfs -o mode=0755 run /newroot/run
mkdir -p /newroot${GUEST_JOB_DIR}
mount -t 9p -o ${NINEP_OPTS} ${JOB_TAG} /newroot${GUEST_JOB_DIR} ||
  fail "cannot mount the job directory over 9p"
cp /bin/busybox /newroot${GUEST_DIR}/busybox
cp /etc/l2tpvm/stage2 /newroot${GUEST_DIR}/stage2
umount /proc /sys
exec switch_root /newroot ${GUEST_DIR}/busybox sh ${GUEST_DIR}/stage2
`;
}

/**
 * Stage 2, PID 1 on the overlay root: set up loopback, run the job with its output on `ttyS1`,
 * record its exit status in the job directory, and power off.
 *
 * @returns The script text (busybox `sh`).
 *
 * @example Usage
 * ```ts
 * import { stage2Script } from "./guest.ts";
 * console.log(stage2Script().includes("poweroff -f")); // true
 * ```
 */
export function stage2Script(): string {
  const ready = READY_MARKER.replace("\x01", "\\001").replace("\n", "\\n");
  return `# l2tpvm stage 2 (generated by tests/vm/guest.ts): PID 1 on the overlay root.
G=${GUEST_DIR}
B=$G/busybox
J=${GUEST_JOB_DIR}
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
$B hostname l2tpvm
$B ip link set lo up
echo "l2tpvm: starting job"
{
  $B stty raw -echo
  printf '${ready}'
  {
    read -r self _ < /proc/self/stat
    $B sh $J/job.sh </dev/null
    echo $? > $J/exit
    # Processes the job left behind would keep the pipe open: kill all but us and cat.
    while [ ! -s $G/cat.pid ]; do $B sleep 0.05; done
    read -r catpid < $G/cat.pid
    for p in /proc/[0-9]*; do
      p=\${p#/proc/}
      [ "$p" = 1 ] || [ "$p" = "$self" ] || [ "$p" = "$catpid" ] || kill -9 "$p" 2>/dev/null
    done
  } 2>&1 | {
    read -r self _ < /proc/self/stat
    echo "$self" > $G/cat.pid
    exec $B cat
  }
} 0<>/dev/ttyS1 1>&0 2>&0
echo "l2tpvm: job exited with status $($B cat $J/exit 2>/dev/null)"
$B sync
$B poweroff -f
$B sleep 60
`;
}
