/**
 * A graph still in the JSON text it was sent as. A big graph sent as JSON is
 * nearly all of its request body; JSON.parse of the body would make one
 * object of a million keys and millions of objects under it, all alive at
 * once, only for parseGraph to turn them into nodes and drop them. So the
 * body of a graph request is split instead:
 *
 *   splitGraphBody('{"graph": {"x": 1, "y": {"$op": "inc", "args": [{"$ref": "x"}]}}, "keys": "y"}')
 *   // { graph: GraphText (2 keys, as spans of the text), keys: 'y' }
 *
 * The scan notes where each key and value of `graph` lies in the text and
 * JSON.parse reads the rest of the body; parseGraphText later reads the
 * values one at a time, each straight into its node, so every sent value is
 * garbage as soon as its node is made (measured on the million-task graph:
 * the scan takes about a tenth of the time of JSON.parse of the body).
 *
 * The scan accepts only valid JSON around the values: keys as strings, ':',
 * ',', braces and JSON's four whitespace characters. Each value is checked by
 * JSON.parse when it is read. On anything else (the body is not an object,
 * its `graph` is not an object, a top-level key has an escape) the split gives
 * up and the caller parses the body whole; and a value JSON.parse refuses
 * makes parseGraphText throw JSON.parse's error about the whole body, so a
 * client sees the same error either way.
 */
import { GraphBuilder } from './parse.ts';
import { readNodeText, SharedStrings } from './node-text.ts';
import type { Graph } from './graph.ts';
import { defaultLimits, type GraphLimits } from './types.ts';

