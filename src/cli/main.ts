/**
 * The `weft` command (package.json "bin"): submit graphs, move objects, see
 * stats and ops, run a worker or the whole service.
 *
 *   weft submit graph.json --keys a,b [--wait] [--persist] [--json]
 *   weft get OID | weft put FILE | weft rm OID | weft stats | weft ops
 *   weft worker | weft serve
 *
 * The service is at WEFT_URL (default http://127.0.0.1:8080). Exit codes:
 * 0 done, 1 the graph failed or was cancelled, 2 bad usage or a rejected
 * request, 3 the service cannot be reached.
 */
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Client } from '../client/client.ts';
import { showProgress } from './progress.ts';

export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

const USAGE = `usage:
  weft submit GRAPH.json --keys KEY[,KEY...] [--wait] [--persist] [--json]
      GRAPH.json holds a graph (keys to nodes) or a whole request body ({"graph", "keys", ...})
  weft get OID [--json]           an object's value
  weft put FILE                   store a JSON file as an object; prints {"$oid"}
  weft rm OID                     release an object
  weft stats | weft ops           the store's statistics | the ops workers run
  weft worker [--pools a,b] | weft serve   run a worker (of these pools) | the API and workers (npm start)
The service is at WEFT_URL (default http://127.0.0.1:8080); WEFT_TOKEN is sent as its API token.
exit codes: 0 done, 1 graph failed or cancelled, 2 bad usage or rejected request, 3 service unreachable`;

class CliError extends Error {
  constructor(
    message: string,
    readonly exit: number,
  ) {
    super(message);
  }
}

interface Parsed {
  command: string | undefined;
  positional: string[];
  flags: Map<string, string | true>;
}

export function parseArgs(argv: string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const [name, value] = a.slice(2).split('=', 2);
      if (value !== undefined) flags.set(name, value);
      else if (name === 'keys') flags.set(name, argv[++i] ?? '');
      else flags.set(name, true);
    } else positional.push(a);
  }
  return { command: positional.shift(), positional, flags };
}

/** Authorization for a service with tokens: WEFT_TOKEN (set by `run`). */
let token = '';

async function call(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  let res: Response;
  try {
    res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new CliError(`cannot reach weft at ${base}: ${(err as Error).message}`, EXIT.unreachable);
  }
  const text = await res.text();
  const parsed = text ? JSON.parse(text) : null;
  if (res.status >= 400)
    throw new CliError(`${parsed?.error?.code ?? res.status}: ${parsed?.error?.message ?? text}`, EXIT.usage);
  return { status: res.status, body: parsed };
}

export async function run(
  argv: string[],
  env: NodeJS.ProcessEnv,
  out: NodeJS.WriteStream,
  err: NodeJS.WriteStream,
): Promise<number> {
  const { command, positional, flags } = parseArgs(argv);
  const base = (env.WEFT_URL ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  token = env.WEFT_TOKEN ?? '';
  const print = (v: unknown) =>
    out.write((typeof v === 'string' ? v : JSON.stringify(v, null, flags.has('json') ? 0 : 2)) + '\n');
  try {
    switch (command) {
      case 'submit': {
        const file = positional[0];
        if (!file) throw new CliError('submit needs a graph file', EXIT.usage);
        let raw: unknown;
        try {
          raw = JSON.parse(readFileSync(file, 'utf8'));
        } catch (e) {
          throw new CliError(`cannot read ${file} as JSON: ${(e as Error).message}`, EXIT.usage);
        }
        const body: Record<string, unknown> =
          raw && typeof raw === 'object' && 'graph' in raw && 'keys' in raw
            ? (raw as Record<string, unknown>)
            : { graph: raw };
        const keys = flags.get('keys');
        if (typeof keys === 'string') body.keys = keys.includes(',') ? keys.split(',') : keys;
        if (body.keys === undefined) throw new CliError('give the keys to compute with --keys a,b', EXIT.usage);
        if (flags.has('persist')) body.persist = true;
        const submittedAt = Date.now();
        const submitted = await call(base, 'POST', '/v1/graphs', body);
        const id = submitted.body.id as string;
        if (!flags.has('wait') || flags.has('persist')) {
          print(submitted.body);
          return EXIT.ok;
        }
        await showProgress(
          new Client({ url: base, token: token || undefined, asDefault: false }),
          id,
          err,
          submittedAt,
        );
        let result = await call(base, 'GET', `/v1/graphs/${id}/result?wait=60`);
        while (result.status === 202) result = await call(base, 'GET', `/v1/graphs/${id}/result?wait=60`);
        print(result.body);
        return result.body.status === 'done' ? EXIT.ok : EXIT.failed;
      }
      case 'get':
        print(
          (await call(base, 'GET', `/v1/objects/${encodeURIComponent(need(positional[0], 'an object id'))}?wait=60`))
            .body,
        );
        return EXIT.ok;
      case 'put':
        print(
          (
            await call(
              base,
              'POST',
              '/v1/objects',
              JSON.parse(readFileSync(need(positional[0], 'a JSON file'), 'utf8')),
            )
          ).body,
        );
        return EXIT.ok;
      case 'rm':
        print(
          (await call(base, 'DELETE', `/v1/objects/${encodeURIComponent(need(positional[0], 'an object id'))}`)).body,
        );
        return EXIT.ok;
      case 'stats':
        print((await call(base, 'GET', '/v1/stats')).body);
        return EXIT.ok;
      case 'ops': {
        const { ops } = (await call(base, 'GET', '/v1/ops')).body as { ops: { name: string; description: string }[] };
        if (flags.has('json')) print(ops);
        else for (const op of ops) print(`${op.name.padEnd(24)} ${op.description}`);
        return EXIT.ok;
      }
      case 'worker':
      case 'serve': {
        // From src/ through tsx (a checkout), or compiled in dist/ (npm run build; an installed package): the child likewise.
        const compiled = import.meta.url.endsWith('.js');
        const entry = `../${command === 'worker' ? 'workers' : 'supervisor'}/main.${compiled ? 'js' : 'ts'}`;
        const script = fileURLToPath(new URL(entry, import.meta.url));
        const root = fileURLToPath(new URL('../..', import.meta.url));
        const pools = flags.get('pools');
        const child = spawn(process.execPath, compiled ? [script] : ['--import', 'tsx', script], {
          cwd: root,
          stdio: 'inherit',
          env: typeof pools === 'string' ? { ...env, WEFT_POOLS: pools } : env,
        });
        for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => child.kill(s));
        return await new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? 0)));
      }
      default:
        err.write(`${command ? `unknown command ${command}\n` : ''}${USAGE}\n`);
        return EXIT.usage;
    }
  } catch (e) {
    if (e instanceof CliError) {
      err.write(`weft: ${e.message}\n`);
      return e.exit;
    }
    throw e;
  }
}

function need(value: string | undefined, what: string): string {
  if (!value) throw new CliError(`give ${what}`, EXIT.usage);
  return value;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await run(process.argv.slice(2), process.env, process.stdout, process.stderr);
}
