/**
 * Fingerprints of tasks, for the result cache and the presubmit hook: a hash
 * of what a task computes — its template (ops and literal arguments, fused
 * tasks included), the versions of its ops, and the fingerprints of its
 * inputs — so equal computations have equal fingerprints whatever their keys.
 * A data node's fingerprint is its value's; an object id's is the id (objects
 * never change).
 *
 *   fingerprints(planGraph(parseGraph({ a: { $op: 'inc', args: [1] } }), 'a'), () => '1')
 *   // one fingerprint per node, 28 hex digits; the same for { b: { $op: 'inc', args: [1] } }
 */
import { hash } from '../shared/hash.ts';
import { plannedTemplate, type Plan, type Slot } from './plan.ts';
import { CALL, FUSED, type Template } from './template.ts';

/** Every op a template calls, fused tasks included. */
export function templateOps(t: Template, out: Set<string> = new Set()): Set<string> {
  switch (t[0]) {
    case CALL:
      out.add(t[1]);
      for (const a of t[2]) templateOps(a, out);
      if (t[4]) for (const v of t[4]) templateOps(v, out);
      break;
    case 3:
      for (const i of t[1]) templateOps(i, out);
      break;
    case 4:
      for (const v of t[2]) templateOps(v, out);
      break;
    case FUSED:
      templateOps(t[2], out);
      break;
  }
  return out;
}

/**
 * The fingerprint of every node of a plan, by index. `versionOf` gives an
 * op's version (its fingerprint changes with it).
 */
export function fingerprints(plan: Plan, versionOf: (op: string) => string): string[] {
  const fps: string[] = [];
  const slotFp = (slot: Slot): string => {
    if (typeof slot === 'number') return fps[slot];
    if (typeof slot === 'string') return `oid:${slot}`;
    return `${fps[slot[0]]}:${slot[1]}`;
  };
  for (const node of plan.nodes) {
    if (node.kind === 'data') {
      // A known value keeps the fingerprint of the task it stands for.
      fps.push(node.fingerprint ?? hash(`data|${JSON.stringify(node.value)}`));
      continue;
    }
    const template = plannedTemplate(node);
    const ops = [...templateOps(template)].sort().map((op) => `${op}@${versionOf(op)}`);
    fps.push(
      hash(`task|${JSON.stringify(template)}|${ops.join(',')}|${node.returns ?? 0}|${node.deps.map(slotFp).join(',')}`),
    );
  }
  return fps;
}
