/**
 * Errors found in a submitted graph. Each carries a stable `code` (the API maps
 * codes to HTTP statuses in one catalogue, src/api/errors.ts) and the data a
 * user needs to fix the graph: the key, the JSON path inside it, the cycle.
 */
export type GraphErrorCode =
  | 'invalid_graph'
  | 'unknown_key'
  | 'missing_dependency'
  | 'cycle'
  | 'unknown_op'
  | 'too_many_tasks'
  | 'key_too_long';

export class GraphError extends Error {
  override readonly name = 'GraphError';
  constructor(
    readonly code: GraphErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** A JSON path such as `$["y"].args[0]`, as users see it in error messages. */
export function jsonPath(key: string, path: readonly (string | number)[]): string {
  let out = `$[${JSON.stringify(key)}]`;
  for (const part of path) {
    out +=
      typeof part === 'number'
        ? `[${part}]`
        : /^[A-Za-z_$][\w$]*$/.test(part)
          ? `.${part}`
          : `[${JSON.stringify(part)}]`;
  }
  return out;
}
