// A thread that reads spilled values back from disk (see readOnThread in
// spill.ts). A worker's event loop is busy running ops; reads done there wait
// for it to get to their callbacks. Here the loop does nothing else, so a read
// takes as long as the disk takes, and the time it reports is the restore's
// own. Values come back as transferred ArrayBuffers (no copy).
//
// Plain JavaScript: a worker thread does not get the tsx loader of its process.
//
// Messages in: {id, path, offset, length} or {close: path}. Out: {id, buffer, ms} or {id, error}.
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

const handles = new Map();

function handle(path) {
  let fd = handles.get(path);
  if (fd === undefined) {
    fd = openSync(path, 'r');
    handles.set(path, fd);
    if (handles.size > 16) {
      const [oldest, old] = handles.entries().next().value;
      handles.delete(oldest);
      closeSync(old);
    }
  }
  return fd;
}

parentPort.on('message', (req) => {
  if (req.close !== undefined) {
    const fd = handles.get(req.close);
    if (fd !== undefined) closeSync(fd);
    handles.delete(req.close);
    return;
  }
  const t0 = performance.now();
  try {
    const buffer = new ArrayBuffer(req.length);
    const n = readSync(handle(req.path), new Uint8Array(buffer), 0, req.length, req.offset);
    if (n !== req.length) throw new Error(`Spill file ${req.path} is shorter than expected (${n} of ${req.length} bytes at ${req.offset}).`);
    parentPort.postMessage({ id: req.id, buffer, ms: performance.now() - t0 }, [buffer]);
  } catch (err) {
    parentPort.postMessage({ id: req.id, error: err.message });
  }
});
