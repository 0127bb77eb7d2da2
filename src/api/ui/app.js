// The weft dashboard: no build step, no framework. It polls the cheap listing
// routes (graphs, workers, stats) and follows running graphs, and the graph
// shown in the task stream, through their event WebSockets
// (/v1/graphs/{id}/events), so progress bars and the stream move as tasks end.

const POLL_MS = 1000;
/** Graphs listed (the newest); GET /v1/graphs returns at most this many. */
const LIST_LIMIT = 50;
const SLOW_POLL_MS = 2000;
/** Graphs followed live at once: a socket each, and each replays its events. */
const MAX_FOLLOWED = 8;
/** Bigger graphs' progress comes from the listing alone: replaying millions of events to count them would swamp the page. */
const FOLLOW_MAX_TASKS = 10_000;
/** The task stream of a big graph starts this many events before its latest (about a third as many tasks)... */
const STREAM_EVENTS = 30_000;
/** ...and keeps at most this many bars, dropping the oldest. */
const MAX_BARS = 20_000;
/** Sub-rows a worker's lane may grow to before overlapping bars share the last. */
const MAX_ROWS = 16;
const ROW_PX = 10;
const LANE_GAP_PX = 6;
const LABEL_PX = 150;
const AXIS_PX = 22;

const $ = (id) => document.getElementById(id);
const state = {
  graphs: [],
  // Until the first listing answers, the page cannot tell "no graphs" from "not asked yet".
  graphsLoaded: false,
  graphsError: null,
  followers: new Map(),
  selected: null,
  pinned: false,
  workers: [],
};
// The API token (when the service has tokens) lives for the browser tab only.
let token = sessionStorage.getItem('weft-token') ?? '';

// ---------------------------------------------------------------- formatting

