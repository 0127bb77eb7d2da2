/**
 * Chunked arrays, as `dask.array`: an Array is a grid of blocks, each an
 * NDArray computed by a task of the built-in `array.*` ops (docs/arrays.md).
 * Operations build graphs and run nothing until `compute()` or `persist()`.
 *
 *   const x = ones([1000, 1000], { chunks: 250 });
 *   await x.add(1).mean({ axis: 0 }).compute(client); // an NDArray of 2s
 *
 * Block keys are `<name>:<i>,<j>`, the name a token of the operation and its
 * inputs, so equal expressions share blocks.
 */
import {
  type DType,
  NDArray,
  allocate,
  fromJSONForm,
  isDType,
  isNDArrayJSON,
  sizeOf,
  stridesOf,
} from '../shared/values/ndarray.ts';
import { type AxisSlice, type Chunks, blockIndexes, normalizeChunks, offsets, selectAxis } from './chunks.ts';
import { Delayed, type Computable, type PersistPlan, type Persistable, type Target, futuresLayer } from './delayed.ts';
import { type Layers, type Node, combineTree, literal, ref, task, withLayer } from './graph.ts';
import { type Runner, defaultRunner } from './runner.ts';
import { tokenName, tokenize } from './tokenize.ts';

export type ChunksOption = number | readonly (number | readonly number[])[];
export type Reduction = 'sum' | 'mean' | 'min' | 'max' | 'var' | 'std';
type Operand = WeftArray | number;

export class WeftArray implements Computable, Persistable<WeftArray> {
  constructor(
    /** The token every block key starts with. */
    readonly name: string,
    readonly layers: Layers,
    readonly chunks: Chunks,
    /** The dtype the blocks will have (numpy's promotion rules, simplified: mixed dtypes give float64). */
    readonly dtype: DType,
  ) {}

  get shape(): number[] {
    return this.chunks.map((c) => c.reduce((a, b) => a + b, 0));
  }

  get ndim(): number {
    return this.chunks.length;
  }

  get numblocks(): number[] {
    return this.chunks.map((c) => c.length);
  }

  get tokenName(): string {
    return this.name;
  }

  blockKey(index: readonly number[]): string {
    return `${this.name}:${index.join(',')}`;
  }

  /** The blocks' keys, row-major. */
  blockKeys(): string[] {
    return blockIndexes(this.chunks).map((i) => this.blockKey(i));
  }

  // Elementwise, with another array of the same shape and chunks or a number.
  add(other: Operand): WeftArray {
    return this.binary('array.add', other, 'promote');
  }
  sub(other: Operand): WeftArray {
    return this.binary('array.sub', other, 'promote');
  }
  mul(other: Operand): WeftArray {
    return this.binary('array.mul', other, 'promote');
  }
  div(other: Operand): WeftArray {
    return this.binary('array.div', other, 'float64');
  }
  pow(other: Operand): WeftArray {
    return this.binary('array.pow', other, 'promote');
  }
  mod(other: Operand): WeftArray {
    return this.binary('array.mod', other, 'promote');
  }
  eq(other: Operand): WeftArray {
    return this.binary('array.eq', other, 'uint8');
  }
  ne(other: Operand): WeftArray {
    return this.binary('array.ne', other, 'uint8');
  }
  lt(other: Operand): WeftArray {
    return this.binary('array.lt', other, 'uint8');
  }
  le(other: Operand): WeftArray {
    return this.binary('array.le', other, 'uint8');
  }
  gt(other: Operand): WeftArray {
    return this.binary('array.gt', other, 'uint8');
  }
  ge(other: Operand): WeftArray {
    return this.binary('array.ge', other, 'uint8');
  }
  neg(): WeftArray {
    return this.unary('array.neg', this.dtype);
  }
  abs(): WeftArray {
    return this.unary('array.abs', this.dtype);
  }
  sqrt(): WeftArray {
    return this.unary('array.sqrt', 'float64');
  }
  exp(): WeftArray {
    return this.unary('array.exp', 'float64');
  }
  log(): WeftArray {
    return this.unary('array.log', 'float64');
  }

  astype(dtype: DType): WeftArray {
    if (!isDType(dtype)) throw new TypeError(`astype: unknown dtype ${JSON.stringify(dtype)}.`);
    return this.blockwise('astype', [this], dtype, (key) => task('array.astype', [ref(key(this)), dtype]));
  }

