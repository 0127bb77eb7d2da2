/**
 * The progress bar of `weft submit --wait` on a terminal, drawn as the Python
 * client draws its own (clients/python/weft/progress.py):
 *
 *   weft [########--------------------------------] 4228/20201 tasks  20% 3.4s
 *
 * The total is the graph's task count as the service has it right after the
 * submission (GET /v1/graphs/{id}). The postsubmit_all event carries it too,
 * but is written once the whole graph is registered: after thousands of task
 * events when workers start on a big graph's first chunks. The tasks done are
 * counted by key (a retried task, or a replayed event, is one task), so the
 * count never passes the total.
 */
import cliProgress from 'cli-progress';
import type { Client } from '../client/client.ts';

/** The bar's width, between these, in what the terminal's line leaves beside the text. */
const BAR_MIN = 10;
const BAR_MAX = 40;

/** The line for `done` of `total` tasks, `failed` of them failed, `elapsedMs` after submitting, on a terminal `columns` wide. */
export function progressLine(done: number, total: number, failed: number, elapsedMs: number, columns: number): string {
  // A graph whose tasks were all known (cache, presubmit) has 0 tasks: complete.
  const fraction = total === 0 ? 1 : Math.min(1, done / total);
  // Rounded down, so 100% means every task done.
  const pct = String(Math.floor(fraction * 100)).padStart(3);
  const text = ` ${done}/${total} tasks ${pct}%${failed ? `, ${failed} failed` : ''} ${(elapsedMs / 1000).toFixed(1)}s`;
  const width = Math.max(BAR_MIN, Math.min(BAR_MAX, columns - text.length - 8));
  const filled = Math.floor(width * fraction);
  return `weft [${'#'.repeat(filled)}${'-'.repeat(width - filled)}]${text}`;
}

/**
 * Draws the bar of graph `id` on `out` (a terminal only) until the graph
 * ends, from its events; the elapsed time counts from `submitted` (ms since
 * the epoch), and moves while no task ends.
 */
export async function showProgress(client: Client, id: string, out: NodeJS.WriteStream, submitted: number) {
  if (!out.isTTY) return;
  const { progress } = await client.status(id);
  const total = progress.total;
  const done = new Set<string>();
  const failed = new Set<string>();
  const bar = new cliProgress.SingleBar({
    stream: out,
    format: (_options, params) =>
      progressLine(params.value, total, failed.size, (params.stopTime ?? Date.now()) - submitted, params.maxWidth),
  });
  bar.start(total, 0);
  try {
    for await (const e of client.events(id)) {
      if (e.type !== 'posttask' || e.key === undefined) continue;
      if (e.ok !== false) done.add(e.key);
      // A failure the task is retried after is not the task's end.
      else if (e.retry !== true) failed.add(e.key);
      bar.update(Math.min(done.size, total));
    }
  } finally {
    bar.stop();
  }
}
