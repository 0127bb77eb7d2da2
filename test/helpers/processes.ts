/** A process tree's resident memory, read from /proc (Linux): the supervisor with its API and workers. */
import { readdirSync, readFileSync } from 'node:fs';

/** The direct children of `pid`. */
export function childPids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => {
      try {
        return Number(readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ')[1]) === pid;
      } catch {
        return false; // it ended while we looked
      }
    });
}

/** Resident memory of a process and of its children, in MiB. */
export function treeRssMiB(pid: number): number {
  const kib = (p: number) => {
    try {
      return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, 'utf8'))?.[1] ?? 0);
    } catch {
      return 0;
    }
  };
  return (kib(pid) + childPids(pid).reduce((sum, c) => sum + kib(c), 0)) / 1024;
}
