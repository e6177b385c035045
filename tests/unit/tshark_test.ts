/**
 * Independent check of the codec by Wireshark's dissector: our encoded messages are written to
 * a pcap (raw IPv4, UDP port 1701 and IP protocol 115), dissected by `tshark -T pdml`, and every
 * field tshark shows is compared with what we encoded: message type, tunnel/session or control
 * connection IDs, Ns/Nr, and for each AVP its M/H bits, length, vendor, type and value. tshark
 * also verifies our L2TPv3 Message Digests (HMAC-MD5 and HMAC-SHA-1, with and without nonces);
 * the test requires that no expert info or malformed-packet mark appears, except the
 * "Vendor-Specific AVP data" note on our vendor AVP and the digest error on one packet whose
 * digest we corrupt on purpose (a negative control proving the digest check ran).
 *
 * Skipped (reported as "ignored") when tshark is not installed. CI installs it with
 * `apt-get install -y tshark`.
 */

import assert from "node:assert/strict";
import type { Avp } from "../../control/avp.ts";
import { digestKey } from "../../control/auth.ts";
import { AvpType, MessageType } from "../../control/constants.ts";
import type { Transport } from "../../control/header.ts";
import {
  type ControlMessage,
  decodeControl,
  encodeControl,
  type EncodeOptions,
  type OutgoingControlMessage,
} from "../../control/message.ts";
import { toHex } from "../fixtures/codec/hex.ts";
import { ipv4, ipv4Udp, pcapFile } from "../fixtures/codec/pcap.ts";
import { findAll, parsePdml, type PdmlNode, type PdmlPacket } from "../fixtures/codec/pdml.ts";
import { v2Samples, v3Samples } from "../fixtures/codec/samples.ts";

