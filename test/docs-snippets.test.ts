/**
 * Every fenced code block of the READMEs and docs/ runs, or says why not
 * (issue 21, item 3: the SDK's first snippet threw). Against a weft as
 * `npm start` runs it (with Python executors, loopback targets refused):
 *
 * - `ts` blocks of a file run in order as one module (a later block uses
 *   what an earlier one made), with tsx; `python` blocks likewise with
 *   Debian's /usr/bin/python3 and PYTHONPATH=clients/python; `js` blocks
 *   each on their own.
 * - `sh` blocks run only when marked `<!-- run -->` (with `$ID`, a finished
 *   graph's id, in the checkout): a shell block may install packages or start
 *   services, so one runs only when someone has said it is safe to.
 * - `json` blocks that are whole requests (`graph` and `keys`) are POSTed to
 *   /v1/graphs and must finish `done`.
 * - A line whose comment is a number (`await client.compute(total); // 12`,
 *   `client.get(dsk, "x")  # 12: ...`) must give that number.
 * - The docs' address of a local weft (127.0.0.1:8080, localhost:8080) is
 *   this test's weft.
 *
 * Anything else carries a marker on the line before it (never run):
 * `<!-- not run: <why> -->` (output, formats, config, commands that install
 * or start services), or `<!-- output -->` for what the block above prints,
 * which is then compared with what it printed (graph ids aside).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWeft, type Weft } from './helpers/weft.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const PYTHON = process.env.WEFT_TEST_PYTHON ?? '/usr/bin/python3';
const FILES = [
  'README.md',
  'clients/python/README.md',
  'clients/python/dask_suite/README.md',
  'examples/README.md',
  ...[
    'architecture',
    'arrays',
    'benchmarks',
    'client',
    'dataframes',
    'deploy',
    'errors',
    'events',
    'executors',
    'graph-format',
    'webhooks',
  ].map((d) => `docs/${d}.md`),
];

interface Block {
  file: string;
  line: number;
  lang: string;
  code: string;
  /** The marker before it: `not run: why`, `output` or `run`. */
  marker?: string;
}

/** The fenced blocks of a Markdown file (indented fences in lists too), with the marker comment before each. */
function blocks(file: string, text: string): Block[] {
  const lines = text.split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,})(\S*)/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, lang] = open;
    let end = i + 1;
    while (end < lines.length && !lines[end].startsWith(`${indent}${fence}`)) end++;
    const code = lines
      .slice(i + 1, end)
      .map((l) => l.slice(indent.length))
      .join('\n');
    let before = i - 1;
    while (before >= 0 && lines[before].trim() === '') before--;
    const marker = /^\s*<!--\s*(not run:.+?|output|run)\s*-->\s*$/.exec(lines[before] ?? '')?.[1];
    out.push({ file, line: i + 1, lang, code, marker });
    i = end;
  }
  return out;
}

const all = FILES.flatMap((f) => blocks(f, readFileSync(`${root}${f}`, 'utf8')));
const isRequest = (b: Block) => b.lang === 'json' && /^\s*\{\s*"graph"/.test(b.code) && /"keys"/.test(b.code);
const runs = (b: Block) =>
  b.lang === 'sh'
    ? b.marker === 'run'
    : (b.marker === undefined || b.marker === 'run') && (['ts', 'python', 'js'].includes(b.lang) || isRequest(b));
const markedNotRun = (b: Block) => b.marker === 'output' || b.marker?.startsWith('not run:');

let weft: Weft;
let graphId: string;
beforeAll(async () => {
  weft = await startWeft({ workers: 2, env: { WEFT_POOLS: 'default,python' }, allowPrivateTargets: false });
  graphId = (await weft.compute({ x: 1, y: { $op: 'inc', args: [{ $ref: 'x' }] } }, 'y')).id;
});
afterAll(() => weft?.close());

/** The docs' local weft is this test's. */
function here(code: string): string {
  const hostPort = new URL(weft.url).host;
  return code
    .replace(/http:\/\/(127\.0\.0\.1|localhost):8080/g, weft.url)
    .replace(/\b(127\.0\.0\.1|localhost):8080\b/g, hostPort);
}

/** A line ending in a comment that is a number asserts that number. */
function numberChecks(code: string, lang: 'ts' | 'python'): string {
  return code
    .split('\n')
    .map((line) => {
      if (lang === 'ts') {
        const m = /^(\s*)(await .+?);\s*\/\/\s*(-?\d+(?:\.\d+)?)\s*$/.exec(line);
        return m
          ? `${m[1]}{ const got = ${m[2]}; if (got !== ${m[3]}) throw new Error(\`${m[2].replace(/[`$\\]/g, '\\$&')} gave \${got}, the docs say ${m[3]}\`); }`
          : line;
      }
      const m = /^(\s*)([^#=]+?)\s+#\s*(-?\d+(?:\.\d+)?)(?::.*)?$/.exec(line);
      return m ? `${m[1]}assert (${m[2]}) == ${m[3]}, ${JSON.stringify(`${m[2]}: the docs say ${m[3]}`)}` : line;
    })
    .join('\n');
}

