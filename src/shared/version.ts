/**
 * The clients' version and the HTTP API major version they speak, as
 * constants the SDK carries (it cannot read package.json in a browser).
 * test/versions.test.ts holds them equal to package.json's version and
 * openapi.yaml's info.x-api-version; GET /healthz reports the service's.
 */
export const VERSION = '0.2.0';
export const API_VERSION = 1;
