/**
 * Node's side of test_codec.py's cross-checks: reads a JSON list of cases on
 * stdin and answers a JSON list, using weft's own value code (src/shared/codec.ts):
 *   {"encode": <value>}  -> {"bytes": base64 of encodeValue(value)}
 *   {"decode": base64}   -> {"json": the decoded value as JSON, "bytes": base64 of it encoded again}
 * In a value, {"$nd": [dtype, shape, base64 little-endian data]} is an NDArray,
 * {"$typed": [dtype, base64]} a typed array and {"$frame": [[name, column], ...]}
 * a Frame (a column is {"$typed": ...} or a list of strings and nulls).
 * Run from the repository root: node --import tsx clients/python/tests/node_values.ts
 */
import { decodeValue, encodeValue } from '../../../src/shared/codec.ts';
import { Frame } from '../../../src/shared/values/frame.ts';
import { allocate, type DType, NDArray } from '../../../src/shared/values/ndarray.ts';

function typed(dtype: DType, b64: string) {
  const bytes = Buffer.from(b64, 'base64');
  const width = allocate(dtype, 0).BYTES_PER_ELEMENT;
  const out = allocate(dtype, bytes.length / width);
  new Uint8Array(out.buffer).set(bytes);
  return out;
}

function build(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(build);
  if (typeof v !== 'object' || v === null) return v;
  const o = v as Record<string, unknown>;
  if ('$nd' in o) {
    const [dtype, shape, data] = o.$nd as [DType, number[], string];
    return new NDArray(dtype, shape, typed(dtype, data));
  }
  if ('$typed' in o) return typed(...(o.$typed as [DType, string]));
  if ('$frame' in o) return new Frame((o.$frame as [string, unknown][]).map(([n, c]) => [n, build(c)] as never));
  return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, build(x)]));
}

function toJSON(v: unknown): unknown {
  if (v instanceof NDArray) return { $nd: [v.dtype, v.shape, Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength).toString('base64')] };
  if (v instanceof Frame) return { $frame: v.entries().map(([n, c]) => [n, toJSON(c)]) };
  if (ArrayBuffer.isView(v)) return { $typed: [v.constructor.name, Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')] };
  if (Array.isArray(v)) return v.map(toJSON);
  if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJSON(x)]));
  return typeof v === 'number' && !Number.isFinite(v) ? String(v) : v;
}

const chunks: Buffer[] = [];
for await (const c of process.stdin) chunks.push(c as Buffer);
const cases = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>[];
const answers = cases.map((c) => {
  if ('encode' in c) return { bytes: encodeValue(build(c.encode)).toString('base64') };
  const value = decodeValue(Buffer.from(c.decode as string, 'base64'));
  return { json: toJSON(value), bytes: encodeValue(value).toString('base64') };
});
process.stdout.write(JSON.stringify(answers));
