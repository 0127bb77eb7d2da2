/**
 * A node read straight from its JSON text, for the shapes big graphs are
 * made of: tasks of an op and its args, references, and literals of numbers,
 * plain strings, booleans, null and arrays of them.
 *
 *   readNodeText('{"$op": "inc", "args": [{"$ref": "x"}, 1]}', 0, 41, new SharedStrings(), 64)
 *   // { kind: 'task', op: 'inc', args: [ref x, lit 1], kwargs: null }
 *
 * parseGraphText (graph-text.ts) tries it on each value before JSON.parse
 * and NodeParser (parse.ts): those make the sent value as objects first,
 * garbage as soon as its node is made, and walk it again to make the node;
 * for the million-task graph the two took about 2 s of the API's time.
 *
 * It accepts a strict subset of what the general path accepts, and returns
 * the node that path would make of it; for anything else (another field, an
 * escape in a string, a number that is not a short integer, invalid JSON,
 * nesting past MAX_DEPTH) it returns undefined and the caller takes the
 * general path, which gives the value's node or its error as before. A
 * property test (test/graph/node-text.test.ts) holds the two to the same
 * nodes.
 */
import type { Json, Node } from './types.ts';

/**
 * Nesting the fast path reads (arrays and tasks around a value, counted as
 * NodeParser counts them); deeper values take the general path, which
 * refuses what is past the graph's limit.
 */
const MAX_DEPTH = 8;
/** Digits of the integers read here: up to 15 are exact in a double; longer ones take the general path. */
const MAX_DIGITS = 15;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const DOLLAR = 0x24;

/**
 * Strings a graph's nodes share with what is held already, rather than
 * copies sliced from the text: a million tasks of one op share its name, and
 * a reference to a key sent before it holds that key's string, which also
 * makes the dependency index's comparison of the two a comparison of
 * pointers (deps.ts). A reference is tried against the key after the one
 * the last reference named, since references mostly follow the order keys
 * are sent in (a reduction of x-0, x-1, ...); a miss costs one comparison.
 */
export class SharedStrings {
  private last = '';
  private readonly names = new Map<string, string>();
  private lastKey = -1;

  /** `keys`: the graph's keys so far, in the order sent (the list grows as the graph is read). */
  constructor(private readonly keys: readonly string[] = []) {}

  /** The key named by the reference text[from, to), as the string of a key sent before it when the guess finds one. */
  refKey(text: string, from: number, to: number): string {
    const next = this.lastKey + 1;
    if (next < this.keys.length && sameText(this.keys[next], text, from, to)) {
      this.lastKey = next;
      return this.keys[next];
    }
    return text.slice(from, to);
  }

  /** The op name text[from, to), as a string already held when there is one. */
  op(text: string, from: number, to: number): string {
    if (sameText(this.last, text, from, to)) return this.last;
    const sliced = text.slice(from, to);
    let name = this.names.get(sliced);
    if (name === undefined) {
      name = sliced;
      // Bounded: a graph of many distinct op names keeps the first ones only.
      if (this.names.size < 1024) this.names.set(name, name);
    }
    this.last = name;
    return name;
  }
}

function sameText(s: string, text: string, from: number, to: number): boolean {
  if (s.length !== to - from) return false;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) !== text.charCodeAt(from + i)) return false;
  return true;
}

/**
 * The node of the JSON value text[start, end), or undefined when the value
 * is not one of the shapes read here (see the top of this file).
 */
export function readNodeText(
  text: string,
  start: number,
  end: number,
  strings: SharedStrings,
  maxDepth: number,
): Node | undefined {
  reader.text = text;
  reader.maxDepth = Math.min(MAX_DEPTH, maxDepth);
  reader.at = start;
  reader.end = end;
  reader.strings = strings;
  reader.reset();
  const node = reader.node(0);
  if (node !== undefined) reader.skipSpace();
  const whole = node !== undefined && reader.at === end;
  // The reader outlives the read: it must not keep a request's text, or its graph's keys, alive.
  reader.text = '';
  reader.strings = NO_STRINGS;
  return whole ? node : undefined;
}

/**
 * The read's position in the text: one reader, reused, so that a million
 * values make no reader each. `undefined` from any method means "not a shape
 * read here", and ends the read.
 */
