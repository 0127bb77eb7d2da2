// `npm run build`: the service compiled to dist/ (tsc -p tsconfig.build.json), with the files that the
// modules load by URL beside them as in src/: the Lua scripts, the dashboard's static files, and the
// plain-JavaScript thread entries (.mjs). dist/ sits one level below package.json as src/ does, so the
// paths relative to a module (openapi.yaml, package.json, clients/python) are the same.
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = `${root}dist`;
rmSync(dist, { recursive: true, force: true });
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', `${root}tsconfig.build.json`], { stdio: 'inherit' });
cpSync(`${root}src`, dist, {
  recursive: true,
  filter: (src) => !/\.ts$/.test(src),
});
// Op modules import defineOp and OpArgumentError from the package (`@weft/service/ops`, package.json
// exports); registry.ts imports nothing, so its declarations are the only ones the package needs.
execFileSync(
  process.execPath,
  [
    tsc,
    `${root}src/ops/registry.ts`,
    '--declaration',
    '--emitDeclarationOnly',
    '--outDir',
    `${dist}/ops`,
    '--target',
    'ES2022',
    '--module',
    'NodeNext',
    '--types',
    'node',
    '--skipLibCheck',
  ],
  { stdio: 'inherit' },
);
