/**
 * Tests wait for a condition, never for a time. `waitFor` polls `check` until
 * it returns something truthy, and resolves to that; `check` may also throw
 * (an `expect` that does not hold yet), which counts as "not yet". Past the
 * deadline it fails naming what was awaited, with the last error `check` threw:
 *
 *   const info = await waitFor('60 tasks done', async () => {
 *     const graph = await status();
 *     return graph.progress.done >= 60 && graph;
 *   });
 *
 * The default deadline is well inside vitest's test timeout (60 s), so a
 * wait that never ends says what it waited for.
 */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  { timeoutMs = 20_000, intervalMs = 25 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let thrown: unknown;
    try {
      const value = await check();
      if (value) return value as Truthy<T>;
    } catch (err) {
      thrown = err;
    }
    if (Date.now() >= deadline) {
      const last = thrown === undefined ? '' : `; last check: ${thrown instanceof Error ? thrown.message : thrown}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

type Truthy<T> = Exclude<T, false | 0 | '' | null | undefined>;