class Reader {
  text = '';
  at = 0;
  end = 0;
  strings = new SharedStrings();
  maxDepth = MAX_DEPTH;
  /** The items of the arrays being read, innermost last. */
  private readonly stack: (Node | undefined)[] = [];
  /** Items on `stack`: it is not shortened by setting its length, a call into V8's runtime (90 ms per million values, in a profile). */
  private top = 0;

  /** `depth`: the arrays and tasks around the value (NodeParser's count, which it checks on every node). */
  node(depth: number): Node | undefined {
    this.skipSpace();
    if (this.at >= this.end || depth > this.maxDepth) return undefined;
    const c = this.text.charCodeAt(this.at);
    if (c === OPEN_BRACE) return this.object(depth + 1);
    if (c === OPEN_BRACKET) return this.array(depth + 1);
    const value = this.scalar(c);
    return value === undefined ? undefined : { kind: 'lit', value };
  }

  /** A number, string, boolean or null starting with `c`; undefined for anything else. */
  private scalar(c: number): string | number | boolean | null | undefined {
    if (c === QUOTE) return this.string();
    if (c === MINUS || (c >= ZERO && c <= NINE)) return this.integer();
    const { text, at } = this;
    if (text.startsWith('true', at)) return this.word(4, true);
    if (text.startsWith('false', at)) return this.word(5, false);
    if (text.startsWith('null', at)) return this.word(4, null);
    return undefined;
  }

  private word<T>(length: number, value: T): T | undefined {
    this.at += length;
    return this.at <= this.end && !isWordChar(this.text.charCodeAt(this.at)) ? value : undefined;
  }

  /** A JSON integer of at most MAX_DIGITS digits ("-0" is negative zero, as JSON.parse reads it). */
  private integer(): number | undefined {
    const { text, end } = this;
    let i = this.at;
    const negative = text.charCodeAt(i) === MINUS;
    if (negative) i++;
    const first = i;
    let n = 0;
    while (i < end) {
      const d = text.charCodeAt(i);
      if (d < ZERO || d > NINE) break;
      n = n * 10 + (d - ZERO);
      i++;
    }
    const digits = i - first;
    if (digits === 0 || digits > MAX_DIGITS) return undefined;
    // JSON allows no leading zero.
    if (text.charCodeAt(first) === ZERO && digits > 1) return undefined;
    // A fraction or an exponent: left to the general path.
    if (i < end && isNumberTail(text.charCodeAt(i))) return undefined;
    this.at = i;
    return negative ? -n : n;
  }

  /** A string without escapes or control characters (which JSON refuses unescaped); its content. */
  private string(): string | undefined {
    const from = this.at + 1;
    const to = this.plainStringEnd(from);
    if (to < 0) return undefined;
    this.at = to + 1;
    return this.text.slice(from, to);
  }

  /** Where the string whose content starts at `from` closes (its quote), or -1 when it has an escape or a control character. */
  private plainStringEnd(from: number): number {
    const { text, end } = this;
    for (let i = from; i < end; i++) {
      const c = text.charCodeAt(i);
      if (c === QUOTE) return i;
      if (c === BACKSLASH || c < 0x20) return -1;
    }
    return -1;
  }

  private array(depth: number): Node | undefined {
    const items = this.items(depth);
    if (items === undefined) return undefined;
    for (let i = 0; i < items.length; i++) if (items[i].kind !== 'lit') return { kind: 'array', items };
    const values = new Array<Json>(items.length);
    for (let i = 0; i < items.length; i++) values[i] = (items[i] as { value: Json }).value;
    return { kind: 'lit', value: values };
  }

  /**
   * The items of the array that opens at the current position, in an array
   * of their number: they are gathered on `stack` first, since an array
   * grown by push keeps room for 17 items from the first (a million
   * one-argument tasks held 130 MB of empty slots).
   */
  private items(depth: number): Node[] | undefined {
    this.at++;
    this.skipSpace();
    if (this.text.charCodeAt(this.at) === CLOSE_BRACKET) {
      this.at++;
      return [];
    }
    const base = this.top;
    for (;;) {
      const item = this.node(depth);
      if (item === undefined) return this.drop(base);
      this.stack[this.top++] = item;
      this.skipSpace();
      const c = this.text.charCodeAt(this.at++);
      if (c === CLOSE_BRACKET) break;
      if (c !== COMMA || this.at >= this.end) return this.drop(base);
    }
    return this.take(base);
  }

