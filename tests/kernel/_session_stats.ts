/**
 * Print one session's counters as JSON (numbers), read through KernelDataPlane in the current
 * network namespace. Used by kernel tests via `ip netns exec`: `_session_stats.ts TID SID`.
 *
 * @module
 */

import { KernelDataPlane } from "../../dataplane/kernel.ts";

const [tid, sid] = Deno.args.map(Number);
using dp = await KernelDataPlane.open();
const s = await dp.getSession(tid, sid);
console.log(
  JSON.stringify(
    s ? Object.fromEntries(Object.entries(s.stats).map(([k, v]) => [k, Number(v)])) : null,
  ),
);
