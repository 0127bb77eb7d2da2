/**
 * A private redis-server for tests, on a free port, so tests never touch a
 * shared instance and fault tests can stop and restart it; and private
 * Sentinel and Cluster setups built of them.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface TestRedis {
  url: string;
  port: number;
  dir: string;
  /** Stops it (SIGTERM: with AOF on, it syncs first) and keeps its data. */
  halt(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  resume(): Promise<void>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export async function startRedis(extraArgs: string[] = []): Promise<TestRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'weft-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let proc: ChildProcess;
  const launch = async () => {
    proc = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--maxmemory-policy',
        'noeviction',
        ...extraArgs,
      ],
      { stdio: 'ignore' },
    );
    const failed = new Promise<never>((_, reject) => {
      proc.once('error', (err) =>
        reject(
          new Error(`Cannot start redis-server (${err.message}); install it (Debian: apt-get install redis-server).`),
        ),
      );
    });
    await Promise.race([waitForRedis(url), failed]);
  };
  const halt = async () => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGTERM');
    await exited;
  };
  await launch();
  return {
    url,
    port,
    dir,
    halt,
    resume: launch,
    async stop() {
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForRedis(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    r.on('error', () => {});
    try {
      await r.connect();
      await r.ping();
      r.disconnect();
      return;
    } catch (err) {
      r.disconnect();
      if (Date.now() > deadline) throw new Error(`redis-server did not answer on ${url}: ${(err as Error).message}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }
}

export interface TestCluster {
  /** REDIS_URL for weft: redis-cluster://host:port,... */
  url: string;
  nodes: TestRedis[];
  stop(): Promise<void>;
}

/** A Redis Cluster of `masters` redis-servers (no replicas), its slots spread over them by redis-cli. */
export async function startCluster(masters = 3): Promise<TestCluster> {
  const nodes: TestRedis[] = [];
  for (let i = 0; i < masters; i++) {
    // The bus port is set explicitly: port + 10000 may be taken, or above 65535.
    nodes.push(
      await startRedis([
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        '2000',
        '--cluster-port',
        String(await freePort()),
      ]),
    );
  }
  const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
  const created = spawnSync(
    'redis-cli',
    ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'],
    { encoding: 'utf8' },
  );
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
  const deadline = Date.now() + 15_000;
  for (const node of nodes) {
    const r = new Redis(node.url);
    try {
      while (!/cluster_state:ok/.test(String(await r.cluster('INFO')))) {
        if (Date.now() > deadline) throw new Error(`cluster node ${node.url} never reached cluster_state:ok`);
        await new Promise((res) => setTimeout(res, 100));
      }
    } finally {
      r.disconnect();
    }
  }
  return {
    url: `redis-cluster://${addresses.join(',')}`,
    nodes,
    stop: async () => void (await Promise.all(nodes.map((n) => n.stop()))),
  };
}

export interface TestSentinel {
  /** REDIS_URL for weft: redis-sentinel://host:port/mymaster */
  url: string;
  master: TestRedis;
  replica: TestRedis;
  /** A client of the sentinel itself. */
  sentinel: Redis;
  /** The address ("host:port") the sentinel names as the master now. */
  masterAddress(): Promise<string>;
  stop(): Promise<void>;
}

/** A master, a replica of it and one sentinel watching them (quorum 1, so it can fail over alone). */
export async function startSentinel(): Promise<TestSentinel> {
  const master = await startRedis();
  const replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)]);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'weft-sentinel-'));
  const conf = join(dir, 'sentinel.conf');
  writeFileSync(
    conf,
    [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor mymaster 127.0.0.1 ${master.port} 1`,
      'sentinel down-after-milliseconds mymaster 1000',
      'sentinel failover-timeout mymaster 5000',
      '',
    ].join('\n'),
  );
  const proc = spawn('redis-server', [conf, '--sentinel'], { stdio: 'ignore' });
  await waitForRedis(`redis://127.0.0.1:${port}`);
  const sentinel = new Redis(port, '127.0.0.1');
  const masterAddress = async () =>
    ((await sentinel.call('SENTINEL', 'get-master-addr-by-name', 'mymaster')) as string[]).join(':');
  // Until the sentinel has seen the replica, it could not fail over.
  const deadline = Date.now() + 15_000;
  while (((await sentinel.call('SENTINEL', 'replicas', 'mymaster')) as unknown[]).length === 0) {
    if (Date.now() > deadline) throw new Error('the sentinel never saw the replica');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `redis-sentinel://127.0.0.1:${port}/mymaster`,
    master,
    replica,
    sentinel,
    masterAddress,
    async stop() {
      sentinel.disconnect();
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
      await Promise.all([master.stop(), replica.stop()]);
    },
  };
}
