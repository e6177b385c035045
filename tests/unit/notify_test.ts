/**
 * dataplane/notify.ts against real AF_UNIX datagram sockets bound here through libc, as
 * systemd's notify socket is: a path and an abstract name, the exact bytes of each notification,
 * the sender's credentials as systemd reads them (`SO_PASSCRED`: the daemon's own pid, what
 * `NotifyAccess=main` accepts), and the failures (no socket, nobody listening, bad addresses).
 *
 * @module
 */

import assert from "node:assert/strict";
import { errno, libc, OsError, strerror } from "../../dataplane/ffi/libc.ts";
import {
  monotonicUsec,
  notify,
  notifyReady,
  notifyReloading,
  notifySocketAddress,
  notifyStatus,
  notifyStopping,
} from "../../dataplane/notify.ts";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_PASSCRED = 16;
const SCM_CREDENTIALS = 2;
const MSG_PEEK = 0x2;
const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;
const ENOENT = 2;
const ECONNREFUSED = 111;

const decoder = new TextDecoder();

/** What one datagram said, and who sent it (the kernel's SCM_CREDENTIALS). */
interface Received {
  text: string;
  pid: number;
  uid: number;
}

/** A bound AF_UNIX datagram socket with SO_PASSCRED, as systemd's notify socket. */
class Receiver implements Disposable {
  readonly fd: number;
  /** The NOTIFY_SOCKET value that names it. */
  readonly address: string;
  readonly #path?: string;

  constructor(address: string) {
    this.address = address;
    const c = libc();
    this.fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert.ok(this.fd >= 0, `socket: ${strerror(errno())}`);
    const one = new Uint8Array(4);
    new DataView(one.buffer).setInt32(0, 1, true);
    assert.equal(c.setsockopt(this.fd, SOL_SOCKET, SO_PASSCRED, one, 4), 0);
    const sa = notifySocketAddress(address);
    if (c.bind(this.fd, sa, sa.length) < 0) {
      const code = errno();
      c.close(this.fd);
      throw new OsError(`bind ${address}`, code, strerror(code));
    }
    if (!address.startsWith("@")) this.#path = address;
  }

  /** The next queued datagram (the send is synchronous: it is there once notify returns). */
  receive(): Received {
    const data = new Uint8Array(4096);
    const control = new Uint8Array(64);
    const iov = new Uint8Array(16);
    const iv = new DataView(iov.buffer);
    iv.setBigUint64(0, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(data))), true);
    iv.setBigUint64(8, BigInt(data.length), true);
    // struct msghdr on x86_64/aarch64: name, namelen (+pad), iov, iovlen, control, controllen,
    // flags (+pad).
    const msg = new Uint8Array(56);
    const mv = new DataView(msg.buffer);
    mv.setBigUint64(16, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(iov))), true);
    mv.setBigUint64(24, 1n, true);
    mv.setBigUint64(32, BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(control))), true);
    mv.setBigUint64(40, BigInt(control.length), true);
    const n = libc().recvmsg(this.fd, msg, MSG_DONTWAIT);
    if (n < 0n) {
      const code = errno();
      throw new OsError(`receive on ${this.address}`, code, strerror(code));
    }
    // The first control message: struct cmsghdr { size_t len; int level; int type; } + ucred.
    const cv = new DataView(control.buffer);
    assert.ok(mv.getBigUint64(40, true) >= 28n, "no SCM_CREDENTIALS control message");
    assert.equal(cv.getInt32(8, true), SOL_SOCKET);
    assert.equal(cv.getInt32(12, true), SCM_CREDENTIALS);
    return {
      text: decoder.decode(data.subarray(0, Number(n))),
      pid: cv.getInt32(16, true),
      uid: cv.getUint32(20, true),
    };
  }

  /** Whether a datagram is waiting. */
  empty(): boolean {
    const n = libc().recvfrom(this.fd, new Uint8Array(1), 1n, MSG_DONTWAIT | MSG_PEEK, null, null);
    return n < 0n && errno() === EAGAIN;
  }

  [Symbol.dispose](): void {
    libc().close(this.fd);
    if (this.#path !== undefined) {
      try {
        Deno.removeSync(this.#path);
      } catch {
        // already gone
      }
    }
  }
}

/** Run `body` with NOTIFY_SOCKET set to `value` (or unset), restoring it afterwards. */
function withNotifySocket<T>(value: string | undefined, body: () => T): T {
  const before = Deno.env.get("NOTIFY_SOCKET");
  if (value === undefined) Deno.env.delete("NOTIFY_SOCKET");
  else Deno.env.set("NOTIFY_SOCKET", value);
  try {
    return body();
  } finally {
    if (before === undefined) Deno.env.delete("NOTIFY_SOCKET");
    else Deno.env.set("NOTIFY_SOCKET", before);
  }
}

function tempSocketPath(): string {
  return `${Deno.makeTempDirSync({ prefix: "l2tpd-notify-" })}/notify`;
}

Deno.test("notify: without NOTIFY_SOCKET (unset or empty) nothing is sent and the result is false", () => {
  withNotifySocket(undefined, () => {
    assert.equal(notify("READY=1"), false);
    assert.equal(notifyReady(), false);
    assert.equal(notifyReloading(), false);
    assert.equal(notifyStopping(), false);
    assert.equal(notifyStatus("x"), false);
  });
  withNotifySocket("", () => assert.equal(notifyReady(), false));
});

