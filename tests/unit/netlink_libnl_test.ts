import assert from "node:assert/strict";
import { KernelDataPlane } from "../../dataplane/kernel.ts";
import { AttributeDecoder, AttributeEncoder } from "../../dataplane/netlink/attr.ts";
import { genlDump, genlRequest, request } from "../../dataplane/netlink/conn.ts";
import { NetlinkError } from "../../dataplane/netlink/errors.ts";
import { LibnlError } from "../../dataplane/netlink/libnl.ts";
import { LibnlConnection } from "../../dataplane/netlink/libnl_connection.ts";
import {
  CTRL_ATTR_FAMILY_ID,
  CTRL_ATTR_FAMILY_NAME,
  CTRL_CMD_GETFAMILY,
  encodeGenl,
  GENL_ID_CTRL,
} from "../../dataplane/netlink/message.ts";

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const L2TP_LOADED = exists("/sys/module/l2tp_netlink");
const L2TP_ERROR =
  /^Cannot resolve generic netlink family l2tp: .+ \(libnl error \d+\); is the l2tp_netlink module loaded\?$/;

Deno.test("libnl connection: opens, has a port id, resolves nlctrl", async () => {
  using conn = LibnlConnection.open();
  assert.ok(conn.portId > 0);
  assert.ok(conn.fd >= 0);
  assert.equal(await conn.resolveFamily("nlctrl"), GENL_ID_CTRL);
});

Deno.test("libnl connection: our own GETFAMILY request round-trips through the kernel", async () => {
  using conn = LibnlConnection.open();
  const replies = await genlRequest(conn, GENL_ID_CTRL, {
    header: { command: CTRL_CMD_GETFAMILY, version: 1 },
    attributes: new AttributeEncoder().string(CTRL_ATTR_FAMILY_NAME, "nlctrl").encode(),
  }, "get family nlctrl");
  assert.equal(replies.length, 1);
  const ad = new AttributeDecoder(replies[0].attributes);
  let id: number | undefined;
  while (ad.next()) if (ad.type === CTRL_ATTR_FAMILY_ID) id = ad.u16();
  assert.equal(id, GENL_ID_CTRL);
});

Deno.test("libnl connection: a dump of all families comes back complete", async () => {
  using conn = LibnlConnection.open();
  const parts = await genlDump(conn, GENL_ID_CTRL, {
    header: { command: CTRL_CMD_GETFAMILY, version: 1 },
    attributes: new Uint8Array(0),
  }, "list families");
  const names: string[] = [];
  for (const p of parts) {
    const ad = new AttributeDecoder(p.attributes);
    while (ad.next()) if (ad.type === CTRL_ATTR_FAMILY_NAME) names.push(ad.string());
  }
  assert.ok(names.includes("nlctrl"), names.join(","));
  assert.equal(new Set(names).size, names.length);
});

Deno.test("libnl connection: replies outlive the reused receive buffer", async () => {
  using conn = LibnlConnection.open();
  const ask = (name: string) =>
    genlRequest(conn, GENL_ID_CTRL, {
      header: { command: CTRL_CMD_GETFAMILY, version: 1 },
      attributes: new AttributeEncoder().string(CTRL_ATTR_FAMILY_NAME, name).encode(),
    }, `get family ${name}`);
  const nameOf = (attributes: Uint8Array): string | undefined => {
    const ad = new AttributeDecoder(attributes);
    while (ad.next()) if (ad.type === CTRL_ATTR_FAMILY_NAME) return ad.string();
    return undefined;
  };
  const [first] = await ask("nlctrl");
  const names: string[] = [];
  for (
    const p of await genlDump(conn, GENL_ID_CTRL, {
      header: { command: CTRL_CMD_GETFAMILY, version: 1 },
      attributes: new Uint8Array(0),
    }, "list families")
  ) {
    names.push(nameOf(p.attributes) ?? "");
  }
  assert.ok(names.length > 1);
  assert.equal(nameOf(first.attributes), "nlctrl", "the first reply is intact after a dump");
  using quiet = LibnlConnection.open({ receiveTimeoutMs: 30 });
  assert.equal(quiet.pollShared(), undefined, "nothing waiting: no wait either");
});

Deno.test("libnl connection: kernel errors arrive as NetlinkError with extended ack", async () => {
  using conn = LibnlConnection.open();
  // A family name longer than GENL_NAMSIZ fails policy validation.
  const data = encodeGenl({
    header: { command: CTRL_CMD_GETFAMILY, version: 1 },
    attributes: new AttributeEncoder().string(CTRL_ATTR_FAMILY_NAME, "x".repeat(40)).encode(),
  });
  await assert.rejects(
    request(conn, { type: GENL_ID_CTRL, data }, "get family xxx"),
    (e: unknown) =>
      e instanceof NetlinkError && e.errno === 22 &&
      (e.extAck.offset === undefined || e.extAck.offset === 20) &&
      e.message.startsWith("Cannot get family xxx: Invalid argument (errno 22)"),
  );
  // The connection stays usable after an error.
  assert.equal(await conn.resolveFamily("nlctrl"), GENL_ID_CTRL);
});

Deno.test({
  name: "libnl connection: resolving l2tp without the module fails with a clear error",
  ignore: L2TP_LOADED,
  async fn(): Promise<void> {
    using conn = LibnlConnection.open();
    await assert.rejects(
      conn.resolveFamily("l2tp"),
      (e: unknown) => e instanceof LibnlError && e.code === 12 && L2TP_ERROR.test(e.message),
    );
  },
});

Deno.test({
  name: "KernelDataPlane.open fails with the clear error when l2tp is absent",
  ignore: L2TP_LOADED,
  async fn(): Promise<void> {
    await assert.rejects(
      KernelDataPlane.open(),
      (e: unknown) => e instanceof LibnlError && L2TP_ERROR.test(e.message),
    );
  },
});

Deno.test("libnl connection: close is idempotent and later use is refused", async () => {
  const conn = LibnlConnection.open();
  conn.close();
  conn.close();
  await assert.rejects(conn.send(new Uint8Array(16)), /the netlink connection is closed/);
  await assert.rejects(conn.receive(), /the netlink connection is closed/);
  await assert.rejects(conn.resolveFamily("nlctrl"), /the netlink connection is closed/);
});

Deno.test("libnl connection: receive times out when nothing arrives", async () => {
  using conn = LibnlConnection.open({ receiveTimeoutMs: 30 });
  await assert.rejects(conn.receive(), /no answer from the kernel within 30 ms/);
});

Deno.test("a missing libnl-genl library names the path and the Debian package", async () => {
  const code = `
    import { LibnlConnection } from "${
    new URL("../../dataplane/netlink/libnl_connection.ts", import.meta.url).href
  }";
    try { LibnlConnection.open(); } catch (e) { console.log(e.message); }`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    env: { L2TPD_LIBNL_GENL: "/nonexistent/libnl-genl-3.so.200" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.match(
    text,
    /Cannot load libnl-genl-3: tried \/nonexistent\/libnl-genl-3\.so\.200 \(.*\); install the Debian package libnl-genl-3-200 or set L2TPD_LIBNL_GENL/,
  );
});
