/**
 * Request bodies. JSON is parsed here, in place of Fastify's parser, as
 * Fastify's did (a leading BOM is skipped; keys such as "__proto__" are
 * ordinary graph keys, own properties of the parsed object, which the graph
 * code keeps in Maps), except that:
 *
 * - an integer a double cannot hold is refused, not rounded: JSON.parse reads
 *   2^60 as 1152921504606847000, and the value stored would be another number
 *   than the one sent, without a word;
 * - a body that is not UTF-8 is refused, not read with its bad bytes replaced;
 * - an empty body is no body on a route that takes none (a DELETE, a GET):
 *   clients that set Content-Type on every request can cancel and release.
 *
 * The graph route reads its JSON bodies with jsonBodyParser too, but leaves
 * a graph in its text, read one key at a time when the graph is parsed
 * (src/graph/graph-text.ts).
 *
 * Any other type without a parser of its own (the routes add MessagePack and
 * bytes) is 415 where a body is expected, and no body where none is, if it is empty.
 */
import { isUtf8 } from 'node:buffer';
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { stringEnd } from '../../graph/graph-text.ts';
import { decodeValue } from '../../shared/codec.ts';
import { ApiError } from '../errors.ts';

/** "__proto__" in UTF-8: the bytes every MessagePack string holding it carries, whatever its format. */
const PROTO = Buffer.from('__proto__');

/**
 * A MessagePack request body as a value (`decodeValue`), or as `split` reads
 * it (the graph route: src/graph/graph-packed.ts) when it does. msgpackr
 * renames a map's "__proto__" key, and `decodeValue` walks the decoded
 * objects to find one; bytes with no "__proto__" anywhere can have had none
 * renamed, and the search of a body's bytes (native, a few milliseconds for
 * 48 MB) replaces the walk (0.8 s over a million-task graph's objects).
 */
export function decodeRequestBody(bytes: Buffer, split?: (bytes: Buffer) => unknown): unknown {
  const mayHoldProto = bytes.includes(PROTO);
  const body = mayHoldProto ? null : split?.(bytes);
  return body ?? decodeValue(bytes, mayHoldProto);
}

/**
 * Sixteen digits in a row that do not follow a digit, a point or an exponent:
 * the only place an integer past 2^53 - 1 (9007199254740991) can start. The
 * body is scanned only when this matches (strings of digits, ids, may match
 * too), so a body of ordinary numbers costs one regular expression (about a
 * third of JSON.parse's time on a body of numbers, measured).
 */
const LONG_INTEGER = /(?:^|[^\d.eE+])\d{16}/;

/** Whether the request's route has a body in openapi.yaml (a request of no route has none). */
export function takesBody(req: FastifyRequest): boolean {
  return req.routeOptions.schema?.body !== undefined;
}

/**
 * The parser of JSON bodies: the checks above, then `read` (JSON.parse, or
 * the graph route's reader, which leaves a graph in its text) turns the text
 * into the body.
 */
export function jsonBodyParser(
  read: (text: string) => unknown = JSON.parse,
): (req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => void {
  return (req, body, done) => {
    const bytes = body as Buffer;
    if (bytes.length === 0) {
      if (takesBody(req)) done(new ApiError('invalid_json', 'The body is empty; send a JSON object.'), undefined);
      else done(null, undefined);
      return;
    }
    if (!isUtf8(bytes)) {
      done(new ApiError('invalid_json', 'The body is not valid UTF-8, which JSON text must be.'), undefined);
      return;
    }
    let text = bytes.toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    let value: unknown;
    try {
      value = read(text);
    } catch (err) {
      done(new ApiError('invalid_json', `The body is not valid JSON: ${(err as Error).message}`), undefined);
      return;
    }
    let inexact: { literal: string; path: string } | null = null;
    try {
      inexact = findInexactInteger(text);
    } catch {
      // The scan reads valid JSON; the graph route checks a graph's values only when it reads them (its
      // reader leaves them in the text), and refuses invalid ones then, with JSON.parse's error.
    }
    if (inexact) {
      done(inexactNumber(inexact), undefined);
      return;
    }
    done(null, value);
  };
}

async function bodies(app: FastifyInstance): Promise<void> {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, jsonBodyParser());

  // Every other type, and a body without a Content-Type.
  app.addContentTypeParser('*', (req, payload, done) => {
    const type = req.headers['content-type'];
    const unsupported = new ApiError(
      'unsupported_media_type',
      `Content-Type ${type === undefined ? '(none)' : JSON.stringify(type)} is not supported here: ` +
        'send JSON with Content-Type: application/json (or a type the route lists in openapi.yaml).',
    );
    if (takesBody(req)) return done(unsupported, undefined);
    // The not-found handler answers a request of no route, whatever its body.
    if (req.is404) return done(null, undefined);
    // No body expected: an empty one is none; the bytes of one that is not are read and dropped.
    let answered = false;
    const answer = (err: Error | null) => {
      if (answered) return;
      answered = true;
      done(err, undefined);
    };
    payload.on('data', () => answer(unsupported));
    payload.on('end', () => answer(null));
    payload.on('error', answer);
  });
}