  /** Reductions over all elements (a Delayed number) or along an axis (an array without that axis). */
  sum(options: { axis?: number } = {}): Delayed | WeftArray {
    return this.reduce('sum', options);
  }
  mean(options: { axis?: number } = {}): Delayed | WeftArray {
    return this.reduce('mean', options);
  }
  min(options: { axis?: number } = {}): Delayed | WeftArray {
    return this.reduce('min', options);
  }
  max(options: { axis?: number } = {}): Delayed | WeftArray {
    return this.reduce('max', options);
  }
  var(options: { axis?: number; ddof?: number } = {}): Delayed | WeftArray {
    return this.reduce('var', options);
  }
  std(options: { axis?: number; ddof?: number } = {}): Delayed | WeftArray {
    return this.reduce('std', options);
  }

  /**
   * numpy's `a[...]`: per axis `null` (all of it), an index (drops the axis)
   * or `[start, stop, step?]` (negative bounds count from the end; steps are
   * positive). Only the blocks the slice touches are read. Dropping every axis
   * gives a Delayed number.
   */
  slice(spec: readonly AxisSlice[]): WeftArray | Delayed {
    if (spec.length > this.ndim) throw new RangeError(`slice has ${spec.length} entries for a ${this.ndim}-d array.`);
    const selections = this.chunks.map((sizes, axis) => selectAxis(sizes, spec[axis] ?? null, axis));
    const name = tokenName('getitem', this.name, spec);
    const kept = selections.filter((s) => !s.drop);
    const nodes: Record<string, Node> = {};
    let combos: { src: number[]; local: (number | [number, number, number])[]; out: number[] }[] = [
      { src: [], local: [], out: [] },
    ];
    for (const sel of selections) {
      combos = combos.flatMap((c) =>
        sel.pieces.map((p, i) => ({
          src: [...c.src, p.block],
          local: [...c.local, p.local],
          out: sel.drop ? c.out : [...c.out, i],
        })),
      );
    }
    for (const c of combos)
      nodes[`${name}:${c.out.join(',')}`] = task('array.slice', [ref(this.blockKey(c.src)), literal(c.local)]);
    const layers = withLayer([this.layers], name, nodes);
    if (kept.length === 0) {
      const key = `${name}:`;
      const scalar = `${name}-value`;
      return new Delayed(scalar, withLayer([layers], scalar, { [scalar]: task('array.to_list', [ref(key)]) }));
    }
    return new WeftArray(
      name,
      layers,
      kept.map((s) => s.pieces.map((p) => p.length)),
      this.dtype,
    );
  }

  target(): Target {
    const blocks = blockIndexes(this.chunks);
    if (blocks.length === 1) return { layers: this.layers, key: this.blockKey(blocks[0]), revive: reviveArray };
    // One task joins the blocks: concatenate along the last axis first, then outwards.
    const join = (prefix: number[], axis: number): Node =>
      axis === this.ndim
        ? ref(this.blockKey(prefix))
        : task('array.concatenate', [this.chunks[axis].map((_, i) => join([...prefix, i], axis + 1)), axis]);
    const key = `${this.name}:all`;
    return { layers: withLayer([this.layers], key, { [key]: join([], 0) }), key, revive: reviveArray };
  }

  persistPlan(): PersistPlan<WeftArray> {
    const keys = this.blockKeys();
    return {
      layers: this.layers,
      keys,
      rebuild: (outputs) =>
        new WeftArray(this.name, new Map([[this.name, futuresLayer(keys, outputs)]]), this.chunks, this.dtype),
    };
  }

  compute(client: Runner = defaultRunner()): Promise<NDArray> {
    return client.compute(this) as Promise<NDArray>;
  }

  persist(client: Runner = defaultRunner()): Promise<WeftArray> {
    return client.persist(this);
  }

  private unary(op: string, dtype: DType): WeftArray {
    return this.blockwise(op.slice(6), [this], dtype, (key) => task(op, [ref(key(this))]));
  }

