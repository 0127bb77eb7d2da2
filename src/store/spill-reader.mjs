// A thread that reads spilled values back from disk (see readOnThread in
// spill.ts). A worker's event loop is busy running ops; reads done there wait
// for it to get to their callbacks. Here the loop does nothing else, so a read
// completes as soon as the disk has it. Values come back as transferred
// ArrayBuffers (no copy).
//
// Several reads are in flight at once (READS_IN_FLIGHT, on libuv's thread
// pool): one 2 MiB read at a scattered offset gets about half of what the disk
// gives a sequential stream; four at once get all of it (measured in
// docs/benchmarks.md).
//
// The time reported is the restore's own: the time during which at least one
// read was under way, split over the reads as they complete, so the sum of the
// reported times is wall time spent restoring, not the sum of overlapping reads.
//
// Plain JavaScript: a worker thread does not get the tsx loader of its process.
//
// Messages in: {id, path, offset, length} or {close: path}. Out: {buffer, parts: [{id, at, length}], ms}
// (one read may serve several requests) or {id, error}. `ms` is shared by the parts.
import { open } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';

const READS_IN_FLIGHT = 4;
/** Most bytes one coalesced read takes. */
const RUN_BYTES = 16 * 1024 * 1024;
const HANDLES = 16;

const handles = new Map();
const waiting = [];
let inFlight = 0;
/** Start of the current busy period's unreported part. */
let busyFrom = 0;

function handle(path) {
  let fh = handles.get(path);
  if (fh === undefined) {
    fh = open(path, 'r');
    fh.catch(() => handles.delete(path));
    handles.set(path, fh);
    if (handles.size > HANDLES) {
      const [oldest, old] = handles.entries().next().value;
      handles.delete(oldest);
      old.then((h) => h.close()).catch(() => {});
    }
  }
  return fh;
}

/**
 * Takes the first waiting request and any others that continue it in the
 * same file (values spilled together lie side by side, and are often read
 * together): one read serves them all, as a sequential read does.
 */
function takeRun() {
  const run = [waiting.shift()];
  let end = run[0].offset + run[0].length;
  let bytes = run[0].length;
  for (let found = true; found && bytes < RUN_BYTES; ) {
    found = false;
    const at = waiting.findIndex((r) => r.path === run[0].path && r.offset === end);
    if (at >= 0) {
      const [r] = waiting.splice(at, 1);
      run.push(r);
      end += r.length;
      bytes += r.length;
      found = true;
    }
  }
  return run;
}

async function read(run) {
  const offset = run[0].offset;
  const length = run.reduce((n, r) => n + r.length, 0);
  const buffer = new ArrayBuffer(length);
  const { bytesRead } = await (await handle(run[0].path)).read(new Uint8Array(buffer), 0, length, offset);
  if (bytesRead !== length) throw new Error(`Spill file ${run[0].path} is shorter than expected (${bytesRead} of ${length} bytes at ${offset}).`);
  return buffer;
}

function next() {
  while (inFlight < READS_IN_FLIGHT && waiting.length > 0) {
    const run = takeRun();
    if (inFlight++ === 0) busyFrom = performance.now();
    read(run).then(
      (buffer) => {
        const now = performance.now();
        const ms = now - busyFrom;
        busyFrom = now;
        inFlight--;
        // One transfer; each value is a view of its part of the buffer.
        const parts = run.map((r) => ({ id: r.id, at: r.offset - run[0].offset, length: r.length }));
        parentPort.postMessage({ buffer, parts, ms }, [buffer]);
        next();
      },
      (err) => {
        inFlight--;
        for (const r of run) parentPort.postMessage({ id: r.id, error: err.message });
        next();
      },
    );
  }
}

parentPort.on('message', (req) => {
  if (req.close !== undefined) {
    const fh = handles.get(req.close);
    handles.delete(req.close);
    fh?.then((h) => h.close()).catch(() => {});
    return;
  }
  waiting.push(req);
  next();
});
