/** Entry point of an API process: `npm run api`. */
import { loadConfig } from '../config.ts';
import { buildApp } from './app.ts';
import { checkEvictionPolicy } from '../queue/connection.ts';

const config = loadConfig();
const app = await buildApp(config, { logger: true });
// Before listening: the first graph a client sends then finds the submission code compiled.
app.weft.submitter.rehearse();
const warning = await checkEvictionPolicy(app.weft.redis);
if (warning) app.log.warn(warning);
// Without tokens anyone who reaches the port can run code and read every object: loopback only, unless told the network is trusted.
const loopback = ['127.0.0.1', '::1', 'localhost'].includes(config.host);
let host = config.host;
if (config.tokens.size === 0 && !loopback && !config.allowOpen) {
  app.log.warn(
    `No API tokens are configured (WEFT_TOKENS or WEFT_TOKENS_FILE): listening on 127.0.0.1 only, not HOST=${config.host}. Configure tokens, or set WEFT_ALLOW_OPEN=1 on a network you trust.`,
  );
  host = '127.0.0.1';
} else if (config.tokens.size === 0) {
  app.log.info(
    'No API tokens are configured: every request is allowed (WEFT_TOKENS or WEFT_TOKENS_FILE turn tokens on).',
  );
}
await app.listen({ port: config.port, host });

// SIGTERM: stop accepting, answer what is in flight (long polls and event streams end at once), then exit;
// after WEFT_SHUTDOWN_MS whatever is left is dropped.
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    setTimeout(() => process.exit(0), config.shutdownMs).unref();
    void app.close().then(() => process.exit(0));
  });
}
