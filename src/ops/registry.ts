/**
 * The op registry: named functions that tasks call. Workers hold a registry of
 * the built-in ops plus the operator's modules (WEFT_OPS); they publish the
 * names to Redis so the API can reject a graph calling an op nobody runs.
 */

export interface OpContext {
  /**
   * Aborted when the worker shuts down (nothing aborts it when the task's
   * graph is cancelled). Each task has its own, so listeners an op adds go
   * with the task.
   */
  signal: AbortSignal;
  graph: string;
  key: string;
}

export interface OpDefinition {
  name: string;
  /** One line, shown by GET /v1/ops. */
  description: string;
  /** Positional and keyword arguments as resolved values. May return a promise. */
  run: (args: unknown[], kwargs: Record<string, unknown>, ctx: OpContext) => unknown;
  /** Same inputs give the same output (results may be cached). Default true. */
  deterministic?: boolean;
  /** Changes when the op's results change, so cached results of the old version are not reused. Default "1". */
  version?: string;
}

const OP_NAME = /^[A-Za-z_][\w.:-]{0,127}$/;

export function defineOp(def: OpDefinition): OpDefinition {
  if (!OP_NAME.test(def.name))
    throw new Error(
      `Op name ${JSON.stringify(def.name)} is invalid: use letters, digits, "_", ".", ":" or "-", starting with a letter or "_".`,
    );
  if (typeof def.run !== 'function') throw new Error(`Op ${def.name} has no run function.`);
  return { deterministic: true, ...def };
}

export class OpRegistry {
  private readonly ops = new Map<string, OpDefinition>();

  register(def: OpDefinition): void {
    if (this.ops.has(def.name)) throw new Error(`Op ${JSON.stringify(def.name)} is registered twice.`);
    this.ops.set(def.name, defineOp(def));
  }

  get(name: string): OpDefinition | undefined {
    return this.ops.get(name);
  }

  has(name: string): boolean {
    return this.ops.has(name);
  }

  list(): { name: string; description: string; version: string; deterministic: boolean }[] {
    return [...this.ops.values()]
      .map(({ name, description, version, deterministic }) => ({
        name,
        description,
        version: version ?? '1',
        deterministic: deterministic !== false,
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }
}

/** Raised by ops for bad arguments; the message is shown to the user as the task's error. */
export class OpArgumentError extends Error {
  override readonly name = 'OpArgumentError';
}
