/**
 * An example op module. Start workers with it:
 *
 *   WEFT_OPS=examples/ops/text-ops.ts npm run worker
 *
 * then call the ops from a graph: {"$op": "text.upper", "args": ["hello"]}.
 * A module exports `ops`: an array of definitions made with defineOp.
 * In a project that installed the service (@weft/service), the import below
 * is the same, and the compiled worker loads this TypeScript file as it is.
 */
import { defineOp, OpArgumentError } from '@weft/service/ops';

function text(op: string, value: unknown): string {
  if (typeof value !== 'string') throw new OpArgumentError(`${op} expects a string.`);
  return value;
}

export const ops = [
  defineOp({
    name: 'text.upper',
    description: 'text.upper(s): s in upper case.',
    run: ([s]) => text('text.upper', s).toUpperCase(),
  }),
  defineOp({
    name: 'text.words',
    description: 'text.words(s): the words of s, split on white space.',
    run: ([s]) => text('text.words', s).split(/\s+/).filter(Boolean),
  }),
  defineOp({
    name: 'text.join',
    description: 'text.join(parts, sep=" "): the strings of parts joined by sep (a keyword argument).',
    run: ([parts], { sep = ' ' }) => {
      if (!Array.isArray(parts)) throw new OpArgumentError('text.join expects an array of strings.');
      return parts.map((p) => text('text.join', p)).join(String(sep));
    },
  }),
];