function inexactNumber({ literal, path }: { literal: string; path: string }): ApiError {
  const shown = literal.length > 64 ? `${literal.slice(0, 64)}...` : literal;
  return new ApiError(
    'inexact_number',
    `${path} is the integer ${shown}, which JSON numbers cannot carry exactly (they hold integers up to ±9007199254740991, 2^53 - 1): ` +
      `it would have been read as ${Number(literal)}. Send it as a string, or send the body as application/msgpack, which carries 64-bit integers exactly.`,
    { path, literal: shown },
  );
}

interface Container {
  array: boolean;
  /** The element's index (arrays) or key (objects) being read. */
  at: number | string;
}

const QUOTE = 0x22;
const MINUS = 0x2d;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
/** What may follow an integer's digits in a JSON number: a fraction or an exponent. */
const isFloatPart = (c: number) => c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === MINUS || isDigit(c);

/**
 * The first integer literal (no fraction, no exponent: those are floats by
 * intent) of valid JSON `text` outside ±(2^53 - 1), with its JSON path
 * (`$.graph["a b"].args[0]`); null when there is none.
 */
export function findInexactInteger(text: string): { literal: string; path: string } | null {
  return LONG_INTEGER.test(text) ? scan(text) : null;
}

/** findInexactInteger's walk through the text. Strings are skipped whole, so digits inside them never count. */
function scan(text: string): { literal: string; path: string } | null {
  const stack: Container[] = [];
  let expectKey = false;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      // Unterminated: the text is not JSON (a graph's values are checked only when read, after this scan).
      const closed = stringEnd(text, i);
      const end = closed < 0 ? text.length : closed;
      if (expectKey) {
        stack[stack.length - 1].at = JSON.parse(text.slice(i, end)) as string;
        expectKey = false;
      }
      i = end;
    } else if (c === MINUS || isDigit(c)) {
      const start = i;
      i++;
      while (i < text.length && isDigit(text.charCodeAt(i))) i++;
      const digitsEnd = i;
      while (i < text.length && isFloatPart(text.charCodeAt(i))) i++;
      if (i === digitsEnd && digitsEnd - start >= 16) {
        const literal = text.slice(start, digitsEnd);
        if (!Number.isSafeInteger(Number(literal))) return { literal, path: pathOf(stack) };
      }
    } else {
      if (c === 0x7b) {
        stack.push({ array: false, at: '' });
        expectKey = true;
      } else if (c === 0x5b) stack.push({ array: true, at: 0 });
      else if (c === 0x7d || c === 0x5d) {
        // An empty object closes while its first key is still awaited.
        stack.pop();
        expectKey = false;
      } else if (c === 0x2c) {
        const top = stack[stack.length - 1];
        if (top.array) top.at = (top.at as number) + 1;
        else expectKey = true;
      }
      i++;
    }
  }
  return null;
}

function pathOf(stack: Container[]): string {
  let path = '$';
  for (const { at } of stack)
    path += typeof at === 'number' ? `[${at}]` : /^[A-Za-z_$][\w$]*$/.test(at) ? `.${at}` : `[${JSON.stringify(at)}]`;
  return path;
}

export default fp(bodies, { name: 'weft-bodies' });
