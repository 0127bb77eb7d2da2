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
// Messages in: {id, path, offset, length} or {close: path}. Out: {id, buffer, ms} or {id, error}.
import { open } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';

const READS_IN_FLIGHT = 4;
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

async function read(req) {
  const buffer = new ArrayBuffer(req.length);
  const { bytesRead } = await (await handle(req.path)).read(new Uint8Array(buffer), 0, req.length, req.offset);
  if (bytesRead !== req.length) throw new Error(`Spill file ${req.path} is shorter than expected (${bytesRead} of ${req.length} bytes at ${req.offset}).`);
  return buffer;
}

function next() {
  while (inFlight < READS_IN_FLIGHT && waiting.length > 0) {
    const req = waiting.shift();
    if (inFlight++ === 0) busyFrom = performance.now();
    read(req).then(
      (buffer) => {
        const now = performance.now();
        const ms = now - busyFrom;
        busyFrom = now;
        inFlight--;
        parentPort.postMessage({ id: req.id, buffer, ms }, [buffer]);
        next();
      },
      (err) => {
        inFlight--;
        parentPort.postMessage({ id: req.id, error: err.message });
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
