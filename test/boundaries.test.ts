/**
 * The import boundaries of .dependency-cruiser.mjs fire: a small tree that
 * breaks each rule once, beside imports the rules allow, is checked with the
 * project's configuration, and every rule is reported by name at its file,
 * and nothing else is. (`npm test` checks the real src/ before this runs.)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Each file of the tree, by path, with what it imports. */
const tree: Record<string, string[]> = {
  'src/shared/codec.ts': [],
  'src/shared/hash.ts': ["import { readFileSync } from 'node:fs';", "import '../store/values.ts';"],
  'src/shared/values/ndarray.ts': ["import { endianness } from 'node:os';", "import '../codec.ts';"],
  'src/store/values.ts': ["import '../shared/codec.ts';"],
  'src/graph/plan.ts': ["import '../shared/hash.ts';", "import './parse.ts';"],
  'src/graph/parse.ts': ["import { readFile } from 'node:fs/promises';"],
  'src/queue/graphs.ts': ["import '../graph/plan.ts';", "import '../shared/codec.ts';"],
  'src/queue/known.ts': ["import '../workers/worker.ts';", "import type { X } from '../api/routes.ts';"],
  'src/api/routes.ts': ["import '../queue/graphs.ts';", "import '../graph/plan.ts';"],
  'src/workers/worker.ts': ["import '../queue/graphs.ts';"],
  'src/client/client.ts': ["import '../shared/codec.ts';", "import type { X } from '../api/routes.ts';"],
  'src/cli/main.ts': ["import '../client/client.ts';", "import '../store/values.ts';"],
  'src/ops/builtin.ts': ["import '../supervisor/main.ts';"],
  'src/supervisor/main.ts': ["import './redis.ts';"],
  'src/supervisor/redis.ts': ["import './main.ts';"],
  // A cycle through `import type` only: allowed.
  'src/net/address.ts': ["import type { X } from './targets.ts';"],
  'src/net/targets.ts': ["import './address.ts';"],
};

/** Rule, file it must be reported at, and the import that breaks it. */
const violations: [string, string, string][] = [
  ['shared-stands-alone', 'src/shared/hash.ts', 'src/store/values.ts'],
  ['shared-does-no-io', 'src/shared/hash.ts', 'fs'],
  ['shared-does-no-io', 'src/shared/values/ndarray.ts', 'os'],
  ['graph-is-pure', 'src/graph/parse.ts', 'fs/promises'],
  ['sdk-imports-only-shared', 'src/client/client.ts', 'src/api/routes.ts'],
  ['cli-is-a-client', 'src/cli/main.ts', 'src/store/values.ts'],
  ['layers-below-processes', 'src/queue/known.ts', 'src/api/routes.ts'],
  ['layers-below-processes', 'src/queue/known.ts', 'src/workers/worker.ts'],
  ['layers-below-processes', 'src/ops/builtin.ts', 'src/supervisor/main.ts'],
  ['no-circular', 'src/supervisor/main.ts', 'src/supervisor/redis.ts'],
];

const dir = mkdtempSync(join(tmpdir(), 'weft-boundaries-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('import boundaries (.dependency-cruiser.mjs)', () => {
  it('report each broken rule by name at its file, and no allowed import', () => {
    for (const [path, imports] of Object.entries(tree)) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), `${imports.join('\n')}\nexport type X = 1;\n`);
    }
    const run = spawnSync(
      process.execPath,
      [
        join(root, 'node_modules/dependency-cruiser/bin/dependency-cruise.mjs'),
        'src',
        '--config',
        join(root, '.dependency-cruiser.mjs'),
        '--output-type',
        'err',
      ],
      // CI=true (as .ci/run may be started) makes the reporter colour its output: ask for none, and strip any left.
      { cwd: dir, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' } },
    );
    expect(run.status, run.stderr).not.toBe(0);
    // One line per violation: "  error <rule>: <from> → <to>" (a cycle continues on the next lines).
    const reported = [...stripVTControlCharacters(run.stdout).matchAll(/error ([\w-]+): (\S+) → \s*(\S+)/g)].map(
      ([, rule, from, to]) => [rule, from, to],
    );
    expect(reported.sort()).toEqual(violations.sort());
  });
});
