/**
 * The checks no single key's schema entry can make: combinations of keys within a tunnel or a
 * session (a secret for hidden AVPs, an address family shared by local and peer, sequencing and
 * the L2-Specific Sublayer, a pppac session in an LNS, ...) and duplicates across the whole file
 * (tunnel IDs, session IDs, interface names, Remote End IDs, PPPoE sessions).
 *
 * @example Usage
 * ```ts
 * import { crossChecks } from "./checks.ts";
 * import { Collector } from "./issues.ts";
 * const c = new Collector();
 * const t = { mode: "static", version: 3, encap: "udp", managed: false, tid: 1 } as const;
 * crossChecks(c, [{ ...t, name: "a", sessions: [] }, { ...t, name: "b", sessions: [] }]);
 * console.log(c.issues[0].message); // duplicate tunnel ID 1: tunnel "a" uses it too
 * ```
 *
 * @module
 */

import { formatMac } from "../../control/mac.ts";
import { familyName, isUnspecified, type ParsedEndpoint } from "./address.ts";
import type { SessionEntry, TunnelEntry } from "./entries.ts";
import type { Collector } from "./issues.ts";
import type { TableReader } from "./reader.ts";
import type { RuleContext } from "./schema.ts";
import type { SessionValues } from "./session_keys.ts";
import { quote } from "./text.ts";
import type { TunnelValues } from "./tunnel_keys.ts";

/**
 * Check a tunnel's endpoints together: IP encapsulation has no ports (a port given is ignored,
 * with a warning), the peer must be a unicast address with a UDP port, and local and peer must
 * be of one address family. Returns that family, when an address says it.
 *
 * @example Usage
 * ```ts
 * import { readEndpoint } from "./address.ts";
 * import { checkEndpoints } from "./checks.ts";
 * import { Collector } from "./issues.ts";
 * import { TableReader } from "./reader.ts";
 * import { TUNNEL_KEYS } from "./tunnel_keys.ts";
 * const c = new Collector();
 * const r = new TableReader(c, { tunnel: "t1" }, {}, TUNNEL_KEYS, { defaultPort: 0 });
 * const local = readEndpoint("192.0.2.1:1701", 0);
 * if (typeof local !== "string") console.log(checkEndpoints(r, "ip", local, undefined));
 * console.log(c.warnings);
 * // [ 'tunnel "t1" key "local": port 1701 ignored: IP encapsulation has no ports' ]
 * ```
 */
export function checkEndpoints(
  r: TableReader<TunnelValues>,
  encap: "udp" | "ip",
  local: ParsedEndpoint | undefined,
  peer: ParsedEndpoint | undefined,
): "ipv4" | "ipv6" | undefined {
  for (const [key, p] of [["local", local], ["peer", peer]] as const) {
    if (p !== undefined && encap === "ip" && p.endpoint.port !== 0) {
      r.warn(key, `port ${p.endpoint.port} ignored: IP encapsulation has no ports`);
      p.endpoint.port = 0;
    }
  }
  if (peer !== undefined) {
    if (isUnspecified(peer.endpoint.address, peer.kind)) {
      r.fail("peer", `expected a unicast address, got ${quote(peer.endpoint.address)}`);
    } else if (encap === "udp" && peer.endpoint.port === 0) {
      r.fail("peer", `expected a non-zero UDP port, got ${quote(peer.text)}`);
    }
  }
  const localFamily = local?.kind === "hostname" ? undefined : local?.kind;
  const peerFamily = peer?.kind === "hostname" ? undefined : peer?.kind;
  if (localFamily !== undefined && peerFamily !== undefined && localFamily !== peerFamily) {
    r.fail(
      "peer",
      `expected the same address family as local (${familyName(localFamily)}), got ` +
        familyName(peerFamily),
    );
  }
  return localFamily ?? peerFamily;
}

/**
 * Check the dynamic control connection keys together (after the reader's own checks): hidden
 * AVPs, the Message Digest and accepting any peer all need the shared secret; an L2TPv3
 * responder accepting any peer needs the digest; a responder needs a peer or accept_any_peer.
 *
 * @example Usage
 * ```ts
 * import { checkTunnel } from "./checks.ts";
 * import { Collector } from "./issues.ts";
 * import { TableReader } from "./reader.ts";
 * import { TUNNEL_KEYS } from "./tunnel_keys.ts";
 * const c = new Collector();
 * const r = new TableReader(c, { tunnel: "t1" }, { hide_avps: true }, TUNNEL_KEYS, {
 *   defaultPort: 1701,
 * });
 * const ctx = {
 *   mode: "dynamic", version: 2, versionKnown: true, versionWhy: "", encap: "udp",
 * } as const;
 * r.check(ctx);
 * checkTunnel(r, ctx);
 * console.log(c.issues.map((i) => i.message));
 * // [ "hidden AVPs are hidden with the shared secret: set secret too" ]
 * ```
 */
