/**
 * The control plane over real UDP sockets on 127.0.0.1 (dataplane/reactor.ts), real clock: an initiator
 * and a listener whose per-tunnel sockets share the listening port (SO_REUSEADDR, connected to
 * the peer), a tunnel with three sessions set up and torn down, L2TPv2 and L2TPv3, and every fd
 * closed afterwards.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ControlConnection } from "../../control/connection.ts";
import { Listener } from "../../control/listener.ts";
import { libc } from "../../dataplane/ffi/libc.ts";
import { Reactor } from "../../dataplane/reactor.ts";
import { F_GETFD } from "../../dataplane/socket.ts";
import { ethSession, pppSession, recorder } from "./_control_rig.ts";

/** Open fds of this process, probed with fcntl(F_GETFD) (/proc/self/fd needs --allow-all). */
function openFds(): number {
  let n = 0;
  for (let fd = 0; fd < 4096; fd++) if (libc().fcntl(fd, F_GETFD, 0) >= 0) n++;
  return n;
}

/** `p`, or a failure after `ms` real milliseconds. */
async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Cannot finish in ${ms} ms: ${what}`)), ms);
  });
  try {
    return await Promise.race([p, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/** Wait (polling) until `cond` holds, or fail after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`Cannot finish in ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

for (const version of [2, 3] as const) {
  Deno.test(`loopback L2TPv${version}: initiator ↔ listener, 3 sessions up and down, fds closed`, async () => {
    const fdsBefore = openFds();
    const reactor = new Reactor();
    const listenSock = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
    const local = listenSock.local;
    const lns = recorder();
    const lac = recorder();
    // L2TPv2: any call gets the PPP session's settings; L2TPv3: one session per circuit.
    const templates = version === 2
      ? [pppSession("any")]
      : [1, 2, 3].map((i) => ethSession(`pw${i}`, `circuit-${i}`));
    const stopHold = 300;
    const listener = new Listener({
      socket: listenSock,
      encap: "udp",
      local,
      tunnels: [{
        name: "lns",
        version,
        peer: { address: "127.0.0.1", port: 0 },
        connection: {
          hostName: "lns",
          secret: "loopback",
          sessions: templates,
          hooks: lns.hooks,
          onEvent: (e) => lns.events.push(e),
          transport: { stopHold },
        },
      }],
      openSocket: (req) => reactor.udp({ local: req.local, peer: req.peer }),
    });
    listener.start();
    const lacSock = reactor.udp({ local: { address: "127.0.0.1", port: 0 } });
    const conn = new ControlConnection({
      version,
      encap: "udp",
      role: "initiator",
      socket: lacSock,
      peer: local,
      hostName: "lac",
      secret: "loopback",
      hooks: lac.hooks,
      onEvent: (e) => lac.events.push(e),
      transport: { stopHold },
    });
    conn.start();
    const sessions = [1, 2, 3].map((i) =>
      conn.openSession(version === 2 ? pppSession(`s${i}`) : ethSession(`s${i}`, `circuit-${i}`))
    );
    assert.equal(await within(5000, conn.established, "tunnel up"), true);
    const up = await within(5000, Promise.all(sessions.map((s) => s.established)), "sessions up");
    assert.deepEqual(up, [true, true, true]);
    const [lnsConn] = listener.connections;
    assert.ok(lnsConn);
    assert.equal(lnsConn.peerTunnelId, conn.localTunnelId);
    assert.equal(lac.tunnelUps[0].peer.port, local.port, "the tunnel socket shares the port");
    // The responder's sessions come up when the ICCNs arrive.
    await until(() => lns.sessionUps.length === 3, 5000, "LNS sessions");
    if (version === 3) {
      assert.deepEqual(lns.sessionUps.map((s) => s.session.name).sort(), ["pw1", "pw2", "pw3"]);
    }

    // Tear down: the sessions, then the tunnel.
    await within(5000, conn.closeSession(sessions[0].localSessionId), "session closed");
    await within(5000, conn.close(), "StopCCN sent");
    await within(5000, Promise.all([conn.done, lnsConn.done]), "StopCCN hold over");
    assert.equal(lac.tunnelDowns.length, 1);
    assert.equal(lns.tunnelDowns.length, 1);
    assert.equal(lns.sessionDowns.length, 3);
    assert.equal(lac.sessionDowns.length, 3);
    assert.equal(listener.connections.length, 0);

    lacSock.close();
    listenSock.close();
    await reactor[Symbol.asyncDispose]();
    assert.equal(openFds(), fdsBefore, "every fd closed");
  });
}
