/**
 * Host name resolution through libc's `getaddrinfo` (so /etc/hosts, nsswitch and DNS all apply,
 * as for any other daemon on the router). The lookup runs on a worker thread.
 *
 * @module
 */

import { formatIP } from "./sockaddr.ts";
import { libc } from "./libc.ts";

const AF_UNSPEC = 0;
const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
/** sizeof(struct addrinfo) on 64-bit Linux. */
const ADDRINFO_SIZE = 48;

/**
 * Resolve a host name to IP address texts, in the resolver's order, without duplicates.
 *
 * @param name Host name (an address literal resolves to itself).
 * @param family 4 or 6 to ask for one family only.
 * @returns The addresses; never empty (a failure throws).
 * @throws {Error} "Cannot resolve NAME: <resolver text>" when the name has no address.
 *
 * @example Usage
 * ```ts
 * import { resolveHost } from "./resolve.ts";
 * console.log(await resolveHost("127.0.0.1")); // ["127.0.0.1"]
 * console.log(await resolveHost("localhost", 4)); // ["127.0.0.1"]
 * ```
 */
export async function resolveHost(name: string, family?: 4 | 6): Promise<string[]> {
  const hints = new Uint8Array(ADDRINFO_SIZE);
  const view = new DataView(hints.buffer);
  view.setInt32(4, family === 4 ? AF_INET : family === 6 ? AF_INET6 : AF_UNSPEC, true);
  view.setInt32(8, SOCK_DGRAM, true);
  const node = new TextEncoder().encode(name + "\0");
  const out = new BigUint64Array(1);
  const rc = await libc().getaddrinfo(node, null, hints, new Uint8Array(out.buffer));
  if (rc !== 0) {
    const text = libc().gai_strerror(rc);
    throw new Error(
      `Cannot resolve ${name}: ${text ? Deno.UnsafePointerView.getCString(text) : `error ${rc}`}`,
    );
  }
  const head = Deno.UnsafePointer.create(out[0]);
  const addresses: string[] = [];
  try {
    for (let p = head; p !== null;) {
      const ai = new Deno.UnsafePointerView(p);
      const aiFamily = ai.getInt32(4);
      const addr = ai.getPointer(24);
      if (addr !== null) {
        const sa = new Deno.UnsafePointerView(addr);
        const bytes = aiFamily === AF_INET
          ? new Uint8Array(sa.getArrayBuffer(4, 4))
          : aiFamily === AF_INET6
          ? new Uint8Array(sa.getArrayBuffer(16, 8))
          : undefined;
        if (bytes) {
          const text = formatIP(bytes.slice());
          if (!addresses.includes(text)) addresses.push(text);
        }
      }
      p = ai.getPointer(40);
    }
  } finally {
    libc().freeaddrinfo(head);
  }
  if (addresses.length === 0) throw new Error(`Cannot resolve ${name}: no IP address`);
  return addresses;
}
