/** Entry point of an API process: `npm run api`. */
import { loadConfig } from '../config.ts';
import { buildApp } from './app.ts';
import { checkEvictionPolicy } from '../queue/connection.ts';

const config = loadConfig();
const app = await buildApp(config, { logger: true });
const warning = await checkEvictionPolicy(app.weft.redis);
if (warning) app.log.warn(warning);
await app.listen({ port: config.port, host: config.host });

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => void app.close().then(() => process.exit(0)));
}
