/**
 * Helpers shared by the configuration tests (`config_*_test.ts`): fixtures, expected failures and
 * small tunnel templates.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Config, ConfigError, parseConfig } from "../../lib/config.ts";

/** Where the configuration fixtures live. */
export const FIXTURES: string = new URL("../fixtures/config/", import.meta.url).pathname;
/** The shipped example configuration. */
export const EXAMPLE: string = new URL("../../config.example.toml", import.meta.url).pathname;

/** A fixture's text. */
export function fixture(name: string): string {
  return Deno.readTextFileSync(FIXTURES + name);
}

/** Parse `text` expecting failure; return the error. */
export function parseError(text: string, file = "/etc/l2tp.toml"): ConfigError {
  try {
    parseConfig(text, file);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${e}`);
    return e;
  }
  assert.fail("expected the configuration to be rejected");
}

/** A static L2TPv3 tunnel with one session, plus extra tunnel and session lines. */
export function staticV3(tunnelExtra = "", sessionExtra = ""): string {
  return `[tunnel.t1]
local = "192.0.2.1:5000"
peer = "192.0.2.2:5001"
version = "l2tpv3"
tid = 1
ptid = 2
${tunnelExtra}
[tunnel.t1.session.s1]
sid = 10
psid = 20
${sessionExtra}
`;
}

export /** A dynamic tunnel with one session, plus extra tunnel and session lines. */
function dynamic(tunnelExtra = "", sessionExtra = "", version = "l2tpv3"): string {
  return `[tunnel.t1]
peer = "192.0.2.2"
version = "${version}"
${tunnelExtra}
[tunnel.t1.session.s1]
${sessionExtra}
`;
}

/** The configuration without its warnings, for comparing two parses. */
export function withoutWarnings(config: Config): Config {
  const { warnings: _warnings, ...rest } = config;
  return rest;
}