export function checkTunnel(r: TableReader<TunnelValues>, ctx: RuleContext): void {
  const haveSecret = r.value("secret") !== undefined;
  const secretOk = haveSecret || !r.bad.has("secret");
  if (r.value("hide_avps") === true && !haveSecret && secretOk) {
    r.fail("hide_avps", "hidden AVPs are hidden with the shared secret: set secret too");
  }
  const digest = r.value("message_digest");
  if (digest !== undefined && digest !== "none" && !haveSecret) {
    r.fail("message_digest", "the Message Digest is keyed with the shared secret: set secret too");
  }
  const anyPeer = r.value("accept_any_peer");
  if (anyPeer === true && !haveSecret && secretOk) {
    r.fail("accept_any_peer", "accepting any peer needs a shared secret: set secret too");
  } else if (anyPeer === true && ctx.version === 3 && digest === "none") {
    // L2TPv3 authenticates only through the Message Digest (RFC 3931 §4.3).
    r.fail("accept_any_peer", 'accepting any L2TPv3 peer needs message_digest "md5" or "sha1"');
  }
  if (
    ctx.role === "lns" && !r.has("peer") && anyPeer !== true && !r.bad.has("accept_any_peer")
  ) {
    r.fail(
      "peer",
      'missing: a tunnel with role "lns" accepts the peer named here, or any peer with ' +
        "accept_any_peer = true (and a secret)",
    );
  }
}

/**
 * A session's L2-Specific Sublayer, checked with its sequencing (RFC 3931 §4.6: L2TPv3 data
 * packets carry sequence numbers only in the default sublayer). L2TPv2 has none. With sequence
 * numbers on, `l2spec_type = "none"` is refused, and an unset `l2spec_type` becomes "default"
 * (not the documented default "none") with a warning, which setting it silences.
 *
 * @example Usage
 * ```ts
 * import { sequencingSublayer } from "./checks.ts";
 * import { Collector } from "./issues.ts";
 * import { TableReader } from "./reader.ts";
 * import { SESSION_KEYS } from "./session_keys.ts";
 * const c = new Collector();
 * const r = new TableReader(c, { tunnel: "t1", session: "s1" }, { seqnum: true }, SESSION_KEYS, {
 *   defaultPort: 0,
 * });
 * r.check({ mode: "static", version: 3, versionKnown: true, versionWhy: "", encap: "udp" });
 * console.log(sequencingSublayer(r, 3, true, true), c.warnings.length); // default 1
 * ```
 */
export function sequencingSublayer(
  r: TableReader<SessionValues>,
  version: 2 | 3,
  send: boolean,
  recv: boolean,
): "none" | "default" {
  if (version === 2) return "none";
  const set = r.read("l2spec_type");
  if (!send && !recv) return set ?? "none";
  if (set === "none") {
    r.fail(
      "l2spec_type",
      `L2TPv3 sequence numbers travel in the L2-Specific Sublayer: expected "default" when ` +
        `seqnum, send_seqnum or recv_seqnum is set`,
    );
  } else if (!r.has("l2spec_type")) {
    const on = (["seqnum", "send_seqnum", "recv_seqnum"] as const)
      .filter((key) => r.value(key) === true)
      .map((key) => `${key} = true`);
    r.warn(
      "l2spec_type",
      `set to "default", not the documented default "none": L2TPv3 data packets carry sequence ` +
        `numbers (${on.join(", ")}) only in the default L2-Specific Sublayer, which the peer ` +
        `must use too; set l2spec_type = "default" to silence this warning`,
    );
  }
  return set ?? "default";
}

/**
 * Checks across tunnels and sessions: unique tunnel IDs, session IDs within a tunnel, interface
 * names and Remote End IDs within a tunnel are required; an L2TPv3 session ID used by two
 * tunnels gets a warning (the kernel may keep them host-wide). A pppac session's interface is
 * the Ethernet interface its PPPoE session runs on, which any number of them share: what must be
 * unique for those is the PPPoE session (interface, PPPoE session ID and peer MAC address).
 * Also here, as the last per-session check: pppac is refused in a tunnel with role "lns" (see
 * {@linkcode checkPppacRole}).
 *
 * @example Usage
 * ```ts
 * import { crossChecks } from "./checks.ts";
 * import { Collector } from "./issues.ts";
 * const c = new Collector();
 * const s = { sid: 5, pseudowire: "ppp", sendSeqnum: false, recvSeqnum: false } as const;
 * crossChecks(c, [{
 *   name: "t1", mode: "dynamic", version: 2, encap: "udp", managed: true,
 *   sessions: [{ ...s, name: "a", l2specType: "none" }, { ...s, name: "b", l2specType: "none" }],
 * }]);
 * console.log(c.issues[0].message); // duplicate session ID 5: session "a" uses it too
 * ```
 */
