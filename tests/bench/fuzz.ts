/**
 * Bounded fuzz harness for the control-message decoder.
 *
 * {@linkcode fuzzDecoder} feeds random and mutated datagrams (bit flips, byte overwrites,
 * truncation and extension, corrupted AVP lengths, spliced and injected AVPs, all with the
 * header Length often fixed up so the AVP walker is reached) through `peekHeader` and
 * `decodeControl` with varied options, and asserts that every failure is a typed
 * `ParseError`. Whenever a decoded message without hidden AVPs can be re-encoded, decoding it
 * again must give the same message. Inputs are generated from a seeded PRNG, so a failure is
 * reproducible from its seed and iteration number.
 *
 * Run as a benchmark: `deno run -A tests/bench/fuzz.ts [--iterations 1000000] [--seed 1]`
 * prints inputs/s and peak RSS.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import { digestKey } from "../../control/auth.ts";
import { AvpType, MessageType } from "../../control/constants.ts";
import { ParseError, type ParseErrorReason } from "../../control/errors.ts";
import { addV3IpControlPrefix, peekHeader } from "../../control/header.ts";
import {
  type ControlMessage,
  decodeControl,
  type DecodeOptions,
  encodeControl,
} from "../../control/message.ts";
import { v2Samples, v3Samples } from "../fixtures/codec/samples.ts";

/** Options of {@linkcode fuzzDecoder}. */
export interface FuzzOptions {
  /** Number of inputs. */
  iterations: number;
  /** PRNG seed (default 1). */
  seed?: number;
}

/** What a fuzz run observed. */
export interface FuzzReport {
  /** Inputs tried. */
  iterations: number;
  /** Inputs decoded successfully. */
  decoded: number;
  /** Decoded inputs that had at least one hidden AVP revealed. */
  decodedWithHidden: number;
  /** Decoded inputs that kept an unknown, vendor or malformed AVP. */
  decodedWithRaw: number;
  /** Decode → encode → decode checks done. */
  reencoded: number;
  /** Rejections by ParseError reason. */
  rejected: Partial<Record<ParseErrorReason, number>>;
  /** Wall time of the run. */
  elapsedMs: number;
  /** Throughput. */
  inputsPerSecond: number;
  /** Slowest single input (peek + decode). */
  maxInputMs: number;
  /** Peak resident set size of the process (VmHWM), or the largest sampled RSS. */
  peakRssBytes: number;
}

const SECRET = "fuzz-secret";
const NONCE_A = new Uint8Array(16).fill(0x11);
const NONCE_B = new Uint8Array(16).fill(0x22);

/** xorshift32: small, fast, deterministic. */
class Prng {
  #s: number;
  constructor(seed: number) {
    this.#s = (seed >>> 0) || 0x9e3779b9;
  }
  next(): number {
    let x = this.#s;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.#s = x;
    return x;
  }
  int(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }
}

interface Seed {
  bytes: Uint8Array;
  ip: boolean;
}

function corpus(): Seed[] {
  const seeds: Seed[] = [];
  let rv = 0;
  const randomBytes = (n: number): Uint8Array => new Uint8Array(n).fill(++rv & 0xff);
  for (const m of v2Samples()) {
    seeds.push({ bytes: encodeControl(m), ip: false });
    if (m.type !== null && m.avps && m.avps.length > 0) {
      const hidden = m.avps.map((a) => ({ ...a, hidden: a.type === AvpType.AssignedSessionId }));
      seeds.push({
        bytes: encodeControl({ ...m, avps: hidden }, { secret: SECRET, randomBytes }),
        ip: false,
      });
    }
  }
  for (const m of v3Samples(NONCE_A)) {
    seeds.push({ bytes: encodeControl(m), ip: false });
    const digest = { key: digestKey(SECRET), localNonce: NONCE_A, remoteNonce: NONCE_B };
    if (m.type !== null) {
      seeds.push({ bytes: encodeControl(m, { transport: "ip", digest }), ip: true });
    }
  }
  seeds.push({
    bytes: encodeControl({
      version: 2,
      tunnelId: 1,
      ns: 0,
      nr: 0,
      type: MessageType.HELLO,
      avps: [
        { kind: "vendor", vendorId: 9, type: 1, value: new Uint8Array([1, 2, 3]) },
        { kind: "unknown", vendorId: 0, type: 250, value: new Uint8Array(0), mandatory: false },
      ],
    }),
    ip: false,
  });
  // Data messages.
  seeds.push({
    bytes: new Uint8Array([0x4b, 0x02, 0, 16, 0, 7, 0, 9, 0, 1, 0, 2, 0, 0, 0xff, 3]),
    ip: false,
  });
  seeds.push({ bytes: new Uint8Array([0x00, 0x03, 0, 0, 0, 0, 0, 5, 1, 2]), ip: false });
  return seeds;
}

