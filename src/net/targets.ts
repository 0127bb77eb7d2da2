/**
 * Outgoing requests to URLs clients give (webhooks, the presubmit hook),
 * guarded against server-side request forgery:
 *
 *   - at submission, `checkTarget` refuses a URL that is not http(s) or whose
 *     host is, or resolves to, an address that is not public (src/net/address.ts);
 *   - at delivery, `postJson` checks again the address it actually connects
 *     to (a name may resolve elsewhere by then: DNS rebinding), and never
 *     follows redirects (a public URL answering 307 to a private one).
 *
 * WEFT_ALLOW_PRIVATE_WEBHOOKS=1 (`allowPrivate`) lifts the address checks,
 * for local development and tests; the scheme check stays.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { classifyAddress, classifyHost } from './address.ts';

export class ForbiddenTargetError extends Error {
  override readonly name = 'ForbiddenTargetError';
  readonly code = 'forbidden_target';
  constructor(
    message: string,
    readonly url: string,
  ) {
    super(message);
  }
}

/** How long submission waits for DNS; a name that does not resolve in time is checked at delivery only. */
const RESOLVE_TIMEOUT_MS = 2000;

export interface TargetPolicy {
  allowPrivate: boolean;
}

function parseHttpUrl(url: string, what: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ForbiddenTargetError(
      `${what} ${JSON.stringify(url)} is not a valid URL; give an http:// or https:// URL.`,
      url,
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ForbiddenTargetError(
      `${what} ${JSON.stringify(url)} uses ${parsed.protocol.slice(0, -1)}; only http and https are allowed.`,
      url,
    );
  }
  return parsed;
}

function refusal(what: string, url: string, host: string, address: string, cls: string): ForbiddenTargetError {
  const via = host === address ? '' : ` resolves to ${address}, which`;
  return new ForbiddenTargetError(
    `${what} ${JSON.stringify(url)} is refused: ${host}${via} is a ${cls} address, and weft only calls public addresses (set WEFT_ALLOW_PRIVATE_WEBHOOKS=1 to allow private ones, for development).`,
    url,
  );
}

/**
 * Checks a webhook or presubmit URL at submission. Throws
 * ForbiddenTargetError with a message naming the URL, the address and why.
 * A name that does not resolve (now) passes: delivery checks it again.
 */
export async function checkTarget(
  url: string,
  policy: TargetPolicy,
  what = 'The URL',
  resolve = resolveAll,
): Promise<void> {
  const parsed = parseHttpUrl(url, what);
  if (policy.allowPrivate) return;
  const host = classifyHost(parsed.hostname);
  if ('ip' in host) {
    if (host.cls !== 'public') throw refusal(what, url, host.ip, host.ip, host.cls);
    return;
  }
  if (host.cls !== null) throw refusal(what, url, host.name, host.name, host.cls);
  let addresses: string[];
  try {
    addresses = await resolve(host.name);
  } catch {
    return;
  }
  // Any non-public answer refuses the name: a client could pick which address a connection uses.
  for (const address of addresses) {
    const cls = classifyAddress(address);
    if (cls !== 'public') throw refusal(what, url, host.name, address, cls ?? 'unknown');
  }
}

function resolveAll(name: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`DNS lookup of ${name} timed out`)), RESOLVE_TIMEOUT_MS);
    dnsLookup(name, { all: true, verbatim: true }, (err, addresses) => {
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(addresses.map((a) => a.address));
    });
  });
}

/** Resolves a name to all its addresses: dns.lookup (getaddrinfo, /etc/hosts included) unless a test gives another. */
export type Resolver = (
  hostname: string,
  options: LookupOptions & { all: true },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

/** A DNS lookup for sockets that refuses non-public answers: the check is on the address connected to. */
function guardedLookup(url: string, what: string, resolver: Resolver): LookupFunction {
  return ((
    hostname: string,
    options: LookupOptions,
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    resolver(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      for (const a of addresses) {
        const cls = classifyAddress(a.address);
        if (cls !== 'public') return callback(refusal(what, url, hostname, a.address, cls ?? 'unknown'), []);
      }
      if (options.all) callback(null, addresses);
      else callback(null, addresses[0].address, addresses[0].family);
    });
  }) as LookupFunction;
}

export interface PostResult {
  status: number;
  body: Buffer;
}

/**
 * POSTs `body` to `url` and reads the answer (at most `maxResponseBytes`),
 * re-checking the target as described at the top. Redirects are answers
 * like any other (a 3xx is not ok), never followed. Throws
 * ForbiddenTargetError for a refused target, other errors for network
 * failures and timeouts. The request ends after `timeoutMs`, or when
 * `signal` aborts (a deadline several requests share).
 */
export function postJson(
  url: string,
  body: string,
  options: ({ timeoutMs: number; signal?: undefined } | { signal: AbortSignal; timeoutMs?: undefined }) & {
    headers?: Record<string, string>;
    maxResponseBytes: number;
    policy: TargetPolicy;
    what?: string;
    resolver?: Resolver;
  },
): Promise<PostResult> {
  const what = options.what ?? 'The URL';
  let parsed: URL;
  try {
    parsed = parseHttpUrl(url, what);
    if (!options.policy.allowPrivate) {
      const host = classifyHost(parsed.hostname);
      if (host.cls !== null && host.cls !== 'public') {
        const name = 'ip' in host ? host.ip : host.name;
        throw refusal(what, url, name, name, host.cls);
      }
    }
  } catch (err) {
    return Promise.reject(err);
  }
  const client = parsed.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(
      parsed,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          ...options.headers,
        },
        signal: options.signal ?? AbortSignal.timeout(options.timeoutMs),
        ...(options.policy.allowPrivate
          ? {}
          : { lookup: guardedLookup(url, what, options.resolver ?? (dnsLookup as Resolver)) }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > options.maxResponseBytes) {
            reject(new Error(`The answer of ${url} is larger than ${options.maxResponseBytes} bytes.`));
            res.destroy();
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}