async function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; stdout: string; output: string }> {
  // Asynchronously: the API the snippets call runs in this process.
  const child = spawn(command, args, { cwd: root, env: { ...process.env, WEFT_URL: weft.url, ...env } });
  let stdout = '';
  let output = '';
  child.stdout.on('data', (d) => {
    stdout += d;
    output += d;
  });
  child.stderr.on('data', (d) => (output += d));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, output };
}

it('every block runs here or is marked with why not (or as output)', () => {
  expect(all.length).toBeGreaterThan(30);
  const unmarked = all
    .filter((b) => !runs(b) && !markedNotRun(b))
    .map((b) => `${b.file}:${b.line} (${b.lang || 'no language'})`);
  expect(unmarked, 'blocks that neither run nor say why not').toEqual([]);
  // An output marker follows a block that runs.
  for (const [i, b] of all.entries())
    if (b.marker === 'output') expect(runs(all[i - 1]), `${b.file}:${b.line}`).toBe(true);
});

const scratch = `${root}test-artifacts/doc-snippets-${process.pid}`;
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

for (const file of FILES) {
  const own = all.filter((b) => b.file === file && runs(b));
  if (own.length === 0) continue;
  describe(file, () => {
    const ts = own.filter((b) => b.lang === 'ts');
    if (ts.length > 0)
      it(`its TypeScript blocks (lines ${ts.map((b) => b.line).join(', ')}) run as one module`, async () => {
        mkdirSync(scratch, { recursive: true });
        const path = `${scratch}/${file.replace(/\W/g, '_')}.ts`;
        writeFileSync(
          path,
          ts
            .map((b) => `process.stderr.write('[${file}:${b.line}]\\n');\n${numberChecks(here(b.code), 'ts')}`)
            .join('\n'),
        );
        const { code, output } = await run(process.execPath, ['--import', 'tsx', path]);
        expect(code, output.slice(-3000)).toBe(0);
      }, 120_000);

    const python = own.filter((b) => b.lang === 'python');
    if (python.length > 0)
      it(`its Python blocks (lines ${python.map((b) => b.line).join(', ')}) run as one script`, async () => {
        const script = python
          .map(
            (b) =>
              `import sys; print('[${file}:${b.line}]', file=sys.stderr, flush=True)\n${numberChecks(here(b.code), 'python')}`,
          )
          .join('\n');
        const { code, output } = await run(PYTHON, ['-c', script], { PYTHONPATH: `${root}clients/python` });
        expect(code, output.slice(-3000)).toBe(0);
      }, 180_000);

    for (const b of own.filter((b) => b.lang === 'js'))
      it(`its JavaScript block at line ${b.line} runs`, async () => {
        const { code, output } = await run(process.execPath, ['--input-type=module', '-e', here(b.code)]);
        expect(code, output).toBe(0);
      });

    for (const b of own.filter((b) => b.lang === 'sh'))
      it(`its shell block at line ${b.line} runs${outputOf(b) ? ' and prints what the docs show' : ''}`, async () => {
        const { code, stdout, output } = await run('bash', ['-euo', 'pipefail', '-c', here(b.code)], { ID: graphId });
        expect(code, output.slice(-3000)).toBe(0);
        const shown = outputOf(b);
        if (shown) {
          const got = JSON.parse(stdout);
          expect(got).toEqual(JSON.parse(shown.code.replaceAll(JSON.parse(shown.code).id, got.id)));
        }
      }, 60_000);

    for (const b of own.filter(isRequest))
      it(`its request at line ${b.line} is answered done`, async () => {
        const body = JSON.parse(b.code);
        const { status, body: answer } = await weft.submit({ ...body, wait: 30 });
        expect(status, JSON.stringify(answer)).toBe(200);
        expect(answer.status).toBe('done');
      });
  });
}

function outputOf(b: Block): Block | undefined {
  const next = all[all.indexOf(b) + 1];
  return next?.file === b.file && next.marker === 'output' ? next : undefined;
}