const INTERESTING = [
  0x00,
  0x01,
  0x02,
  0x03,
  0x05,
  0x06,
  0x07,
  0x08,
  0x0c,
  0x3b,
  0x40,
  0x7f,
  0x80,
  0xc0,
  0xc8,
  0xff,
];

/** Sets the header Length field to the control message size (so the AVP walker runs). */
function fixLength(b: Uint8Array, ip: boolean): void {
  const o = ip ? 4 : 0;
  const n = b.length - o;
  if (n >= 4 && n <= 0xffff) {
    b[o + 2] = n >> 8;
    b[o + 3] = n & 0xff;
  }
}

/** Offsets of the AVPs of a control message, walking while lengths look sane. */
function avpOffsets(b: Uint8Array, ip: boolean): number[] {
  const out: number[] = [];
  let o = (ip ? 4 : 0) + 12;
  while (o + 6 <= b.length) {
    const len = ((b[o] << 8) | b[o + 1]) & 0x3ff;
    if (len < 6) break;
    out.push(o);
    o += len;
  }
  return out;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function mutate(rng: Prng, seeds: Seed[]): Seed {
  const s = seeds[rng.int(seeds.length)];
  let b: Uint8Array = s.bytes.slice();
  const ip = s.ip;
  switch (rng.int(8)) {
    case 0: { // random bytes with a plausible control header
      b = rng.bytes(rng.int(80));
      if (b.length >= 2 && rng.chance(0.7)) {
        b[0] = 0xc8;
        b[1] = rng.chance(0.5) ? 2 : 3;
      }
      if (rng.chance(0.7)) fixLength(b, false);
      return { bytes: b, ip: false };
    }
    case 1: // bit flips
      for (let i = 1 + rng.int(8); i > 0 && b.length > 0; i--) {
        b[rng.int(b.length)] ^= 1 << rng.int(8);
      }
      break;
    case 2: // interesting byte values
      for (let i = 1 + rng.int(4); i > 0 && b.length > 0; i--) {
        b[rng.int(b.length)] = INTERESTING[rng.int(INTERESTING.length)];
      }
      break;
    case 3: // truncate or extend
      b = rng.chance(0.5)
        ? b.subarray(0, rng.int(b.length + 1)).slice()
        : concat(b, rng.bytes(1 + rng.int(40)));
      break;
    case 4: { // corrupt one AVP length
      const offs = avpOffsets(b, ip);
      if (offs.length > 0) {
        const o = offs[rng.int(offs.length)];
        const len = rng.chance(0.5)
          ? rng.int(1024)
          : (((b[o] << 8) | b[o + 1]) & 0x3ff) + rng.int(5) - 2;
        b[o] = (b[o] & 0xfc) | ((len >> 8) & 0x03);
        b[o + 1] = len & 0xff;
      }
      break;
    }
    case 5: { // splice the AVPs of another sample after this header
      const other = seeds[rng.int(seeds.length)];
      const start = (other.ip ? 4 : 0) + 12;
      if (other.bytes.length > start) b = concat(b, other.bytes.subarray(start + 8));
      break;
    }
    case 6: { // inject a random AVP
      const len = 6 + rng.int(40);
      const a = rng.bytes(len);
      a[0] = (a[0] & 0xc0) | (len >> 8);
      a[1] = len & 0xff;
      if (rng.chance(0.7)) a[2] = a[3] = 0;
      if (rng.chance(0.5)) a[4] = 0;
      const offs = avpOffsets(b, ip);
      const at = offs.length > 1 ? offs[1 + rng.int(offs.length - 1)] : b.length;
      b = concat(concat(b.subarray(0, at), a), b.subarray(at));
      break;
    }
    default: { // flip header flag bits and the version
      const o = ip ? 4 : 0;
      if (b.length > o + 1) {
        b[o] ^= [0x80, 0x40, 0x08, 0x02, 0x01][rng.int(5)];
        if (rng.chance(0.3)) b[o + 1] = (b[o + 1] & 0xf0) | rng.int(16);
      }
    }
  }
  if (rng.chance(0.6)) fixLength(b, ip);
  return { bytes: b, ip };
}

function options(rng: Prng, ip: boolean): DecodeOptions {
  const o: DecodeOptions = { transport: ip ? "ip" : "udp" };
  if (rng.chance(0.7)) o.secret = SECRET;
  if (rng.chance(0.2)) o.ignoreMalformed = true;
  if (rng.chance(0.1)) o.version = rng.chance(0.5) ? 2 : 3;
  if (ip && rng.chance(0.3)) {
    o.digest = {
      key: digestKey(SECRET),
      localNonce: NONCE_B,
      remoteNonce: NONCE_A,
      required: rng.chance(0.5),
    };
  }
  return o;
}

function peakRss(sampled: number): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    for (const line of status.split("\n")) {
      if (line.startsWith("VmHWM:")) {
        const kb = Number.parseInt(line.slice(6).trim(), 10);
        if (Number.isFinite(kb)) return Math.max(sampled, kb * 1024);
      }
    }
  } catch {
    // not Linux, or no read permission: fall back to sampling
  }
  return sampled;
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function stable(first: ControlMessage, o: DecodeOptions): boolean {
  if (first.avps.some((a) => a.hidden)) return false;
  let bytes: Uint8Array;
  try {
    bytes = encodeControl(first);
  } catch (e) {
    // A decoded value may not be re-encodable (e.g. invalid UTF-8 expanding past 1023 bytes).
    if (e instanceof RangeError) return false;
    throw e;
  }
  const again = decodeControl(bytes, { ignoreMalformed: o.ignoreMalformed });
  // The encoder places Message Digest AVPs right after the Message Type (RFC 3931 §5.4.1).
  const isDigest = (a: ControlMessage["avps"][number]): boolean =>
    a.kind === "ietf" && a.type === AvpType.MessageDigest;
  const avps = [...first.avps.filter(isDigest), ...first.avps.filter((a) => !isDigest(a))];
  assert.deepEqual(again, { ...first, length: bytes.length, avps });
  return true;
}

