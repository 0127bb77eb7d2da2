/** The meaning of a stored value's leading bytes, decided in one function (src/store/stored-bytes.ts). */
import { describe, expect, it } from 'vitest';
import { encodeValue } from '../src/shared/codec.ts';
import { parseInputReference, parseLocation, SPILL_STUB, storedForm } from '../src/store/stored-bytes.ts';

const stub = (rest: string) => Buffer.concat([Buffer.from([SPILL_STUB]), Buffer.from(rest)]);

describe('storedForm', () => {
  it('tells a value, a missing object, a bare stub, a spilled location and a reference apart', () => {
    expect(storedForm(encodeValue({ a: [1, 2] }))).toBe('value');
    expect(storedForm(encodeValue(null))).toBe('value');
    expect(storedForm(null)).toBe('missing');
    expect(storedForm(Buffer.from([SPILL_STUB]))).toBe('stub');
    expect(storedForm(stub('w1-0.spill:64:5000'))).toBe('spilled');
    expect(storedForm(stub('@7:1@weft:{g}:vals'))).toBe('reference');
  });

  it('parses a spilled location and a reference', () => {
    expect(parseLocation(stub('dir/w1-0.spill:64:5000'))).toEqual({ file: 'dir/w1-0.spill', offset: 64, length: 5000 });
    expect(parseInputReference(stub('@7:1@weft:{g}:vals'))).toEqual({ field: '7:1', key: 'weft:{g}:vals' });
    expect(parseInputReference(stub('x:1:2'))).toBeNull();
  });

  it('no MessagePack value starts with the stub byte', () => {
    for (const v of [0, -1, 1.5, 'text', '', [], {}, true, new Uint8Array([SPILL_STUB]), new Float64Array(3)])
      expect(encodeValue(v)[0]).not.toBe(SPILL_STUB);
  });
});