Deno.test("notify: a socket path receives each helper's exact datagram, sent by this process", () => {
  const path = tempSocketPath();
  try {
    using rx = new Receiver(path);
    withNotifySocket(path, () => {
      assert.equal(notifyReady(), true);
      const ready = rx.receive();
      assert.equal(ready.text, "READY=1");
      // What systemd checks for NotifyAccess=main: the sender is the main process itself.
      assert.equal(ready.pid, Deno.pid);
      assert.equal(ready.uid, Deno.uid());

      assert.equal(notifyStopping(), true);
      assert.equal(rx.receive().text, "STOPPING=1");

      assert.equal(notifyStatus("2 tunnels up\nreloading\r\nsoon"), true);
      assert.equal(rx.receive().text, "STATUS=2 tunnels up reloading soon");

      assert.equal(notify("STATUS=a\nREADY=1"), true);
      assert.equal(rx.receive().text, "STATUS=a\nREADY=1");
      assert.ok(rx.empty(), "one datagram per call");
    });
  } finally {
    Deno.removeSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  }
});

Deno.test("notify: reloading carries MONOTONIC_USEC from CLOCK_MONOTONIC, taken at the call", () => {
  const path = tempSocketPath();
  try {
    using rx = new Receiver(path);
    withNotifySocket(path, () => {
      const before = monotonicUsec();
      assert.equal(notifyReloading(), true);
      const after = monotonicUsec();
      const m = /^RELOADING=1\nMONOTONIC_USEC=(\d+)$/.exec(rx.receive().text);
      assert.ok(m, "RELOADING=1 then MONOTONIC_USEC=<decimal>");
      const usec = BigInt(m[1]);
      assert.ok(before <= usec && usec <= after, `${before} <= ${usec} <= ${after}`);
      assert.ok(before > 0n);
    });
  } finally {
    Deno.removeSync(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  }
});

Deno.test("notify: an @name socket is in the abstract namespace", () => {
  const name = `@l2tpd-notify-test-${Deno.pid}-${crypto.randomUUID()}`;
  using rx = new Receiver(name);
  withNotifySocket(name, () => {
    assert.equal(notifyReady(), true);
    const got = rx.receive();
    assert.equal(got.text, "READY=1");
    assert.equal(got.pid, Deno.pid);
  });
  // Nothing appeared in the file system under that name.
  assert.throws(() => Deno.statSync(name.slice(1)), Deno.errors.NotFound);
});

Deno.test("notify: the address bytes of a path and of an abstract name", () => {
  const sa = notifySocketAddress("/run/systemd/notify");
  assert.equal(sa.length, 2 + "/run/systemd/notify".length + 1);
  assert.equal(new DataView(sa.buffer).getUint16(0, true), AF_UNIX);
  assert.equal(decoder.decode(sa.subarray(2, sa.length - 1)), "/run/systemd/notify");
  assert.equal(sa[sa.length - 1], 0);

  const ab = notifySocketAddress("@x/y");
  assert.deepEqual(
    [...ab.subarray(2)],
    [0, ..."x/y"].map((c) => typeof c === "number" ? c : c.charCodeAt(0)),
  );

  // sun_path holds 108 bytes: a path of 107 and its NUL fit, 108 do not; likewise abstract names.
  assert.equal(notifySocketAddress("/" + "a".repeat(106)).length, 110);
  assert.throws(() => notifySocketAddress("/" + "a".repeat(107)), /needs 109 bytes of sun_path/);
  assert.equal(notifySocketAddress("@" + "a".repeat(107)).length, 110);
  assert.throws(() => notifySocketAddress("@" + "a".repeat(108)), /needs 109 bytes of sun_path/);
});

Deno.test("notify: bad addresses and failed sends throw 'Cannot notify systemd ...'", () => {
  for (const bad of ["run/systemd/notify", "vsock:2:1234"]) {
    withNotifySocket(bad, () => {
      assert.throws(() => notifyReady(), /^Error: Cannot notify systemd: NOTIFY_SOCKET must be/);
    });
  }
  assert.throws(() => notifySocketAddress("/a\0b"), /Cannot notify systemd: .*NUL byte/);

  const dir = Deno.makeTempDirSync({ prefix: "l2tpd-notify-" });
  try {
    withNotifySocket(`${dir}/missing`, () => {
      assert.throws(
        () => notifyReady(),
        (e: unknown) =>
          e instanceof OsError && e.errno === ENOENT &&
          e.message.startsWith(`Cannot notify systemd through ${dir}/missing: `),
      );
    });
    // A socket file whose owner has closed it: nobody listening.
    const stale = `${dir}/stale`;
    const c = libc();
    const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const sa = notifySocketAddress(stale);
    assert.equal(c.bind(fd, sa, sa.length), 0);
    c.close(fd);
    withNotifySocket(stale, () => {
      assert.throws(
        () => notifyReady(),
        (e: unknown) => e instanceof OsError && e.errno === ECONNREFUSED,
      );
      assert.throws(() => notify(""), /Cannot notify systemd: the state to send is empty/);
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