/**
 * Runs the decoder over generated inputs and checks that it only ever throws ParseError.
 *
 * @param opts Iteration count and seed.
 * @returns What was observed.
 * @throws {Error} On the first input that makes the decoder throw anything else, or break the
 *   decode/encode/decode stability; the message names the seed, iteration and input.
 */
export function fuzzDecoder(opts: FuzzOptions): FuzzReport {
  const seed = opts.seed ?? 1;
  const rng = new Prng(seed);
  const seeds = corpus();
  const report: FuzzReport = {
    iterations: opts.iterations,
    decoded: 0,
    decodedWithHidden: 0,
    decodedWithRaw: 0,
    reencoded: 0,
    rejected: {},
    elapsedMs: 0,
    inputsPerSecond: 0,
    maxInputMs: 0,
    peakRssBytes: 0,
  };
  let sampled = Deno.memoryUsage().rss;
  const start = performance.now();
  for (let i = 0; i < opts.iterations; i++) {
    const input = mutate(rng, seeds);
    const o = options(rng, input.ip);
    const bytes = input.ip && rng.chance(0.1) ? addV3IpControlPrefix(input.bytes) : input.bytes;
    const t0 = performance.now();
    try {
      try {
        peekHeader(bytes, o.transport);
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
      }
      const msg = decodeControl(bytes, o);
      report.decoded++;
      if (msg.avps.some((a) => a.hidden && a.kind === "ietf")) report.decodedWithHidden++;
      if (msg.avps.some((a) => a.kind !== "ietf")) report.decodedWithRaw++;
      if (stable(msg, o)) report.reencoded++;
    } catch (e) {
      if (!(e instanceof ParseError)) {
        throw new Error(
          `Cannot fuzz: seed ${seed} iteration ${i} threw ${e} for ${o.transport} input ${
            hex(bytes)
          }`,
          { cause: e },
        );
      }
      report.rejected[e.reason] = (report.rejected[e.reason] ?? 0) + 1;
    }
    const dt = performance.now() - t0;
    if (dt > report.maxInputMs) report.maxInputMs = dt;
    if ((i & 0xffff) === 0) sampled = Math.max(sampled, Deno.memoryUsage().rss);
  }
  report.elapsedMs = performance.now() - start;
  report.inputsPerSecond = Math.round(opts.iterations / (report.elapsedMs / 1000));
  report.peakRssBytes = peakRss(Math.max(sampled, Deno.memoryUsage().rss));
  return report;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      iterations: { type: "string", default: "1000000" },
      seed: { type: "string", default: "1" },
    },
  });
  const iterations = Number.parseInt(values.iterations, 10);
  const seed = Number.parseInt(values.seed, 10);
  const r = fuzzDecoder({ iterations, seed });
  console.log(
    `fuzz: ${r.iterations} inputs (seed ${seed}) in ${(r.elapsedMs / 1000).toFixed(2)} s`,
  );
  console.log(`fuzz: ${r.inputsPerSecond} inputs/s, slowest input ${r.maxInputMs.toFixed(2)} ms`);
  console.log(`fuzz: peak RSS ${(r.peakRssBytes / 1048576).toFixed(1)} MiB`);
  console.log(
    `fuzz: decoded ${r.decoded} (hidden ${r.decodedWithHidden}, raw AVPs ${r.decodedWithRaw}, ` +
      `re-encoded ${r.reencoded}); rejected ${r.iterations - r.decoded}: ${
        JSON.stringify(r.rejected)
      }`,
  );
}