function tsharkAvailable(): boolean {
  try {
    return new Deno.Command("tshark", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
}

const HAVE_TSHARK = tsharkAvailable();
const SECRET = "wireshark-checks-this";

/** One packet of the capture and what the test expects of it. */
interface Sent {
  /** The L2TP payload (UDP payload, or IP payload for transport "ip"). */
  l2tp: Uint8Array;
  transport: Transport;
  ip: Uint8Array;
  /** Expect the "Vendor-Specific AVP data" note. */
  vendorData?: boolean;
  /** Expect tshark to flag the Message Digest as incorrect. */
  badDigest?: boolean;
}

class Capture {
  readonly sent: Sent[] = [];

  udp(from: string, to: string, msg: OutgoingControlMessage, opts: EncodeOptions = {}): Sent {
    const l2tp = encodeControl(msg, opts);
    const s: Sent = {
      l2tp,
      transport: "udp",
      ip: ipv4Udp(from, 1701, to, 1701, l2tp, this.sent.length + 1),
    };
    this.sent.push(s);
    return s;
  }

  ip(from: string, to: string, msg: OutgoingControlMessage, opts: EncodeOptions = {}): Sent {
    const l2tp = encodeControl(msg, { ...opts, transport: "ip" });
    const s: Sent = { l2tp, transport: "ip", ip: ipv4(from, to, 115, l2tp, this.sent.length + 1) };
    this.sent.push(s);
    return s;
  }
}

function withNonce(m: OutgoingControlMessage, nonce: Uint8Array): OutgoingControlMessage {
  return {
    ...m,
    avps: m.avps?.map((a) =>
      (a.kind === undefined || a.kind === "ietf") && a.type === AvpType.ControlMessageAuthNonce
        ? { ...a, value: nonce }
        : a
    ),
  };
}

function buildCapture(): Capture {
  const cap = new Capture();

  // L2TPv2 over UDP: every message type, plus hidden AVPs and a vendor AVP.
  const [lac, lns] = ["192.0.2.1", "192.0.2.2"];
  v2Samples().forEach((m, i) => cap.udp(i % 2 ? lns : lac, i % 2 ? lac : lns, m));
  cap.udp(lac, lns, {
    version: 2,
    tunnelId: 0x1234,
    ns: 14,
    nr: 11,
    type: MessageType.ICRQ,
    avps: [
      { type: AvpType.AssignedSessionId, value: 0x0505, hidden: true },
      { type: AvpType.CallSerialNumber, value: 77 },
      { type: AvpType.CalledNumber, value: "5551212", hidden: true },
    ],
  }, { secret: SECRET, hiddenPadding: 8 });
  cap.udp(lns, lac, {
    version: 2,
    tunnelId: 0x2345,
    ns: 12,
    nr: 15,
    type: MessageType.HELLO,
    avps: [{ kind: "vendor", vendorId: 12345, type: 3, value: new Uint8Array([1, 2, 3, 4]) }],
  }).vendorData = true;

  // L2TPv3 with Control Message Authentication (nonces exchanged in SCCRQ/SCCRP), over UDP
  // and over IP, alternating HMAC-MD5 and HMAC-SHA-1.
  const nonceA = new Uint8Array(20).map((_, i) => 0xa0 + i);
  const nonceB = new Uint8Array(17).map((_, i) => 0x30 + i);
  const key = digestKey(SECRET);
  const flows = [
    { send: cap.udp.bind(cap), a: "198.51.100.1", b: "198.51.100.2" },
    { send: cap.ip.bind(cap), a: "203.0.113.1", b: "203.0.113.2" },
  ];
  for (const { send, a, b } of flows) {
    const msgs = v3Samples(nonceA).filter((m) => m.type !== null);
    msgs[1] = withNonce(msgs[1], nonceB); // the SCCRP carries B's nonce
    msgs.forEach((m, i) => {
      const fromB = i === 1 || (i > 1 && i % 2 === 0);
      const digest = {
        type: (i % 2) as 0 | 1,
        key,
        localNonce: fromB ? nonceB : nonceA,
        remoteNonce: fromB ? nonceA : nonceB,
      };
      const hidden: OutgoingControlMessage = m.type === MessageType.ICRQ
        ? {
          ...m,
          avps: m.avps?.map((x) => x.type === AvpType.RemoteEndId ? { ...x, hidden: true } : x),
        }
        : m;
      send(fromB ? b : a, fromB ? a : b, hidden, { digest, secret: SECRET });
    });
    // Negative control: a HELLO whose digest is corrupted after signing.
    const bad = send(a, b, {
      version: 3,
      tunnelId: 0x0a0b0c0d,
      ns: 16,
      nr: 12,
      type: MessageType.HELLO,
    }, {
      digest: { key, localNonce: nonceA, remoteNonce: nonceB },
    });
    bad.l2tp[bad.l2tp.length - 1] ^= 0xff;
    bad.ip[bad.ip.length - 1] ^= 0xff;
    if (bad.transport === "udp") {
      // keep the UDP checksum right: rebuild the packet around the corrupted payload
      bad.ip = ipv4Udp(a, 1701, b, 1701, bad.l2tp, cap.sent.length);
    }
    bad.badDigest = true;
  }

  // L2TPv3 without nonces: the integrity-only digest with an empty secret (RFC 3931 §4.3).
  const [c, d] = ["192.0.2.10", "192.0.2.11"];
  const integrity = { key: digestKey("") };
  const plain = v3Samples().filter((m) =>
    m.type === MessageType.SCCRQ || m.type === MessageType.SCCRP || m.type === MessageType.HELLO ||
    m.type === null
  ).map((m) => ({
    ...m,
    avps: m.avps?.filter((x) => x.type !== AvpType.ControlMessageAuthNonce),
  }));
  plain.forEach((m, i) =>
    cap.udp(i % 2 ? d : c, i % 2 ? c : d, m, m.type === null ? {} : { digest: integrity })
  );
  return cap;
}

function runTshark(pcap: Uint8Array): PdmlPacket[] {
  const file = Deno.makeTempFileSync({ suffix: ".pcap" });
  try {
    Deno.writeFileSync(file, pcap);
    const out = new Deno.Command("tshark", {
      args: [
        "-r",
        file,
        "-T",
        "pdml",
        "-o",
        `l2tp.shared_secret:${SECRET}`,
        "-o",
        "ip.check_checksum:TRUE",
        "-o",
        "udp.check_checksum:TRUE",
      ],
      stdout: "piped",
      stderr: "piped",
      env: { HOME: Deno.makeTempDirSync() },
    }).outputSync();
    assert.ok(out.success, `tshark failed: ${new TextDecoder().decode(out.stderr)}`);
    return parsePdml(new TextDecoder().decode(out.stdout));
  } finally {
    Deno.removeSync(file);
  }
}

function field(node: PdmlNode, name: string): PdmlNode {
  const found = findAll(node, name);
  assert.ok(found.length > 0, `tshark shows no ${name} in ${node.attrs.show ?? node.name}`);
  return found[0];
}

function num(node: PdmlNode, name: string): bigint {
  const show = field(node, name).attrs.show;
  return BigInt(show);
}

function assertNum(
  node: PdmlNode,
  name: string,
  want: number | bigint | boolean,
  where: string,
): void {
  const w = typeof want === "boolean" ? (want ? 1n : 0n) : BigInt(want);
  assert.equal(num(node, name), w, `${where}: ${name}`);
}

function assertStr(node: PdmlNode, name: string, want: string, where: string): void {
  assert.equal(field(node, name).attrs.show, want, `${where}: ${name}`);
}

function assertBytes(node: PdmlNode, name: string, want: Uint8Array, where: string): void {
  assert.equal(field(node, name).attrs.value ?? "", toHex(want), `${where}: ${name}`);
}

/** Checks the value fields tshark shows for one of our (non-hidden) IETF AVPs. */
function assertAvpValue(t: PdmlNode, a: Avp, where: string): void {
  if (a.kind !== "ietf") return;
  const n = (name: string, v: number | bigint | boolean): void =>
    assertNum(t, `l2tp.avp.${name}`, v, where);
  const s = (name: string, v: string): void => assertStr(t, `l2tp.avp.${name}`, v, where);
  const b = (name: string, v: Uint8Array): void => assertBytes(t, `l2tp.avp.${name}`, v, where);
  switch (a.type) {
    case AvpType.ResultCode:
      assertNum(t, "l2tp.result_code", a.value.resultCode, where);
      if (a.value.errorCode !== undefined) n("error_code", a.value.errorCode);
      if (a.value.errorMessage !== undefined) s("error_message", a.value.errorMessage);
      return;
    case AvpType.ProtocolVersion:
      n("protocol_version", a.value.version);
      return n("protocol_revision", a.value.revision);
    case AvpType.FramingCapabilities:
      n("async_framing_supported", a.value.async);
      return n("sync_framing_supported", a.value.sync);
    case AvpType.BearerCapabilities:
      n("analog_access_supported", a.value.analog);
      return n("digital_access_supported", a.value.digital);
    case AvpType.TieBreaker:
      return assertNum(t, "l2tp.tie_breaker", a.value, where);
    case AvpType.FirmwareRevision:
      return n("firmware_revision", a.value);
    case AvpType.HostName:
      return s("host_name", a.value);
    case AvpType.VendorName:
      return s("vendor_name", a.value);
    case AvpType.AssignedTunnelId:
      return n("assigned_tunnel_id", a.value);
    case AvpType.ReceiveWindowSize:
      return n("receive_window_size", a.value);
    case AvpType.Challenge:
      return b("chap_challenge", a.value);
    case AvpType.Q931CauseCode:
      n("cause_code", a.value.causeCode);
      n("cause_msg", a.value.causeMessage);
      if (a.value.advisory !== undefined) s("advisory_msg", a.value.advisory);
      return;
    case AvpType.ChallengeResponse:
      return b("chap_challenge_response", a.value);
    case AvpType.AssignedSessionId:
      return n("assigned_session_id", a.value);
    case AvpType.CallSerialNumber:
      return n("call_serial_number", a.value);
    case AvpType.MinimumBps:
      return n("minimum_bps", a.value);
    case AvpType.MaximumBps:
      return n("maximum_bps", a.value);
    case AvpType.BearerType:
      n("analog_bearer_type", a.value.analog);
      return n("digital_bearer_type", a.value.digital);
    case AvpType.FramingType:
      n("async_framing_type", a.value.async);
      return n("sync_framing_type", a.value.sync);
    case AvpType.CalledNumber:
      return s("called_number", a.value);
    case AvpType.CallingNumber:
      return s("calling_number", a.value);
    case AvpType.SubAddress:
      return s("sub_address", a.value);
    case AvpType.TxConnectSpeed:
      return n("connect_speed", a.value);
    case AvpType.PhysicalChannelId:
      return n("physical_channel", a.value);
    case AvpType.InitialReceivedLcpConfreq:
      return b("initial_received_lcp_confreq", a.value);
    case AvpType.LastSentLcpConfreq:
      return b("last_sent_lcp_confreq", a.value);
    case AvpType.LastReceivedLcpConfreq:
      return b("last_received_lcp_confreq", a.value);
    case AvpType.ProxyAuthenType:
      return n("proxy_authen_type", a.value);
    case AvpType.ProxyAuthenName:
      return s("proxy_authen_name", a.value);
    case AvpType.ProxyAuthenChallenge:
      return b("proxy_authen_challenge", a.value);
    case AvpType.ProxyAuthenId:
      return n("proxy_authen_id", a.value);
    case AvpType.ProxyAuthenResponse:
      return b("proxy_authen_response", a.value);
    case AvpType.CallErrors:
      n("crc_errors", a.value.crcErrors);
      n("framing_errors", a.value.framingErrors);
      n("hardware_overruns", a.value.hardwareOverruns);
      n("buffer_overruns", a.value.bufferOverruns);
      n("time_out_errors", a.value.timeoutErrors);
      return n("alignment_errors", a.value.alignmentErrors);
    case AvpType.Accm:
      n("send_accm", a.value.sendAccm);
      return n("receive_accm", a.value.receiveAccm);
    case AvpType.RandomVector:
      return b("random_vector", a.value);
    case AvpType.PrivateGroupId:
      return b("private_group_id", a.value);
    case AvpType.RxConnectSpeed:
      return n("rx_connect_speed", a.value);
    case AvpType.SequencingRequired:
      return;
    case AvpType.MessageDigest:
      return b("message_digest", new Uint8Array([a.value.digestType, ...a.value.digest]));
    case AvpType.RouterId:
      return n("router_id", a.value);
    case AvpType.AssignedControlConnectionId:
      return n("assigned_control_conn_id", a.value);
    case AvpType.PseudowireCapabilities: {
      const shown = findAll(t, "l2tp.avp.pw_type").map((f) => Number(f.attrs.show));
      return assert.deepEqual(shown, a.value, `${where}: pw_type list`);
    }
    case AvpType.LocalSessionId:
      return n("local_session_id", a.value);
    case AvpType.RemoteSessionId:
      return n("remote_session_id", a.value);
    case AvpType.AssignedCookie:
      return b("assigned_cookie", a.value);
    case AvpType.RemoteEndId:
      return s("remote_end_id", new TextDecoder().decode(a.value));
    case AvpType.PseudowireType:
      return n("pseudowire_type", a.value);
    case AvpType.L2SpecificSublayer:
      return n("layer2_specific_sublayer", a.value);
    case AvpType.DataSequencing:
      return n("data_sequencing", a.value);
    case AvpType.CircuitStatus:
      n("circuit_status", a.value.active);
      return n("circuit_type", a.value.new);
    case AvpType.PreferredLanguage:
      return s("preferred_language", a.value);
    case AvpType.ControlMessageAuthNonce:
      return b("nonce", a.value);
    case AvpType.TxConnectSpeedV3:
      return n("tx_connect_speed_v3", a.value);
    case AvpType.RxConnectSpeedV3:
      return n("rx_connect_speed_v3", a.value);
    default:
      assert.fail(`${where}: no tshark expectation for AVP type ${a.type}`);
  }
}

/** AVP lengths read straight from our bytes (independent of the decoder). */
function wireLengths(msg: Uint8Array): number[] {
  const out: number[] = [];
  for (let o = 12; o < msg.length; o += out[out.length - 1]) {
    out.push(((msg[o] << 8) | msg[o + 1]) & 0x3ff);
  }
  return out;
}

function checkPacket(p: PdmlPacket, s: Sent, index: number): void {
  const where = `packet ${index + 1}`;
  const l2tp = p.protos.find((x) => x.name === "l2tp");
  assert.ok(l2tp, `${where}: not dissected as L2TP`);
  const msg: ControlMessage = decodeControl(s.l2tp, { transport: s.transport, secret: SECRET });
  const body = s.transport === "ip" ? s.l2tp.subarray(4) : s.l2tp;

  // Header
  assertNum(l2tp, "l2tp.type", 1, where);
  assertNum(l2tp, "l2tp.length_bit", 1, where);
  assertNum(l2tp, "l2tp.seq_bit", 1, where);
  assertNum(l2tp, "l2tp.version", msg.version, where);
  assertNum(l2tp, "l2tp.length", body.length, where);
  if (msg.version === 2) {
    assertNum(l2tp, "l2tp.tunnel", msg.tunnelId, where);
    assertNum(l2tp, "l2tp.session", msg.sessionId, where);
  } else {
    assertNum(l2tp, "l2tp.ccid", msg.tunnelId, where);
    if (s.transport === "ip") assertNum(l2tp, "l2tp.sid", 0, where);
  }
  assertNum(l2tp, "l2tp.Ns", msg.ns, where);
  assertNum(l2tp, "l2tp.Nr", msg.nr, where);

  // AVPs: tshark's AVP subtrees are the unnamed children holding an l2tp.avp.length field.
  const trees = l2tp.children.filter((c) =>
    c.name === "" && c.children.some((f) => f.name === "l2tp.avp.length")
  );
  if (msg.type === null) {
    field(l2tp, "l2tp.zero_length_body_message");
    assert.equal(trees.length, 0, `${where}: ZLB shows AVPs`);
    return;
  }
  const lengths = wireLengths(body);
  assert.equal(trees.length, 1 + msg.avps.length, `${where}: AVP count`);
  assertNum(trees[0], "l2tp.avp.message_type", msg.type, `${where} Message Type`);
  assertNum(trees[0], "l2tp.avp.mandatory", true, `${where} Message Type`);
  msg.avps.forEach((a, j) => {
    const t = trees[j + 1];
    const w = `${where} AVP #${j + 1} (vendor ${a.vendorId} type ${a.type})`;
    assertNum(t, "l2tp.avp.mandatory", a.mandatory, w);
    assertNum(t, "l2tp.avp.hidden", a.hidden, w);
    assertNum(t, "l2tp.avp.length", lengths[j + 1], w);
    assert.equal(Number(t.attrs.size), lengths[j + 1], `${w}: subtree size`);
    if (a.hidden) {
      // tshark does not reveal hidden AVPs: nothing more is shown.
      assert.equal(findAll(t, "l2tp.avp.type").length, 0, `${w}: hidden AVP shown`);
      return;
    }
    assertNum(t, "l2tp.avp.vendor_id", a.vendorId, w);
    assertNum(t, "l2tp.avp.type", a.type, w);
    assertAvpValue(t, a, w);
  });
}

function expertNames(p: PdmlPacket): string[] {
  const names: string[] = [];
  for (const proto of p.protos) {
    if (proto.name === "_ws.malformed") names.push("_ws.malformed");
    for (const e of [...findAll(proto, "_ws.expert"), ...findAll(proto, "_ws.malformed")]) {
      if (e.name === "_ws.malformed") {
        names.push("_ws.malformed");
        continue;
      }
      const specific = e.children.find((c) => !c.name.startsWith("_ws.expert"));
      names.push(specific?.name ?? e.attrs.showname ?? "expert");
    }
  }
  return names;
}

Deno.test({
  name: "tshark dissects every encoded message as we encoded it, with no expert info",
  ignore: !HAVE_TSHARK,
  fn(): void {
    const cap = buildCapture();
    const packets = runTshark(pcapFile(cap.sent.map((s) => s.ip)));
    assert.equal(packets.length, cap.sent.length, "packet count");
    const seenTypes = new Set<string>();
    packets.forEach((p, i) => {
      const s = cap.sent[i];
      checkPacket(p, s, i);
      const msg = decodeControl(s.l2tp, { transport: s.transport, secret: SECRET });
      seenTypes.add(`v${msg.version}/${s.transport}/${msg.type}`);
      const experts = expertNames(p);
      const expected = [
        ...(s.vendorData ? ["l2tp.vendor_specific_avp_data"] : []),
        ...(s.badDigest ? ["l2tp.incorrect_digest"] : []),
      ];
      assert.deepEqual(experts, expected, `packet ${i + 1}: expert info`);
    });
    // Every message type went through tshark in each form.
    for (const t of [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, null]) {
      assert.ok(seenTypes.has(`v2/udp/${t}`), `v2 type ${t} not checked`);
    }
    for (const t of [1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 20]) {
      assert.ok(seenTypes.has(`v3/udp/${t}`), `v3/udp type ${t} not checked`);
      assert.ok(seenTypes.has(`v3/ip/${t}`), `v3/ip type ${t} not checked`);
    }
  },
});

Deno.test({
  name:
    "tshark test data: the capture exercises hidden AVPs, both digests and the negative control",
  ignore: !HAVE_TSHARK,
  fn(): void {
    const cap = buildCapture();
    const decoded = cap.sent.map((s) =>
      decodeControl(s.l2tp, { transport: s.transport, secret: SECRET })
    );
    const avps = decoded.flatMap((m) => m.avps);
    assert.ok(avps.some((a) => a.hidden && a.kind === "ietf" && a.type === AvpType.CalledNumber));
    assert.ok(avps.some((a) => a.hidden && a.kind === "ietf" && a.type === AvpType.RemoteEndId));
    const digestTypes = new Set(
      avps.flatMap((a) =>
        a.kind === "ietf" && a.type === AvpType.MessageDigest ? [a.value.digestType] : []
      ),
    );
    assert.deepEqual([...digestTypes].sort(), [0, 1]);
    assert.equal(cap.sent.filter((s) => s.badDigest).length, 2);
  },
});
