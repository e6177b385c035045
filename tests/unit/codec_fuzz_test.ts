/**
 * ~20,000 random and mutated datagrams through the decoder: only typed ParseErrors, no hang,
 * and decode → encode → decode stable. (tests/bench/fuzz.ts runs 1,000,000.)
 */

import assert from "node:assert/strict";
import { fuzzDecoder } from "../bench/fuzz.ts";

Deno.test("fuzz: 20,000 random and mutated inputs yield messages or typed ParseErrors", () => {
  const r = fuzzDecoder({ iterations: 20_000, seed: 0x5eed });
  assert.equal(r.iterations, 20_000);
  // The generator must reach deep into the decoder, not just bounce off the header.
  assert.ok(r.decoded > 1_000, `decoded only ${r.decoded}`);
  assert.ok(r.decodedWithHidden > 50, `decoded with hidden AVPs: ${r.decodedWithHidden}`);
  assert.ok(r.decodedWithRaw > 50, `decoded with raw AVPs: ${r.decodedWithRaw}`);
  assert.ok(r.reencoded > 1_000, `re-encoded only ${r.reencoded}`);
  const reasons = Object.keys(r.rejected);
  for (
    const reason of [
      "truncated",
      "length-mismatch",
      "avp-too-short",
      "avp-overrun",
      "bad-avp-length",
      "unknown-mandatory-avp",
      "bad-version",
      "bad-header-flags",
      "bad-hidden-length",
      "bad-digest",
    ]
  ) {
    assert.ok(
      reasons.includes(reason),
      `never rejected as ${reason}: ${JSON.stringify(r.rejected)}`,
    );
  }
  // "Never a hang": each input is linear in its size; allow for GC pauses on a busy machine.
  assert.ok(r.maxInputMs < 1_000, `slowest input took ${r.maxInputMs} ms`);
});

Deno.test("fuzz: runs are reproducible from the seed", () => {
  const a = fuzzDecoder({ iterations: 2_000, seed: 42 });
  const b = fuzzDecoder({ iterations: 2_000, seed: 42 });
  assert.equal(a.decoded, b.decoded);
  assert.deepEqual(a.rejected, b.rejected);
});
