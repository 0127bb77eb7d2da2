/**
 * The wide graph: `inc` over range(n), then a tree of `sum` with fan-in
 * `fanIn` (100 unless told), in the JSON form a client sends. What the benchmarks measure
 * (bench/run.ts) and what the API and the workers rehearse at start
 * (GraphSubmitter.rehearse, src/workers/rehearsal.ts).
 *
 *   wideGraph(3, 100)
 *   // { graph: { 'inc-0': inc(0), 'inc-1': inc(1), 'inc-2': inc(2), 'sum-0-0': sum([inc-0, inc-1, inc-2]) },
 *   //   key: 'sum-0-0', expected: 6, tasks: 4 }
 */
export function wideGraph(
  n: number,
  fanIn = 100,
): { graph: Record<string, unknown>; key: string; expected: number; tasks: number } {
  const graph: Record<string, unknown> = {};
  let level = Array.from({ length: n }, (_, i) => {
    graph[`inc-${i}`] = { $op: 'inc', args: [i] };
    return `inc-${i}`;
  });
  let tasks = n;
  for (let depth = 0; level.length > 1; depth++) {
    const next: string[] = [];
    for (let i = 0; i < level.length; i += fanIn) {
      const key = `sum-${depth}-${i / fanIn}`;
      graph[key] = { $op: 'sum', args: [level.slice(i, i + fanIn).map((k) => ({ $ref: k }))] };
      next.push(key);
      tasks++;
    }
    level = next;
  }
  return { graph, key: level[0], expected: (n * (n + 1)) / 2, tasks };
}
