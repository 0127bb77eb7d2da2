/**
 * Keeps the contract files in step: the generated types match openapi.yaml,
 * and the error catalogue matches openapi.yaml and docs/errors.md. (Import
 * boundaries, src/graph's purity among them, are .dependency-cruiser.mjs's.)
 */
import { readFileSync } from 'node:fs';
import openapiTS, { astToString } from 'openapi-typescript';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { errorCatalogue } from '../src/api/errors.ts';

const root = new URL('..', import.meta.url);
const read = (p: string) => readFileSync(new URL(p, root), 'utf8');

describe('openapi.yaml is the contract', () => {
  it('src/shared/openapi-types.ts is what `npm run gen:types` generates now', async () => {
    const ast = await openapiTS(new URL('openapi.yaml', root));
    const generated = astToString(ast);
    const committed = read('src/shared/openapi-types.ts');
    // The CLI adds a header comment; compare the generated body.
    expect(
      committed.endsWith(generated) || committed.includes(generated.trim()),
      'run `npm run gen:types` and commit the result',
    ).toBe(true);
  });

  it('the error codes of openapi.yaml are the catalogue of src/api/errors.ts', () => {
    const spec = parse(read('openapi.yaml'));
    expect([...spec.components.schemas.ErrorCode.enum].sort()).toEqual(Object.keys(errorCatalogue).sort());
  });

  it('docs/errors.md describes every code with its HTTP status', () => {
    const doc = read('docs/errors.md');
    for (const [code, { status }] of Object.entries(errorCatalogue)) {
      expect(doc, code).toMatch(new RegExp(`\\| \`${code}\` \\| ${status} \\|`));
    }
  });
});
