/**
 * A strict reader of the Prometheus text format (version 0.0.4), for tests:
 * every line must be a HELP, a TYPE or a sample, or it throws.
 */
export interface Scrape {
  types: Map<string, string>;
  /** `name{a="1",b="2"}` (labels sorted) -> value. */
  samples: Map<string, number>;
  /** The value of one series; labels in any order. Throws when absent, so a renamed metric fails loudly. */
  value(name: string, labels?: Record<string, string | number>): number;
}

// Values as Go's ParseFloat reads them (Prometheus accepts NaN and Inf in any case; prom-client writes "Nan").
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+-]+|nan|[+-]inf)$/i;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function seriesId(name: string, labels: Record<string, string | number> = {}): string {
  const parts = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort();
  return parts.length ? `${name}{${parts.join(',')}}` : name;
}

export function parsePrometheus(text: string): Scrape {
  const types = new Map<string, string>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1], type[2]);
      continue;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a Prometheus line: ${JSON.stringify(line)}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(LABEL)) labels[k] = v;
    const id = seriesId(m[1], labels);
    if (samples.has(id)) throw new Error(`series ${id} appears twice`);
    const raw = m[3].toLowerCase();
    samples.set(id, raw === '+inf' ? Infinity : raw === '-inf' ? -Infinity : raw === 'nan' ? NaN : Number(raw));
  }
  return {
    types,
    samples,
    value(name, labels = {}) {
      const id = seriesId(name, labels);
      const v = samples.get(id);
      if (v === undefined) throw new Error(`no series ${id}`);
      return v;
    },
  };
}