export function crossChecks(c: Collector, tunnels: readonly TunnelEntry[]): void {
  const tids = new Map<number, string>();
  const ifnames = new Map<string, string>();
  const pppoeSessions = new Map<string, string>();
  const v3Sids = new Map<number, string>();
  for (const t of tunnels) {
    checkPppacRole(c, t);
    if (t.tid !== undefined) {
      const other = tids.get(t.tid);
      if (other !== undefined) {
        c.add(
          { tunnel: t.name },
          "tid",
          `duplicate tunnel ID ${t.tid}: tunnel ${quote(other)} uses it too`,
        );
      } else {
        tids.set(t.tid, t.name);
      }
    }
    const sids = new Map<number, string>();
    const endIds = new Map<string, string>();
    for (const s of t.sessions) {
      const where = { tunnel: t.name, session: s.name };
      const here = `tunnel ${quote(t.name)} session ${quote(s.name)}`;
      if (s.remoteEndId !== undefined) {
        const k = Array.from(s.remoteEndId).join(",");
        const other = endIds.get(k);
        if (other !== undefined) {
          c.add(
            where,
            "remote_end_id",
            `duplicate Remote End ID: session ${quote(other)} uses it too`,
          );
        } else {
          endIds.set(k, s.name);
        }
      }
      if (s.sid !== undefined) {
        const other = sids.get(s.sid);
        if (other !== undefined) {
          c.add(where, "sid", `duplicate session ID ${s.sid}: session ${quote(other)} uses it too`);
        } else {
          sids.set(s.sid, s.name);
          const elsewhere = t.version === 3 ? v3Sids.get(s.sid) : undefined;
          if (elsewhere !== undefined) {
            c.warn(
              where,
              "sid",
              `L2TPv3 session ID ${s.sid} is also used by ${elsewhere}; the kernel may refuse ` +
                `the second one (L2TPv3 session IDs are often host-wide)`,
            );
          } else if (t.version === 3) {
            v3Sids.set(s.sid, here);
          }
        }
      }
      if (s.pseudowire === "pppac") {
        const pppoe = pppoeSession(s);
        const other = pppoe === undefined ? undefined : pppoeSessions.get(pppoe);
        if (pppoe !== undefined && other !== undefined) {
          c.add(where, "pppoe_session_id", `duplicate PPPoE session ${pppoe}: ${other} is it too`);
        } else if (pppoe !== undefined) {
          pppoeSessions.set(pppoe, here);
        }
      } else if (s.interfaceName !== undefined) {
        const other = ifnames.get(s.interfaceName);
        if (other !== undefined) {
          c.add(
            where,
            "interface_name",
            `duplicate interface name ${quote(s.interfaceName)}: ${other} uses it too`,
          );
        } else {
          ifnames.set(s.interfaceName, here);
        }
      }
    }
  }
}

/** A pppac session's PPPoE session, `ID with MAC on "IFNAME"`, when the keys are all valid. */
function pppoeSession(s: SessionEntry): string | undefined {
  const { interfaceName, pppoeSessionId, pppoePeerMac } = s;
  if (interfaceName === undefined || pppoeSessionId === undefined || !pppoePeerMac) return;
  return `${pppoeSessionId} with ${formatMac(pppoePeerMac)} on ${quote(interfaceName)}`;
}

/**
 * Refuse pseudowire "pppac" in a dynamic tunnel with role "lns": an LNS terminates PPP (with
 * pppd), while pppac is the access concentrator's side, relaying a PPPoE session into a tunnel
 * it opens (static and quiescent tunnels, and role "lac", may carry it). The issue is the
 * session's, on its key `pseudowire`.
 *
 * @example Usage
 * ```ts
 * import { checkPppacRole } from "./checks.ts";
 * import { Collector } from "./issues.ts";
 * const c = new Collector();
 * checkPppacRole(c, {
 *   name: "t1", mode: "dynamic", version: 2, encap: "udp", managed: true, role: "lns",
 *   sessions: [{
 *     name: "s1", pseudowire: "pppac", sendSeqnum: false, recvSeqnum: false, l2specType: "none",
 *   }],
 * });
 * console.log(c.issues[0].key); // pseudowire
 * ```
 */
export function checkPppacRole(c: Collector, t: TunnelEntry): void {
  if (t.mode !== "dynamic" || t.role !== "lns") return;
  for (const s of t.sessions) {
    if (s.pseudowire !== "pppac") continue;
    c.add(
      { tunnel: t.name, session: s.name },
      "pseudowire",
      'pseudowire "pppac" is the access concentrator\'s side (it relays a PPPoE session to the ' +
        'LNS), but this tunnel has role "lns", which terminates PPP: use pseudowire "ppp" here ' +
        '(pppd terminates each session), or role = "lac" in a tunnel towards the LNS',
    );
  }
}