  private binary(op: string, other: Operand, result: DType | 'promote'): WeftArray {
    if (typeof other === 'number') {
      const dtype =
        result === 'promote' ? (Number.isInteger(other) && this.dtype !== 'float32' ? this.dtype : 'float64') : result;
      return this.blockwise(op.slice(6), [this, other], dtype, (key) => task(op, [ref(key(this)), other]));
    }
    if (!(other instanceof WeftArray))
      throw new TypeError(`${op}: the other operand must be a weft Array or a number.`);
    if (JSON.stringify(other.shape) !== JSON.stringify(this.shape))
      throw new RangeError(
        `${op}: shapes ${JSON.stringify(this.shape)} and ${JSON.stringify(other.shape)} differ (collections do not broadcast; slice or build arrays of the same shape).`,
      );
    if (JSON.stringify(other.chunks) !== JSON.stringify(this.chunks))
      throw new RangeError(
        `${op}: the arrays are chunked differently (${JSON.stringify(this.chunks)} and ${JSON.stringify(other.chunks)}); build them with the same chunks.`,
      );
    const dtype = result === 'promote' ? (this.dtype === other.dtype ? this.dtype : 'float64') : result;
    return this.blockwise(op.slice(6), [this, other], dtype, (key) => task(op, [ref(key(this)), ref(key(other))]));
  }

  /** A new array with the same chunks, one task per block. */
  private blockwise(
    prefix: string,
    inputs: unknown[],
    dtype: DType,
    block: (key: (a: WeftArray) => string) => Node,
  ): WeftArray {
    const name = tokenName(prefix, ...inputs.map((i) => (i instanceof WeftArray ? i.name : i)), dtype);
    const nodes: Record<string, Node> = {};
    for (const index of blockIndexes(this.chunks))
      nodes[`${name}:${index.join(',')}`] = block((a) => a.blockKey(index));
    const parents = inputs.filter((i): i is WeftArray => i instanceof WeftArray).map((a) => a.layers);
    return new WeftArray(name, withLayer(parents, name, nodes), this.chunks, dtype);
  }

  private reduce(what: Reduction, { axis, ddof = 0 }: { axis?: number; ddof?: number }): Delayed | WeftArray {
    const finalizeArgs = (partial: string): Node =>
      task('array.finalize', [ref(partial), what], ddof !== 0 ? { ddof } : undefined);
    if (axis === undefined || axis === null || this.ndim === 1) {
      if (axis !== undefined && axis !== null) normalizeAxis(axis, this.ndim);
      const moments = tokenName('moments', this.name);
      const nodes: Record<string, Node> = {};
      const keys = this.blockKeys().map((b, i) => {
        nodes[`${moments}:${i}`] = task('array.moments', [ref(b)]);
        return `${moments}:${i}`;
      });
      const root = combineTree(nodes, moments, keys, combineMoments);
      const layers = withLayer([this.layers], moments, nodes);
      const key = tokenName(what, this.name, ddof);
      return new Delayed(key, withLayer([layers], key, { [key]: finalizeArgs(root) }));
    }
    const ax = normalizeAxis(axis, this.ndim);
    const moments = tokenName('moments', this.name, ax);
    const name = tokenName(what, this.name, ax, ddof);
    const partials: Record<string, Node> = {};
    const out: Record<string, Node> = {};
    const kept = this.chunks.filter((_, i) => i !== ax);
    for (const index of blockIndexes(kept)) {
      const keys = this.chunks[ax].map((_, k) => {
        const src = [...index.slice(0, ax), k, ...index.slice(ax)];
        const key = `${moments}:${src.join(',')}`;
        partials[key] = task('array.moments', [ref(this.blockKey(src))], { axis: ax });
        return key;
      });
      const root = combineTree(partials, `${moments}:${index.join(',')}`, keys, combineMoments);
      out[`${name}:${index.join(',')}`] = finalizeArgs(root);
    }
    const layers = withLayer([withLayer([this.layers], moments, partials)], name, out);
    return new WeftArray(name, layers, kept, 'float64');
  }
}

const combineMoments = (inputs: Node[]): Node => task('array.combine_moments', [inputs]);

function normalizeAxis(axis: number, ndim: number): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= ndim)
    throw new RangeError(`axis ${axis} is out of range for a ${ndim}-d array: use ${-ndim} to ${ndim - 1}.`);
  return axis < 0 ? axis + ndim : axis;
}

function reviveArray(value: unknown): NDArray {
  return isNDArrayJSON(value) ? fromJSONForm(value) : (value as NDArray);
}

interface CreateOptions {
  chunks?: ChunksOption;
  dtype?: DType;
}

/** Builds an array whose every block is a task of its block shape and offsets. */
function generated(
  prefix: string,
  shape: readonly number[],
  chunks: ChunksOption | undefined,
  dtype: DType,
  token: unknown[],
  block: (shape: number[], start: number[], index: number[]) => Node,
): WeftArray {
  const normalized = normalizeChunks(shape, chunks ?? [...shape].map((n) => Math.max(1, n)));
  const name = tokenName(prefix, shape, normalized, dtype, ...token);
  const starts = normalized.map(offsets);
  const nodes: Record<string, Node> = {};
  for (const index of blockIndexes(normalized)) {
    nodes[`${name}:${index.join(',')}`] = block(
      index.map((b, axis) => normalized[axis][b]),
      index.map((b, axis) => starts[axis][b]),
      index,
    );
  }
  return new WeftArray(name, new Map([[name, nodes]]), normalized, dtype);
}