function bytes(n) {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let i = -1;
  do {
    n /= 1024;
    i++;
  } while (n >= 1024 && i < units.length - 1);
  return `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

function duration(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} m ${Math.round((ms % 60_000) / 1000)} s`;
  return `${Math.floor(ms / 3_600_000)} h ${Math.round((ms % 3_600_000) / 60_000)} m`;
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-')) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}

/** A task's group for its colour, as Dask's key_split: "inc-3", "inc_3", "('inc', 3)" are all "inc". */
function keyGroup(key) {
  const m = /^[\s(['"]*([A-Za-z_][\w.-]*?)(?:[-_]?\d+)?(?:[\s,'")\]]|$)/.exec(key);
  return m ? m[1] : key;
}

const palette = [
  '#2f6fdb',
  '#2e9d5b',
  '#d99a1e',
  '#8a5cd6',
  '#1b9aaa',
  '#e0663a',
  '#6b8e23',
  '#c2418c',
  '#4d5fa8',
  '#a0522d',
];
const groupColours = new Map();
function colourOf(group) {
  if (!groupColours.has(group)) groupColours.set(group, palette[groupColours.size % palette.length]);
  return groupColours.get(group);
}

class HttpError extends Error {
  constructor(path, status, body) {
    super(body?.error?.message ?? `${path}: HTTP ${status}`);
    this.status = status;
  }
}

async function getJSON(path) {
  const res = await fetch(path, {
    headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });
  if (!res.ok) throw new HttpError(path, res.status, await res.json().catch(() => null));
  return res.json();
}

/**
 * A service-wide panel (store, workers) needs an operator token: with a
 * tenant's token it says so instead of failing the whole page.
 */
async function operatorPanel(panel, load) {
  try {
    await load();
    $(panel).classList.remove('denied');
  } catch (err) {
    if (err.status !== 403) throw err;
    $(`${panel}-denied`).textContent = 'Needs an operator token.';
    $(panel).classList.add('denied');
  }
}

function connection(ok, message) {
  if (ok) $('token-form').classList.remove('wanted');
  const c = $('conn');
  c.textContent = ok ? `live · ${new Date().toLocaleTimeString()}` : message;
  c.classList.toggle('bad', !ok);
}

// ------------------------------------------------------------ event follower

/** One graph's events over a WebSocket: replayed from sequence number `from`, then live until finish. */
class Follower {
  constructor(id, from = 0) {
    this.id = id;
    this.from = from;
    this.total = null;
    this.status = null;
    this.done = new Set();
    this.starts = new Map(); // key -> pretask event
    this.ends = []; // posttask events, in order
    this.first = null;
    this.last = null;
    this.closed = false;
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    // Browsers cannot set headers on a WebSocket: the token goes as access_token.
    const auth = token ? `&access_token=${encodeURIComponent(token)}` : '';
    this.socket = new WebSocket(
      `${proto}//${location.host}/v1/graphs/${encodeURIComponent(id)}/events?from=${from}${auth}`,
    );
    this.socket.onmessage = (m) => this.add(JSON.parse(m.data));
    this.socket.onclose = () => {
      this.closed = true;
    };
  }

  add(e) {
    this.first ??= e.time;
    this.last = Math.max(this.last ?? e.time, e.time);
    if (e.type === 'postsubmit_all') this.total = e.tasks;
    else if (e.type === 'pretask') this.starts.set(e.key, e);
    else if (e.type === 'posttask') {
      if (e.ok !== false) this.done.add(e.key);
      this.ends.push(e);
      if (this.ends.length > MAX_BARS * 1.25) {
        for (const old of this.ends.splice(0, this.ends.length - MAX_BARS)) this.starts.delete(old.key);
        this.first = this.ends[0].time;
      }
    } else if (e.type === 'finish') this.status = e.status;
    schedule();
  }

  close() {
    if (!this.closed) this.socket.close();
    this.closed = true;
  }
}

function follow(id) {
  let f = state.followers.get(id);
  if (!f) {
    const g = state.graphs.find((x) => x.id === id);
    state.followers.set(
      id,
      (f = new Follower(id, g && g.progress.total > FOLLOW_MAX_TASKS ? Math.max(0, g.events - STREAM_EVENTS) : 0)),
    );
  }
  return f;
}

/** Follows the running graphs shown (small ones, up to MAX_FOLLOWED) and the selected one; drops the rest. */
function updateFollowers() {
  const live = state.graphs.filter(
    (g) => (g.status === 'queued' || g.status === 'running') && g.progress.total <= FOLLOW_MAX_TASKS,
  );
  const wanted = new Set(live.slice(0, MAX_FOLLOWED).map((g) => g.id));
  if (state.selected) wanted.add(state.selected);
  for (const [id, f] of state.followers) {
    // A finished follower keeps its events for as long as its graph is selected.
    if (!wanted.has(id)) {
      f.close();
      state.followers.delete(id);
    }
  }
  for (const id of wanted) follow(id);
}

/** Progress from the listing, or from the events when they are ahead of it (a follower from the first event counts every task). */
function progressOf(g) {
  const f = state.followers.get(g.id);
  const total = f?.total ?? g.progress.total;
  const done = Math.max(g.progress.done, f && f.from === 0 ? f.done.size : 0);
  const status = f?.status ?? g.status;
  return { total, done: Math.min(done, total), status };
}

// -------------------------------------------------------------------- graphs

function selectGraph(id, byUser) {
  state.selected = id;
  if (byUser) state.pinned = true;
  updateFollowers();
  schedule();
}

async function refreshGraphs() {
  let graphs;
  try {
    ({ graphs } = await getJSON(`/v1/graphs?limit=${LIST_LIMIT}`));
  } catch (err) {
    state.graphsError = err.message;
    schedule();
    throw err;
  }
  state.graphs = graphs;
  state.graphsLoaded = true;
  state.graphsError = null;
  // Until someone picks a graph, the stream shows the newest.
  if (!state.pinned && graphs.length > 0 && state.selected !== graphs[0].id) state.selected = graphs[0].id;
  updateFollowers();
  schedule();
}

function renderGraphs() {
  const rows = $('graph-rows');
  const shown = state.graphs.map((g) => ({ g, ...progressOf(g) }));
  $('graph-count').textContent = shown.length ? `(${graphCounts(shown)})` : '';
  const empty = $('graphs-empty');
  empty.hidden = shown.length > 0;
  empty.textContent = state.graphsLoaded
    ? 'No graphs yet: POST one to /v1/graphs.'
    : state.graphsError
      ? `Cannot list the graphs: ${state.graphsError}`
      : 'Loading…';
  const now = Date.now();
  rows.replaceChildren(
    ...shown.map(({ g, total, done, status }) => {
      const pct = total > 0 ? Math.floor((100 * done) / total) : status === 'done' ? 100 : 0;
      const end = g.finished ?? (status === 'queued' || status === 'running' ? now : g.created);
      const bar = el(
        'div',
        { class: `bar ${status}`, 'data-done': String(done), 'data-total': String(total), 'data-pct': String(pct) },
        el('span', { class: 'fill' }),
        el('span', { class: 'pct', textContent: `${pct}%` }),
      );
      bar.firstChild.style.width = `${pct}%`;
      const tasks = `${done}/${total}`;
      const tr = el(
        'tr',
        { class: g.id === state.selected ? 'selected' : '', 'data-id': g.id },
        // The keys are cut to the column's width: the tooltip has them all.
        el(
          'td',
          {
            class: 'graph-cell',
            title: `${g.id}\n${g.keys.join('\n')}${g.error ? `\n\n${g.error.message}` : ''}`,
          },
          el('span', { class: 'gid', textContent: g.id.slice(0, 8) }),
          el('span', { class: 'keys', textContent: g.keys.join(', ') }),
        ),
        el('td', {}, el('span', { class: `status ${status}`, textContent: status })),
        el('td', {}, bar),
        el('td', { class: 'num', textContent: tasks, title: `${tasks} tasks` }),
        el('td', { class: 'num', textContent: duration(end - (g.started ?? g.created)) }),
      );
      tr.onclick = () => selectGraph(g.id, true);
      return tr;
    }),
  );
}

/** The graphs panel's title: "30 · 6 running", with the statuses the rows show. */
function graphCounts(shown) {
  const parts = [`${shown.length}${shown.length === LIST_LIMIT ? ' latest' : ''}`];
  for (const status of ['running', 'queued', 'failed', 'cancelled']) {
    const n = shown.filter((x) => x.status === status).length;
    if (n > 0) parts.push(`${n} ${status}`);
  }
  return parts.join(' · ');
}

// --------------------------------------------------------------- task stream

/**
 * Bars from the events. A posttask entry ends a batch of one worker's tasks
 * at one time, with each op's run time. Tasks whose run times add up to no
 * more than the time since the batch started ran one after another (sync
 * ops): they are laid end to end. Otherwise they overlapped (async ops) and
 * each bar ends at the batch's end. The bars are as exact as the events:
 * run times are measured, start times inferred.
 */
function streamBars(f) {
  const bars = [];
  let i = 0;
  while (i < f.ends.length) {
    let j = i;
    while (j < f.ends.length && f.ends[j].time === f.ends[i].time && f.ends[j].worker === f.ends[i].worker) j++;
    const batch = f.ends.slice(i, j);
    const end = batch[0].time;
    const known = batch.map((e) => f.starts.get(e.key)?.time).filter((t) => t !== undefined);
    const sum = batch.reduce((s, e) => s + (e.duration_ms ?? 0), 0);
    // Starts replayed from before a follower's first event are unknown: assume serial, the common case of short sync ops.
    const serial = known.length === 0 || sum <= end - Math.min(...known) + 1;
    let cursor = end - sum;
    for (const e of batch) {
      const ms = e.duration_ms ?? Math.max(0, end - (f.starts.get(e.key)?.time ?? end));
      const start = serial ? cursor : end - ms;
      cursor += ms;
      const worker = e.worker ?? f.starts.get(e.key)?.worker ?? '?';
      bars.push({ key: e.key, worker, start, end: start + ms, ms, ok: e.ok !== false });
    }
    i = j;
  }
  return bars;
}

/** Lanes per worker, each with as many sub-rows as its overlapping bars need (up to MAX_ROWS). */
function layout(bars) {
  const lanes = new Map();
  for (const b of [...bars].sort((a, b) => a.start - b.start)) {
    let lane = lanes.get(b.worker);
    if (!lane) lanes.set(b.worker, (lane = { worker: b.worker, rowEnds: [] }));
    let row = lane.rowEnds.findIndex((end) => end <= b.start);
    if (row === -1) row = lane.rowEnds.length < MAX_ROWS ? lane.rowEnds.length : MAX_ROWS - 1;
    lane.rowEnds[row] = Math.max(lane.rowEnds[row] ?? 0, b.end);
    b.row = row;
  }
  return [...lanes.values()].sort((a, b) => a.worker.localeCompare(b.worker));
}

let hitBoxes = [];

function renderStream() {
  const canvas = $('stream-canvas');
  const f = state.selected ? state.followers.get(state.selected) : null;
  const g = state.graphs.find((x) => x.id === state.selected);
  if (!f) {
    canvas.dataset.bars = '0';
    canvas.dataset.lanes = '0';
    return;
  }
  const bars = streamBars(f);
  const lanes = layout(bars);
  const t0 = bars.reduce((t, b) => Math.min(t, b.start), f.first ?? Date.now());
  const running = !f.status;
  const t1 = Math.max(running ? Date.now() : (f.last ?? t0), t0 + 1);
  const title = $('stream-title');
  title.textContent = `${f.id.slice(0, 8)}${g ? ` · ${g.keys.join(', ')}` : ''}`;
  title.title = g ? `${g.id}\n${g.keys.join('\n')}` : f.id;
  const failed = bars.filter((b) => !b.ok).length;
  const busy = bars.reduce((s, b) => s + b.ms, 0);
  // The row's status and counts: a follower still replaying a finished graph's events has no status of its own yet.
  const progress = g ? progressOf(g) : { done: f.done.size, total: f.total ?? '?', status: f.status ?? 'running' };
  const recent = f.from > 0 || f.ends.length < f.done.size ? ` · the last ${bars.length} shown` : '';
  $('stream-summary').textContent =
    `${progress.status} · ${progress.done}/${progress.total} tasks on ${lanes.length} worker${lanes.length === 1 ? '' : 's'} · ${duration(t1 - t0)} wall, ${duration(busy)} in ops${failed ? ` · ${failed} failed` : ''}${recent}`;

  const width = canvas.clientWidth || 600;
  const laneHeights = lanes.map((l) => Math.max(1, l.rowEnds.length) * ROW_PX + LANE_GAP_PX);
  const height =
    AXIS_PX +
    Math.max(
      40,
      laneHeights.reduce((s, h) => s + h, 0),
    );
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const plot = width - LABEL_PX - 8;
  const x = (t) => LABEL_PX + ((t - t0) / (t1 - t0)) * plot;

  // Time axis: about six ticks at round steps.
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#6b7385';
  ctx.strokeStyle = '#e3e6ec';
  const span = t1 - t0;
  const step =
    [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 30_000, 60_000, 300_000, 600_000].find(
      (s) => span / s <= 6,
    ) ?? 3_600_000;
  for (let t = 0; t <= span; t += step) {
    const px = x(t0 + t);
    ctx.beginPath();
    ctx.moveTo(px, AXIS_PX - 4);
    ctx.lineTo(px, height);
    ctx.stroke();
    if (px + 44 < width) ctx.fillText(span >= 2000 ? `${t / 1000}s` : `${t}ms`, px + 2, 12);
  }

  hitBoxes = [];
  let y = AXIS_PX;
  lanes.forEach((lane, i) => {
    ctx.fillStyle = '#1d2330';
    ctx.fillText(lane.worker.length > 22 ? `…${lane.worker.slice(-21)}` : lane.worker, 4, y + 10);
    for (const b of bars) {
      if (b.worker !== lane.worker) continue;
      const bx = x(b.start);
      const bw = Math.max(1, x(b.end) - bx);
      const by = y + b.row * ROW_PX;
      ctx.fillStyle = b.ok ? colourOf(keyGroup(b.key)) : '#d0453a';
      ctx.fillRect(bx, by, bw, ROW_PX - 2);
      hitBoxes.push({ x: bx, y: by, w: bw, h: ROW_PX - 2, bar: b });
    }
    y += laneHeights[i];
  });
  canvas.dataset.bars = String(bars.length);
  canvas.dataset.lanes = String(lanes.length);

  const groups = [...new Set(bars.map((b) => keyGroup(b.key)))];
  $('legend').replaceChildren(
    ...groups.map((name) => el('span', {}, Object.assign(el('i'), { style: `background:${colourOf(name)}` }), name)),
  );
}

function showTooltip(ev) {
  const canvas = $('stream-canvas');
  const tip = $('tooltip');
  const r = canvas.getBoundingClientRect();
  const px = ev.clientX - r.left;
  const py = ev.clientY - r.top;
  const hit = hitBoxes.find((h) => px >= h.x && px <= h.x + h.w && py >= h.y && py <= h.y + h.h);
  if (!hit) return void (tip.hidden = true);
  const b = hit.bar;
  tip.textContent = `${b.key}\n${b.ok ? '' : 'failed · '}${duration(b.ms)} on ${b.worker}`;
  tip.style.left = `${Math.min(px + 12, r.width - 200)}px`;
  tip.style.top = `${py + 12}px`;
  tip.hidden = false;
}

// ------------------------------------------------------------ store, workers

async function refreshStats() {
  await operatorPanel('store', showStats);
}

async function showStats() {
  const s = await getJSON('/v1/stats');
  const used = s.memory.used_bytes;
  const budget = s.memory.budget_bytes;
  const gauge = $('mem-gauge');
  gauge.querySelector('.fill').style.width = `${Math.min(100, (100 * used) / budget)}%`;
  gauge.querySelector('.mark').style.left = `${100 * s.memory.threshold}%`;
  gauge.classList.toggle('high', used >= s.memory.spill_above_bytes);
  gauge.dataset.used = String(used);
  $('mem-text').textContent =
    `${bytes(used)} of ${bytes(budget)} (spills above ${Math.round(s.memory.threshold * 100)}%)`;
  const onDisk = s.spill.bytes;
  const spill = $('spill-gauge');
  spill.querySelector('.fill').style.width =
    `${onDisk + used > 0 ? Math.min(100, (100 * onDisk) / (onDisk + used)) : 0}%`;
  $('spill-text').textContent = `${bytes(onDisk)} in ${s.spill.objects} objects`;
  const figures = [
    ['spilled in all', bytes(s.spill.total_bytes)],
    ['restored', bytes(s.spill.restored_bytes)],
    ['spill rate', s.spill.spill_mb_per_s === null ? '–' : `${s.spill.spill_mb_per_s} MB/s`],
    ['restore rate', s.spill.restore_mb_per_s === null ? '–' : `${s.spill.restore_mb_per_s} MB/s`],
    ['cache hits / misses', s.cache ? `${s.cache.hits} / ${s.cache.misses}` : '–'],
    ['recomputed from lineage', s.lineage ? String(s.lineage.recomputed) : '–'],
  ];
  if (s.spill.out_of_disk) figures.push(['out of disk', s.spill.out_of_disk]);
  $('store-figures').replaceChildren(
    ...figures.flatMap(([k, v]) => [el('dt', { textContent: k }), el('dd', { textContent: v })]),
  );
}

async function refreshWorkers() {
  await operatorPanel('workers', showWorkers);
}

async function showWorkers() {
  const { workers } = await getJSON('/v1/workers');
  state.workers = workers;
  const now = Date.now();
  // Three different counts, each named for what it counts: a worker holds up to
  // WEFT_CONCURRENCY jobs per pool it serves (its job slots), and each job is a
  // bundle of tasks of one graph, so tasks running may well exceed job slots.
  const sum = (f) => workers.reduce((s, w) => s + f(w), 0);
  $('worker-count').textContent =
    `(${workers.length} worker${workers.length === 1 ? '' : 's'} · job slots ${sum(slots)} · jobs ${sum((w) => w.jobs)} · tasks running ${sum((w) => w.running)})`;
  $('worker-rows').replaceChildren(
    ...workers.map((w) =>
      el(
        'tr',
        { 'data-id': w.id },
        el('td', { class: 'gid', textContent: w.id, title: `${w.id} on ${w.host}` }),
        el('td', { textContent: String(w.pid) }),
        el('td', {
          class: 'num',
          textContent: String(slots(w)),
          title: `${w.concurrency} per pool × ${w.pools.length} pool${w.pools.length === 1 ? '' : 's'}`,
        }),
        el('td', { class: 'num', textContent: String(w.jobs) }),
        el('td', { class: 'num', textContent: String(w.running) }),
        el('td', { class: 'num', textContent: String(w.tasks_done) }),
        el('td', { class: 'num', textContent: String(w.tasks_failed) }),
        el('td', { class: 'num', textContent: duration(now - w.started) }),
        el('td', { class: 'num', textContent: `${duration(Math.max(0, now - w.heartbeat))} ago` }),
        el('td', { class: 'pools', textContent: poolsText(w), title: poolsText(w) }),
      ),
    ),
  );
}

/** Jobs a worker can hold at once: its concurrency applies to each pool it serves (one BullMQ worker per pool). */
function slots(w) {
  return w.concurrency * w.pools.length;
}

/** The pools a worker serves, each with its executors: "default, python (2 python executors)". */
function poolsText(w) {
  const executors = new Map((w.executors ?? []).map((e) => [e.pool, e]));
  return w.pools
    .map((pool) => {
      const e = executors.get(pool);
      return e ? `${pool} (${e.processes} ${e.lang} executor${e.processes === 1 ? '' : 's'})` : pool;
    })
    .join(', ');
}

// ------------------------------------------------------------------ the loop

let scheduled = false;
/** Renders at most once per frame however many events arrive. */
function schedule() {
  if (scheduled) return;
  scheduled = true;
  requestAnimationFrame(() => {
    scheduled = false;
    renderGraphs();
    renderStream();
  });
}

function every(ms, fn) {
  const run = async () => {
    try {
      await fn();
      connection(true);
    } catch (err) {
      const unauthorized = err.status === 401;
      $('token-form').classList.toggle('wanted', unauthorized);
      connection(
        false,
        unauthorized
          ? `${token ? 'the token is not valid' : 'this service needs an API token'}: enter one`
          : `cannot reach the API: ${err.message}`,
      );
    }
    setTimeout(run, ms);
  };
  void run(); // it catches what fn throws
}

$('token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  token = $('token').value.trim();
  sessionStorage.setItem('weft-token', token);
  $('token').value = '';
  $('token').placeholder = token ? 'token set' : 'API token';
  // What the old token showed may not be the new one's to see.
  for (const f of state.followers.values()) f.close();
  state.followers.clear();
  state.graphs = [];
  state.graphsLoaded = false;
  state.graphsError = null;
  state.selected = null;
  state.pinned = false;
  schedule();
  Promise.all([refreshGraphs(), refreshStats(), refreshWorkers()]).then(
    () => connection(true),
    () => {},
  );
});
if (token) $('token').placeholder = 'token set';
$('stream-canvas').addEventListener('mousemove', showTooltip);
$('stream-canvas').addEventListener('mouseleave', () => ($('tooltip').hidden = true));
window.addEventListener('resize', schedule);
every(POLL_MS, refreshGraphs);
every(SLOW_POLL_MS, refreshStats);
every(SLOW_POLL_MS, refreshWorkers);
// A running graph's stream keeps moving (its time axis ends now) between events.
setInterval(() => {
  const f = state.selected && state.followers.get(state.selected);
  if (f && !f.status) schedule();
}, 500);
