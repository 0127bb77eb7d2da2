/**
 * Reads what includes/startTask.lua appends to a reply, for the wrappers of
 * the scripts that start tasks (startTasks, completeTasks) or read one
 * (readTask). Per task of a bundle:
 *
 *   index, code, spec, n, input 1 .. input n
 *
 * code 0: started, its spec and its n inputs follow (null where the object
 * is missing; src/store/stored-bytes.ts says what else an input may be);
 * code 1: already done (a repeated delivery), nothing follows (n = 0);
 * code 2: deferred (the reply was full): the caller enqueues it again.
 */
import { decodeSpec } from '../../spec.ts';
import type { StartedTask } from '../../started.ts';
import type { ReplyReader } from '../reply.ts';

const STARTED = 0;
const ALREADY_DONE = 1;

/** The tasks of a bundle, by what the start script did with each. */
export interface StartedEntries {
  /** Tasks to run now. */
  run: StartedTask[];
  /** Tasks of the bundle that another delivery already finished. */
  alreadyDone: number[];
  /** Tasks not started because the reply already held its budget of input bytes: enqueue them again. */
  deferred: number[];
}

/** Reads task entries until the end of the reply. */
export function readStartedEntries(r: ReplyReader): StartedEntries {
  const out: StartedEntries = { run: [], alreadyDone: [], deferred: [] };
  while (!r.done) {
    const index = r.number();
    const code = r.number();
    const spec = r.bytes();
    const inputs = readInputs(r);
    if (code === STARTED) out.run.push(startedTask(index, spec!, inputs));
    else if (code === ALREADY_DONE) out.alreadyDone.push(index);
    else out.deferred.push(index);
  }
  return out;
}

/** A count of inputs, then the inputs (appendInputs in startTask.lua). */
export function readInputs(r: ReplyReader): (Buffer | null)[] {
  return r.list(() => r.bytes());
}

/** A task to run from its stored spec and its inputs. */
export function startedTask(index: number, spec: Buffer, inputs: (Buffer | null)[]): StartedTask {
  const { key, deps, template, returns, retries, timeoutMs, lang, templateBytes } = decodeSpec(spec);
  return { index, key, deps, template, returns, retries, timeoutMs, ...(lang ? { lang, templateBytes } : {}), inputs };
}
