/**
 * The Python executor that weft ships (clients/python/weft/executor.py), and
 * how a worker finds an interpreter for it: `python3` on PATH is often not
 * the one with numpy, pandas and cloudpickle (Debian installs its packages for
 * /usr/bin/python3), so each candidate is asked to import what the executor needs.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Where the `weft` Python package lives in this checkout. */
export const PYTHON_CLIENT_DIR = fileURLToPath(new URL('../../../clients/python', import.meta.url));

/** What the Python executor cannot run without. */
const REQUIRED_MODULES = ['cloudpickle', 'msgpack'];

export const PYTHON_INSTALL_HELP =
  'install them with `apt-get install python3-cloudpickle python3-msgpack python3-numpy python3-pandas` (Debian), or point WEFT_PYTHON at an interpreter that has them';

export interface PythonFound {
  /** The interpreter, or null when none has the modules. */
  python: string | null;
  /** Why each candidate was passed over, for the message when none fits. */
  tried: string[];
}

/** The first of $WEFT_PYTHON, /usr/bin/python3 and python3 that imports cloudpickle and msgpack. */
export function findPython(env: NodeJS.ProcessEnv = process.env): PythonFound {
  const candidates = [...new Set([env.WEFT_PYTHON, '/usr/bin/python3', 'python3'].filter((c): c is string => !!c))];
  const tried: string[] = [];
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', `import ${REQUIRED_MODULES.join(', ')}`], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    if (probe.status === 0) return { python, tried };
    const why = probe.error ? probe.error.message : (probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`);
    tried.push(`${python}: ${why}`);
  }
  return { python: null, tried };
}

/**
 * The hash seed of the default Python executors, as Dask's multiprocessing
 * scheduler sets it for its workers (dask/dask#6640): with a random seed per
 * process, `hash(str)` differs between executors, and hash partitioning (a
 * dask.bag groupby) splits a group across them.
 */
export const PYTHON_HASH_SEED = '6640';

/**
 * What the default Python executor's environment adds to the clean base: the
 * checkout's `weft` package on PYTHONPATH and a fixed PYTHONHASHSEED, unless
 * the operator passes their own on (WEFT_EXECUTOR_ENV=PYTHONHASHSEED, set).
 */
export function pythonExecutorEnv(passOn: string[], env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const extra: Record<string, string> = { PYTHONPATH: PYTHON_CLIENT_DIR };
  if (!(passOn.includes('PYTHONHASHSEED') && env.PYTHONHASHSEED !== undefined)) extra.PYTHONHASHSEED = PYTHON_HASH_SEED;
  return extra;
}

/** The command of the Python executor for an interpreter. */
export function pythonExecutorCommand(python: string): string[] {
  return [python, '-m', 'weft.executor'];
}

/**
 * An executor's environment: a clean base (never REDIS_URL or API tokens: an
 * executor runs the submitters' code), the variables the operator passes on
 * by name (WEFT_EXECUTOR_ENV), and `extra`.
 */
export function executorEnvironment(
  passOn: string[],
  extra: Record<string, string> = {},
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TMPDIR', ...passOn]) {
    const value = env[name];
    if (value !== undefined) out[name] = value;
  }
  return { ...out, ...extra };
}