/** The members of a request's `graph`, as spans of the request's text. */
export class GraphText {
  constructor(
    readonly text: string,
    /**
     * Four numbers per key: where the key's text starts and ends (inside its
     * quotes), where its value starts and ends. A key holding an escape has
     * its start stored as -1 - (the index of its opening quote): it is
     * read with JSON.parse.
     */
    readonly spans: Int32Array,
    /** Keys in the graph's text (a key written twice counts twice). */
    readonly count: number,
  ) {}
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
/** The first spans array's length: grown by doubling. */
const FIRST_SPANS = 4 * 1024;

/**
 * A graph request's body with its `graph` left as GraphText, or null when the
 * body is not one this split reads (the caller then parses it whole).
 */
export function splitGraphBody(text: string): Record<string, unknown> | null {
  const open = skipSpace(text, 0);
  if (text.charCodeAt(open) !== OPEN_BRACE) return null;
  // The last `graph` member wins, as with JSON.parse: its members and its value's span.
  const found = { graph: null as GraphText | null, start: -1, end: -1 };
  const end = scanObject(text, open, (keyQuote, keyEnd, valueStart) => {
    if (hasEscapeOrControl(text, keyQuote + 1, keyEnd - 1)) return -1;
    if (keyEnd - keyQuote !== 7 || !text.startsWith('"graph"', keyQuote)) return valueEnd(text, valueStart);
    if (text.charCodeAt(valueStart) !== OPEN_BRACE) return -1;
    const members = scanMembers(text, valueStart);
    if (members === null) return -1;
    found.graph = members.graph;
    found.start = valueStart;
    found.end = members.end;
    return members.end;
  });
  if (end < 0 || skipSpace(text, end) !== text.length || found.graph === null) return null;
  let body: unknown;
  try {
    body = JSON.parse(`${text.slice(0, found.start)}null${text.slice(found.end)}`);
  } catch {
    return null;
  }
  (body as Record<string, unknown>).graph = found.graph;
  return body as Record<string, unknown>;
}

/** The graph of `graph`'s text, its values parsed one key at a time (see the top of this file). */
export function parseGraphText(graph: GraphText, limits: GraphLimits = defaultLimits): Graph {
  const { text, spans, count } = graph;
  const builder = new GraphBuilder(limits, count);
  const strings = new SharedStrings(builder.keyList());
  for (let m = 0; m < count; m++) {
    const at = 4 * m;
    const keyStart = spans[at];
    let key: string;
    let value: unknown;
    try {
      key =
        keyStart >= 0
          ? text.slice(keyStart, spans[at + 1])
          : (JSON.parse(text.slice(-1 - keyStart, spans[at + 1] + 1)) as string);
      // The common shapes straight to their node; any other value through JSON.parse and NodeParser.
      const node = readNodeText(text, spans[at + 2], spans[at + 3], strings, limits.maxDepth);
      if (node !== undefined) {
        builder.addNode(key, node);
        continue;
      }
      value = JSON.parse(text.slice(spans[at + 2], spans[at + 3]));
    } catch (err) {
      // The body's own error, with its position in the body.
      if (err instanceof SyntaxError) JSON.parse(text);
      throw err;
    }
    builder.add(key, value);
  }
  return builder.graph();
}

/**
 * Scans the object that opens at `open` as a graph: the spans of its keys
 * and values, and the index just past its closing brace. Null when it is not
 * an object as scanObject reads them.
 */
function scanMembers(text: string, open: number): { graph: GraphText; end: number } | null {
  let spans = new Int32Array(FIRST_SPANS);
  let count = 0;
  const end = scanObject(text, open, (keyQuote, keyEnd, valueStart) => {
    const valueLast = valueEnd(text, valueStart);
    if (valueLast < 0) return -1;
    if (4 * count + 4 > spans.length) {
      const grown = new Int32Array(spans.length * 2);
      grown.set(spans);
      spans = grown;
    }
    const at = 4 * count++;
    spans[at] = hasEscapeOrControl(text, keyQuote + 1, keyEnd - 1) ? -1 - keyQuote : keyQuote + 1;
    spans[at + 1] = keyEnd - 1;
    spans[at + 2] = valueStart;
    spans[at + 3] = valueLast;
    return valueLast;
  });
  return end < 0 ? null : { graph: new GraphText(text, spans, count), end };
}

/**
 * Walks the members of the object that opens at `open`: keys as strings,
 * ':', ',' and JSON whitespace between them. For each member, `member` gets
 * where its key's quotes are and where its value starts, and returns where
 * the value ends (-1: give up). Returns the index just past the closing
 * brace, or -1 when the text is not such an object.
 */
function scanObject(
  text: string,
  open: number,
  member: (keyQuote: number, keyEnd: number, valueStart: number) => number,
): number {
  let i = skipSpace(text, open + 1);
  if (text.charCodeAt(i) === CLOSE_BRACE) return i + 1;
  for (;;) {
    if (text.charCodeAt(i) !== QUOTE) return -1;
    const keyQuote = i;
    const keyEnd = stringEnd(text, i);
    if (keyEnd < 0) return -1;
    i = skipSpace(text, keyEnd);
    if (text.charCodeAt(i) !== COLON) return -1;
    const end = member(keyQuote, keyEnd, skipSpace(text, i + 1));
    if (end < 0) return -1;
    i = skipSpace(text, end);
    const c = text.charCodeAt(i);
    if (c === CLOSE_BRACE) return i + 1;
    if (c !== COMMA) return -1;
    i = skipSpace(text, i + 1);
  }
}

/**
 * The index just past the JSON value that starts at `i`, or -1 when the text
 * ends first. Brackets are counted, not matched: a value that is not JSON is
 * refused by JSON.parse when it is read.
 */
function valueEnd(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return stringEnd(text, i);
  if (c !== OPEN_BRACE && c !== OPEN_BRACKET) {
    // A number, true, false or null: up to what may follow a value.
    while (i < text.length) {
      const d = text.charCodeAt(i);
      if (d === COMMA || d === CLOSE_BRACE || d === CLOSE_BRACKET || isSpace(d)) return i;
      i++;
    }
    return -1;
  }
  let depth = 0;
  while (i < text.length) {
    const d = text.charCodeAt(i);
    if (d === QUOTE) {
      i = stringEnd(text, i);
      if (i < 0) return -1;
      continue;
    }
    if (d === OPEN_BRACE || d === OPEN_BRACKET) depth++;
    else if ((d === CLOSE_BRACE || d === CLOSE_BRACKET) && --depth === 0) return i + 1;
    i++;
  }
  return -1;
}

/**
 * The index just past the JSON string that opens at `start` (its closing
 * quote is the first not escaped by a backslash), or -1 when it does not end.
 */
export function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) return -1;
    let slashes = 0;
    while (text.charCodeAt(quote - 1 - slashes) === BACKSLASH) slashes++;
    if (slashes % 2 === 0) return quote + 1;
    from = quote + 1;
  }
}

/** Whether text[from, to) holds a backslash (an escape) or a control character (which JSON.parse refuses). */
function hasEscapeOrControl(text: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH || c < 0x20) return true;
  }
  return false;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}