  /** The items on the stack from `base`, taken off it (their slots emptied: the stack holds no node of a finished read). */
  private take(base: number): Node[] {
    const items = new Array<Node>(this.top - base);
    for (let i = 0; i < items.length; i++) {
      items[i] = this.stack[base + i]!;
      this.stack[base + i] = undefined;
    }
    this.top = base;
    return items;
  }

  private drop(base: number): undefined {
    for (let i = base; i < this.top; i++) this.stack[i] = undefined;
    this.top = base;
    return undefined;
  }

  /** `{"$ref": key}` or `{"$op": name, "args": [...]}` (either order, args optional); undefined for any other object. */
  private object(depth: number): Node | undefined {
    let op: string | undefined;
    let args: Node[] | undefined;
    let ref: string | undefined;
    this.at++;
    this.skipSpace();
    if (this.text.charCodeAt(this.at) === CLOSE_BRACE) return undefined;
    for (;;) {
      const field = this.field();
      if (field === Field.Other) return undefined;
      this.skipSpace();
      if (this.text.charCodeAt(this.at++) !== COLON) return undefined;
      this.skipSpace();
      if (field === Field.Op) {
        if (op !== undefined || ref !== undefined || this.text.charCodeAt(this.at) !== QUOTE) return undefined;
        const from = this.at + 1;
        const to = this.plainStringEnd(from);
        if (to <= from) return undefined;
        op = this.strings.op(this.text, from, to);
        this.at = to + 1;
      } else if (field === Field.Args) {
        if (args !== undefined || ref !== undefined || this.text.charCodeAt(this.at) !== OPEN_BRACKET) return undefined;
        args = this.items(depth);
        if (args === undefined) return undefined;
      } else {
        if (ref !== undefined || op !== undefined || args !== undefined || this.text.charCodeAt(this.at) !== QUOTE)
          return undefined;
        const from = this.at + 1;
        const to = this.plainStringEnd(from);
        if (to < 0) return undefined;
        ref = this.strings.refKey(this.text, from, to);
        this.at = to + 1;
      }
      this.skipSpace();
      const c = this.text.charCodeAt(this.at++);
      if (c === CLOSE_BRACE) break;
      if (c !== COMMA) return undefined;
      this.skipSpace();
    }
    if (ref !== undefined) return { kind: 'ref', key: ref };
    if (op === undefined) return undefined;
    return { kind: 'task', op, args: args ?? [], kwargs: null };
  }

  /** Which of the fields read here opens at the current position: "$op", "args", "$ref", or another. */
  private field(): Field {
    const { text, at } = this;
    if (text.charCodeAt(at) !== QUOTE) return Field.Other;
    if (text.charCodeAt(at + 1) === DOLLAR) {
      if (text.startsWith('$op"', at + 1)) return this.skip(5, Field.Op);
      if (text.startsWith('$ref"', at + 1)) return this.skip(6, Field.Ref);
      return Field.Other;
    }
    return text.startsWith('args"', at + 1) ? this.skip(6, Field.Args) : Field.Other;
  }

  private skip(length: number, field: Field): Field {
    this.at += length;
    return field;
  }

  /** Starts a read with an empty stack (a read that gave up has emptied what it used). */
  reset(): void {
    this.top = 0;
  }

  skipSpace(): void {
    const { text, end } = this;
    let i = this.at;
    while (i < end) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break;
      i++;
    }
    this.at = i;
  }
}

/** The fields of an object read here (Reader.field). */
const Field = { Op: 0, Args: 1, Ref: 2, Other: 3 } as const;
type Field = (typeof Field)[keyof typeof Field];

const reader = new Reader();
/** What the reader holds between reads. */
const NO_STRINGS = new SharedStrings();

/** A character that may continue a bare word (true, false, null): then it is not one. */
function isWordChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= ZERO && c <= NINE);
}

/** What may follow a JSON number's integer part: a fraction, an exponent. */
function isNumberTail(c: number): boolean {
  return c === 0x2e || c === 0x65 || c === 0x45;
}
