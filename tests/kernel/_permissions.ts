/**
 * Deno permission checks for tests: a test that lacks a permission it needs fails at once with
 * one error naming every missing flag ("Cannot run: this test needs --allow-run --allow-ffi"),
 * instead of with the first call Deno refuses somewhere inside it.
 *
 * @module
 */

/** A Deno permission a test can need. */
export type Permission = Deno.PermissionName;

/**
 * The permissions among `names` that this process has not been granted (fully: a flag limited
 * to some paths or hosts does not count).
 *
 * @param names What the test needs.
 * @returns The missing ones, in the order given.
 *
 * @example Usage
 * ```ts
 * import { missingPermissions } from "./_permissions.ts";
 * console.log(missingPermissions(["read", "ffi"])); // [] under deno test --allow-all
 * ```
 */
export function missingPermissions(names: readonly Permission[]): Permission[] {
  return names.filter((name) => Deno.permissions.querySync({ name }).state !== "granted");
}

/**
 * Throw unless every permission in `names` is granted.
 *
 * @param names What the test needs.
 * @throws {Error} "Cannot run: this test needs --allow-X --allow-Y (or -A)".
 *
 * @example Usage
 * ```ts
 * import { requirePermissions } from "./_permissions.ts";
 * requirePermissions(["read"]); // returns under deno test --allow-all
 * console.log("read is granted");
 * ```
 */
export function requirePermissions(names: readonly Permission[]): void {
  const missing = missingPermissions(names);
  if (missing.length > 0) {
    throw new Error(
      `Cannot run: this test needs ${missing.map((name) => `--allow-${name}`).join(" ")} (or -A)`,
    );
  }
}

/**
 * Wrap a test function so that it first checks its permissions ({@linkcode requirePermissions}).
 *
 * @param names What the test needs.
 * @param fn The test.
 * @returns A test function for `Deno.test`.
 *
 * @example Usage
 * ```ts
 * import { needs } from "./_permissions.ts";
 * const fn = needs(["read"], () => console.log(Deno.cwd()));
 * await fn({} as Deno.TestContext);
 * ```
 */
export function needs(
  names: readonly Permission[],
  fn: (t: Deno.TestContext) => void | Promise<void>,
): (t: Deno.TestContext) => Promise<void> {
  return async (t) => {
    requirePermissions(names);
    await fn(t);
  };
}
