/**
 * Import boundaries of src/ (`npm run boundaries`, part of `npm test`): the layering that
 * docs/architecture.md ("Layers") describes. A violation fails with the rule's name and comment.
 * test/boundaries.test.ts runs these rules on files that break each of them.
 */

/** The processes and the clients: nothing below them imports them. */
const TOP = '^src/(api|workers|supervisor|cli|client)/';

export default {
  forbidden: [
    {
      name: 'shared-stands-alone',
      comment: 'src/shared is loaded by the service and by the SDK: it imports no other module of src.',
      severity: 'error',
      from: { path: '^src/shared/' },
      to: { path: '^src/', pathNot: '^src/shared/' },
    },
    {
      name: 'shared-does-no-io',
      comment:
        'src/shared (values, codec, hash, API types) does no I/O and runs in browsers (the SDK package, clients/ts): ' +
        'it imports no Node built-in (bytes.ts uses Buffer only where the global exists).',
      severity: 'error',
      from: { path: '^src/shared/' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'graph-is-pure',
      comment:
        'src/graph is pure (parse, check, cull, plan): it imports only itself and src/shared, ' +
        'no Node built-in, no package, no I/O.',
      severity: 'error',
      from: { path: '^src/graph/' },
      to: { pathNot: '^src/(graph|shared)/' },
    },
    {
      name: 'sdk-imports-only-shared',
      comment:
        'src/client is the TypeScript SDK (weft/client): it imports no server module, only itself and src/shared.',
      severity: 'error',
      from: { path: '^src/client/' },
      to: { path: '^src/', pathNot: '^src/(client|shared)/' },
    },
    {
      name: 'cli-is-a-client',
      comment: 'src/cli talks to the API through the SDK: it imports only src/cli, src/client and src/shared.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/', pathNot: '^src/(cli|client|shared)/' },
    },
    {
      name: 'layers-below-processes',
      comment:
        'ops, store, queue, net and config.ts are used by the processes (api, workers, supervisor) and the ' +
        'clients (cli, client) and import none of them: src/queue imports neither src/api nor src/workers. ' +
        '(graph and shared have stricter rules.)',
      severity: 'error',
      from: { path: ['^src/(ops|store|queue|net)/', '^src/config[.]ts$'] },
      to: { path: TOP },
    },
    {
      name: 'no-circular',
      comment:
        'Modules of src import each other in one direction: in a cycle, which module runs first depends on ' +
        'who imports it first. Cycles through `import type` (erased) are allowed.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // `import type` counts: a type from a server module ties the SDK to it as much as a value does.
    tsPreCompilationDeps: true,
  },
};
