/**
 * One executor process (docs/executors.md): started with a clean environment,
 * stdin and stdout as the frame pipes, stderr passed on to the worker's log.
 * It runs one batch at a time. A process that exits or is killed while it
 * runs a batch rejects that batch with ExecutorDiedError; a batch past its
 * deadline has the process killed and rejects with ExecutorTimeoutError.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { ByteChunks } from '../../store/byte-chunks.ts';
import { encodeFrameChunks, FrameReader } from './frames.ts';

/** One task of a run frame, as the executor receives it. */
export interface ExecutorTask {
  id: number;
  graph: string;
  key: string;
  template: Buffer;
  inputs: Buffer[];
  returns: number | null;
}

export interface ExecutorError {
  type?: string;
  message?: string;
  traceback?: string;
  code?: string;
  op?: string;
  exception?: Uint8Array | ByteChunks;
  key?: string;
}

export type ExecutorResult =
  | { id: number; ok: true; values: (Uint8Array | ByteChunks)[]; ms?: number }
  | { id: number; ok: false; error: ExecutorError; ms?: number };

export interface Hello {
  protocol: number;
  lang: string;
  version?: string;
  pid?: number;
}

export const PROTOCOL = 1;

/** The executor exited (crashed, was killed) while it ran a batch, or before it said hello. */
export class ExecutorDiedError extends Error {
  override readonly name = 'ExecutorDiedError';
  readonly code = 'executor_died';
}

export class ExecutorTimeoutError extends Error {
  override readonly name = 'ExecutorTimeoutError';
  readonly code = 'timeout';
}

/** How long an executor may take to say hello (a cold Python importing numpy on a busy machine). */
const HELLO_MS = 60_000;
/** After stdin closes, how long an executor has to exit before it is killed. */
const EXIT_MS = 2_000;

export class ExecutorProcess {
  readonly child: ChildProcess;
  readonly hello: Promise<Hello>;
  private running: { batch: number; resolve: (r: ExecutorResult[]) => void; reject: (e: Error) => void } | undefined;
  private nextBatch = 0;
  private exited = false;
  private killed = false;
  /** Why the process ended, for the error of the batch it was running. */
  private ending = '';
  private readonly exit: Promise<void>;

  constructor(
    readonly command: string[],
    env: Record<string, string>,
    private readonly label: string,
  ) {
    this.child = spawn(command[0], command.slice(1), { env, stdio: ['pipe', 'pipe', 'inherit'] });
    let greet!: (h: Hello) => void;
    let refuse!: (e: Error) => void;
    this.hello = new Promise<Hello>((resolve, reject) => {
      greet = resolve;
      refuse = reject;
    });
    this.hello.catch(() => {});
    const helloTimer = setTimeout(() => {
      refuse(new ExecutorDiedError(`${this.describe()} did not say hello within ${HELLO_MS} ms.`));
      this.kill();
    }, HELLO_MS);
    helloTimer.unref();
    let greeted = false;
    const reader = new FrameReader((message) => {
      const m = message as { t?: string; batch?: number; results?: ExecutorResult[] } & Partial<Hello>;
      if (!greeted) {
        greeted = true;
        clearTimeout(helloTimer);
        if (m.t !== 'hello' || m.protocol !== PROTOCOL || typeof m.lang !== 'string') {
          refuse(
            new ExecutorDiedError(
              `${this.describe()} did not start with a hello of protocol ${PROTOCOL} (got ${JSON.stringify(m).slice(0, 200)}).`,
            ),
          );
          this.kill();
          return;
        }
        greet(m as Hello);
        return;
      }
      if (m.t !== 'done' || !this.running || m.batch !== this.running.batch || !Array.isArray(m.results)) {
        this.ending = `it sent an unexpected frame (${JSON.stringify(m).slice(0, 200)})`;
        this.kill();
        return;
      }
      const { resolve } = this.running;
      this.running = undefined;
      resolve(m.results);
    });
    this.child.stdout!.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        this.ending = `its output is not frames: ${(err as Error).message}`;
        this.kill();
      }
    });
    // A write to an executor that died fails here; the exit handler reports it.
    this.child.stdin!.on('error', () => {});
    this.exit = new Promise<void>((resolve) => {
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
        this.exited = true;
        clearTimeout(helloTimer);
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        const why = this.ending || how;
        refuse(new ExecutorDiedError(`${this.describe()} ${why} before it said hello.`));
        const running = this.running;
        this.running = undefined;
        running?.reject(new ExecutorDiedError(`The executor running the task ${why}.`));
        resolve();
      };
      this.child.once('exit', onExit);
      this.child.once('error', (err) => {
        this.ending = `could not be started: ${err.message}`;
        onExit(null, null);
      });
    });
  }

  /** False from the moment it is killed, before its exit is seen: a killed executor takes no batch. */
  get alive(): boolean {
    return !this.exited && !this.killed;
  }

  /** Runs one batch; with `deadlineMs`, the process is killed at the deadline and the batch rejects with a timeout. */
  run(tasks: ExecutorTask[], deadlineMs?: number): Promise<ExecutorResult[]> {
    if (this.running) throw new Error('An executor runs one batch at a time.');
    if (!this.alive) return Promise.reject(new ExecutorDiedError(`The executor ${this.ending || 'has exited'}.`));
    const batch = this.nextBatch++;
    return new Promise<ExecutorResult[]>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const settle = () => clearTimeout(timer);
      this.running = {
        batch,
        resolve: (r) => {
          settle();
          resolve(r);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
      };
      if (deadlineMs !== undefined) {
        timer = setTimeout(() => {
          const running = this.running;
          this.running = undefined;
          this.kill();
          running?.reject(
            new ExecutorTimeoutError(
              `The task ran longer than its timeout of ${deadlineMs} ms and its executor was stopped (raise "timeout_ms" in the task's options or options.task_timeout_ms if it needs longer).`,
            ),
          );
        }, deadlineMs);
      }
      // Inputs of megabytes go to the pipe as they are, not copied into one frame buffer.
      const stdin = this.child.stdin!;
      stdin.cork();
      for (const chunk of encodeFrameChunks({ t: 'run', batch, tasks })) stdin.write(chunk);
      stdin.uncork();
    });
  }

  kill(): void {
    this.killed = true;
    if (!this.exited) this.child.kill('SIGKILL');
  }

  /** Closes stdin (the executor exits when it ends) and kills it if it has not exited after EXIT_MS. */
  async close(): Promise<void> {
    if (this.exited) return;
    this.child.stdin!.end();
    const timer = setTimeout(() => this.kill(), EXIT_MS);
    await this.exit;
    clearTimeout(timer);
  }

  private describe(): string {
    return `The executor ${this.label} (${this.command.join(' ')})`;
  }
}