export function ones(shape: readonly number[], options: CreateOptions = {}): WeftArray {
  const dtype = options.dtype ?? 'float64';
  return generated('ones', shape, options.chunks, dtype, [], (s) => task('array.ones', [s, dtype]));
}

export function zeros(shape: readonly number[], options: CreateOptions = {}): WeftArray {
  const dtype = options.dtype ?? 'float64';
  return generated('zeros', shape, options.chunks, dtype, [], (s) => task('array.zeros', [s, dtype]));
}

/** `arange(stop)` or `arange(start, stop, step?)`, as numpy: a 1-d array, float64 unless every bound is an integer (int32). */
export function arange(start: number, stop?: number, step = 1, options: CreateOptions = {}): WeftArray {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0 || !Number.isFinite(step)) throw new RangeError('arange: step must be a finite non-zero number.');
  const n = Math.max(0, Math.ceil((stop - start) / step));
  const dtype =
    options.dtype ??
    ([start, stop, step].every(Number.isInteger) && Math.abs(start) < 2 ** 31 && Math.abs(stop) < 2 ** 31
      ? 'int32'
      : 'float64');
  return generated('arange', [n], options.chunks, dtype, [start, stop, step], ([len], [at]) =>
    task('array.arange', [start + at * step, start + (at + len) * step, step, dtype]),
  );
}

/** Uniform float64 in [0, 1), reproducible from `seed`: each block draws from its own seed, derived from `seed` and the block's index. */
export function random(shape: readonly number[], options: { chunks?: ChunksOption; seed?: number } = {}): WeftArray {
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  return generated('random', shape, options.chunks, 'float64', [seed], (s, _at, index) =>
    task('array.random', [s, blockSeed(seed, index)]),
  );
}

function blockSeed(seed: number, index: number[]): number {
  return parseInt(tokenize('seed', seed, index).slice(0, 12), 16);
}

/**
 * An array from client data (an NDArray or nested lists of numbers), cut into
 * blocks that travel in the graph as literals.
 */
export function fromArray(data: NDArray | readonly unknown[], options: CreateOptions = {}): WeftArray {
  const source = data instanceof NDArray ? data : fromNested(data, options.dtype);
  const dtype = source.dtype;
  const name0 = tokenName('array', source);
  return generated('array', source.shape, options.chunks, dtype, [name0], (shape, start) =>
    literal(extractBlock(source, start, shape).toJSON()),
  );
}

/** Nested lists of numbers as an NDArray: int32 when every number is an int32 integer, as `array.from`. */
function fromNested(data: readonly unknown[], dtype?: DType): NDArray {
  const shape: number[] = [];
  for (let level: unknown = data; Array.isArray(level); level = level[0]) shape.push(level.length);
  const flat: number[] = [];
  const walk = (v: unknown, depth: number, path: string): void => {
    if (depth === shape.length) {
      if (typeof v !== 'number') throw new TypeError(`fromArray: ${path} is ${JSON.stringify(v)}, not a number.`);
      flat.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth])
      throw new TypeError(`fromArray: ${path} must be a list of ${shape[depth]} (the data is ragged).`);
    v.forEach((x, i) => walk(x, depth + 1, `${path}[${i}]`));
  };
  walk(data, 0, 'data');
  const type =
    dtype ?? (flat.every((x) => Number.isInteger(x) && x >= -(2 ** 31) && x < 2 ** 31) ? 'int32' : 'float64');
  const out = allocate(type, flat.length);
  flat.forEach((x, i) => (out[i] = x));
  return new NDArray(type, shape, out);
}

/** The block of `a` at `start` of `shape`, copied. */
function extractBlock(a: NDArray, start: number[], shape: number[]): NDArray {
  const out = allocate(a.dtype, sizeOf(shape));
  const strides = stridesOf(a.shape);
  const index = shape.map(() => 0);
  for (let i = 0; i < out.length; i++) {
    let at = 0;
    for (let d = 0; d < shape.length; d++) at += (start[d] + index[d]) * strides[d];
    out[i] = a.data[at];
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return new NDArray(a.dtype, shape, out);
}
