/**
 * The service's version (package.json's, which the clients and openapi.yaml
 * share: test/versions.test.ts) and the HTTP API's major version (openapi.yaml
 * info.x-api-version, the /v1 of the paths), as GET /healthz reports them.
 * Read from package.json at start: src/ and a compiled dist/ are both one
 * level below it. The API version is read by the API from openapi.yaml
 * (src/api/schemas.ts).
 */
import { readFileSync } from 'node:fs';

export const VERSION: string = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
