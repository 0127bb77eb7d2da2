// package.json's version is the one place a version is set: `npm version <new>` bumps it (and
// package-lock.json), then runs this (package.json's "version" script), which writes it wherever
// else a version is carried: the SDK's package.json, the Python client's pyproject.toml and
// __version__, openapi.yaml's info.version and src/shared/version.ts (the SDK cannot read
// package.json in a browser). test/versions.test.ts holds them equal.
// `node scripts/sync-version.mjs [root]`: root defaults to this checkout.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = process.argv[2] ?? fileURLToPath(new URL('..', import.meta.url));
const path = (p) => `${root}/${p}`;
const { version } = JSON.parse(readFileSync(path('package.json'), 'utf8'));
if (!/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(version)) throw new Error(`package.json's version ${version} is not x.y.z`);

/** Replaces the one match of `pattern` in a file (its first group is what stands before the version). */
function rewrite(file, pattern, replacement) {
  const text = readFileSync(path(file), 'utf8');
  const matches = text.match(new RegExp(pattern.source, `${pattern.flags}g`)) ?? [];
  if (matches.length !== 1)
    throw new Error(`${file}: expected one version line matching ${pattern}, found ${matches.length}`);
  writeFileSync(path(file), text.replace(pattern, replacement));
}

const sdk = JSON.parse(readFileSync(path('clients/ts/package.json'), 'utf8'));
sdk.version = version;
writeFileSync(path('clients/ts/package.json'), `${JSON.stringify(sdk, null, 2)}\n`);
rewrite('clients/python/pyproject.toml', /^version = "[^"]*"$/m, `version = "${version}"`);
rewrite('clients/python/weft/__init__.py', /^__version__ = "[^"]*"$/m, `__version__ = "${version}"`);
rewrite('openapi.yaml', /^(info:\n(?:(?: {2}.*)?\n)*? {2}version: ).*$/m, `$1${version}`);
rewrite('src/shared/version.ts', /^export const VERSION = '[^']*';$/m, `export const VERSION = '${version}';`);
console.log(`version ${version}: clients/ts/package.json, clients/python, openapi.yaml, src/shared/version.ts`);
