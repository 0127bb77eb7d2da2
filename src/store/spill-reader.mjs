// A thread that reads spilled values back from disk (see readOnThread in
// spill.ts). A worker's event loop is busy running ops; reads done there wait
// for it to get to their callbacks. Here the loop does nothing else, so a read
// completes as soon as the disk has it. Values come back as transferred
// ArrayBuffers (no copy), allocated without zero-filling (every byte is read
// into).
//
// Several reads are in flight at once (READS_IN_FLIGHT, on libuv's thread
// pool): one 2 MiB read at a scattered offset gets about half of what the disk
// gives a sequential stream; four at once get all of it (measured in
// docs/benchmarks.md).
//
// Each completion reports the part of the thread's busy period (the time
// during which at least one read was under way) since the previous report,
// as epoch milliseconds: the periods are what restore throughput is computed
// over (src/store/busy-time.ts), not the sum of overlapping reads.
//
// Plain JavaScript: a worker thread does not get the tsx loader of its process.
//
// Messages in: {id, path, offset, length} or {close: path}. Out: {buffer, parts: [{id, at, length}], from, to}
// (one read may serve several requests) or {id, error}.
import { Buffer } from 'node:buffer';
import { open } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';

const READS_IN_FLIGHT = 4;
/** Most bytes one coalesced read takes. */
const RUN_BYTES = 16 * 1024 * 1024;
const HANDLES = 16;
/** Handles are closed when no read has been under way for this long (IDLE_HANDLE_MS in spill.ts says why). */
const IDLE_MS = 1_000;
let idleTimer;

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

/** Where the last read ended: the next one continues from there if it can. */
let head = { path: '', offset: 0 };

/**
 * Takes the next request in file order, as an elevator does: the nearest one
 * at or after where the last read ended in the same file, else the first of
 * the lowest file. Requests come in bursts (a worker asks for the inputs of
 * every task it starts at once), and reading them in order lets the disk's
 * readahead work and neighbours join one read. Then takes the requests that
 * continue it (values spilled together lie side by side): one read serves
 * them all, as a sequential read does.
 */
function takeRun() {
  let at = -1;
  for (let i = 0; i < waiting.length; i++) {
    const r = waiting[i];
    if (at < 0 || before(r, waiting[at])) at = i;
  }
  const run = waiting.splice(at, 1);
  let end = run[0].offset + run[0].length;
  let bytes = run[0].length;
  for (let found = true; found && bytes < RUN_BYTES; ) {
    found = false;
    // The next value starts at the next multiple of 8 (spill.ts pads values to it).
    const next = end + ((8 - (end % 8)) % 8);
    const i = waiting.findIndex((r) => r.path === run[0].path && r.offset === next);
    if (i >= 0) {
      const [r] = waiting.splice(i, 1);
      run.push(r);
      end = r.offset + r.length;
      bytes += r.length;
      found = true;
    }
  }
  head = { path: run[0].path, offset: end };
  return run;
}

/** Is request a to be read before b? Ahead of the head in its file first, then by file and offset. */
function before(a, b) {
  const aAhead = a.path === head.path && a.offset >= head.offset;
  const bAhead = b.path === head.path && b.offset >= head.offset;
  if (aAhead !== bAhead) return aAhead;
  if (a.path !== b.path) return a.path < b.path;
  return a.offset < b.offset;
}

async function read(run) {
  const offset = run[0].offset;
  const last = run[run.length - 1];
  const length = last.offset + last.length - offset;
  const into = Buffer.allocUnsafeSlow(length);
  const { bytesRead } = await (await handle(run[0].path)).read(into, 0, length, offset);
  if (bytesRead !== length)
    throw new Error(
      `Spill file ${run[0].path} is shorter than expected (${bytesRead} of ${length} bytes at ${offset}).`,
    );
  return into.buffer;
}

function closeHandles() {
  for (const fh of handles.values()) fh.then((h) => h.close()).catch(() => {});
  handles.clear();
}

function next() {
  clearTimeout(idleTimer);
  if (inFlight === 0 && waiting.length === 0) idleTimer = setTimeout(closeHandles, IDLE_MS);
  while (inFlight < READS_IN_FLIGHT && waiting.length > 0) {
    const run = takeRun();
    if (inFlight++ === 0) busyFrom = performance.now();
    read(run).then(
      (buffer) => {
        const now = performance.now();
        const from = performance.timeOrigin + busyFrom;
        busyFrom = now;
        inFlight--;
        // One transfer; each value is a view of its part of the buffer.
        const parts = run.map((r) => ({ id: r.id, at: r.offset - run[0].offset, length: r.length }));
        parentPort.postMessage({ buffer, parts, from, to: performance.timeOrigin + now }, [buffer]);
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
