/**
 * Which IP addresses an outgoing request of weft (webhooks, the presubmit
 * hook) may go to: public unicast only. Everything a client could use to
 * reach the service's own network is refused: loopback, private, link-local
 * (cloud metadata at 169.254.169.254), unique-local, CGNAT, multicast,
 * unspecified and reserved ranges, IPv4 inside IPv6 (mapped, NAT64, 6to4)
 * judged by the IPv4 it carries. Pure: no DNS, no sockets.
 *
 *   classifyAddress('10.1.2.3')          // 'private'
 *   classifyAddress('::ffff:127.0.0.1')  // 'loopback'
 *   classifyAddress('93.184.216.34')     // 'public'
 */

export type AddressClass =
  | 'public'
  | 'loopback'
  | 'private'
  | 'link-local'
  | 'unique-local'
  | 'cgnat'
  | 'multicast'
  | 'unspecified'
  | 'reserved';

type Range4 = [base: number, bits: number, cls: AddressClass];

/** IPv4 ranges that are not public unicast (RFC 6890 and friends). */
const V4: Range4[] = [
  [ip4(0, 0, 0, 0), 8, 'unspecified'],
  [ip4(10, 0, 0, 0), 8, 'private'],
  [ip4(100, 64, 0, 0), 10, 'cgnat'],
  [ip4(127, 0, 0, 0), 8, 'loopback'],
  [ip4(169, 254, 0, 0), 16, 'link-local'],
  [ip4(172, 16, 0, 0), 12, 'private'],
  [ip4(192, 0, 0, 0), 24, 'reserved'],
  [ip4(192, 0, 2, 0), 24, 'reserved'],
  [ip4(192, 88, 99, 0), 24, 'reserved'],
  [ip4(192, 168, 0, 0), 16, 'private'],
  [ip4(198, 18, 0, 0), 15, 'reserved'],
  [ip4(198, 51, 100, 0), 24, 'reserved'],
  [ip4(203, 0, 113, 0), 24, 'reserved'],
  [ip4(224, 0, 0, 0), 4, 'multicast'],
  // 240.0.0.0/4, with the broadcast address 255.255.255.255.
  [ip4(240, 0, 0, 0), 4, 'reserved'],
];

function ip4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

/** Strict dotted decimal (what DNS answers and URL parsing give): four parts 0-255, no leading zeros. */
export function parseIPv4(s: string): number | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  let n = 0;
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p) || Number(p) > 255) return null;
    n = n * 256 + Number(p);
  }
  return n;
}

/** Eight 16-bit groups, with `::` and a trailing dotted IPv4; no zone id. */
export function parseIPv6(s: string): number[] | null {
  if (s.includes('%')) return null;
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i];
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIPv4(piece);
        if (v4 === null) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (/^[0-9a-f]{1,4}$/i.test(piece)) {
        out.push(parseInt(piece, 16));
      } else return null;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

export function classifyIPv4(n: number): AddressClass {
  for (const [base, bits, cls] of V4) {
    const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
    if ((n & mask) >>> 0 === base) return cls;
  }
  return 'public';
}

export function classifyIPv6(g: number[]): AddressClass {
  const v4 = (hi: number, lo: number) => classifyIPv4(((hi << 16) | lo) >>> 0);
  const zeros = (from: number, to: number) => g.slice(from, to).every((x) => x === 0);
  if (zeros(0, 8)) return 'unspecified';
  if (zeros(0, 7) && g[7] === 1) return 'loopback';
  // IPv4-mapped ::ffff:a.b.c.d: a socket to it reaches the IPv4 address.
  if (zeros(0, 5) && g[5] === 0xffff) return v4(g[6], g[7]);
  // IPv4-compatible ::a.b.c.d (deprecated) and the rest of ::/96.
  if (zeros(0, 6)) return 'reserved';
  // NAT64 64:ff9b::/96 reaches the IPv4 address it carries; 64:ff9b:1::/48 is for local use.
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return v4(g[6], g[7]);
  if (g[0] === 0x64 && g[1] === 0xff9b && g[2] === 1) return 'reserved';
  // 6to4 2002:a.b.c.d::/48 tunnels to the IPv4 address in groups 1 and 2.
  if (g[0] === 0x2002) return v4(g[1], g[2]);
  // Teredo 2001::/32 hides its IPv4 address (XORed); documentation 2001:db8::/32.
  if (g[0] === 0x2001 && (g[1] === 0 || g[1] === 0xdb8)) return 'reserved';
  if ((g[0] & 0xfe00) === 0xfc00) return 'unique-local';
  if ((g[0] & 0xffc0) === 0xfe80) return 'link-local';
  // Site-local fec0::/10, deprecated but still routed inside some networks.
  if ((g[0] & 0xffc0) === 0xfec0) return 'private';
  if ((g[0] & 0xff00) === 0xff00) return 'multicast';
  // Global unicast is 2000::/3; the rest (100::/64 discard, unallocated space) is not public.
  if ((g[0] & 0xe000) !== 0x2000) return 'reserved';
  return 'public';
}

/** The class of an IP address in text form (IPv4 dotted decimal or IPv6, brackets allowed); null when it is not one. */
export function classifyAddress(ip: string): AddressClass | null {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const v4 = parseIPv4(bare);
  if (v4 !== null) return classifyIPv4(v4);
  const v6 = parseIPv6(bare);
  return v6 === null ? null : classifyIPv6(v6);
}

/**
 * What a URL's host is before any DNS: an IP address (with its class), a
 * name that is loopback by definition ("localhost", "*.localhost", RFC
 * 6761), or a name to resolve. `url` is already parsed by WHATWG URL, which
 * turns numeric forms such as http://2130706433/, http://0x7f.1/ and
 * http://017700000001/ into 127.0.0.1.
 */
export function classifyHost(
  hostname: string,
): { ip: string; cls: AddressClass } | { name: string; cls: AddressClass | null } {
  const cls = classifyAddress(hostname);
  if (cls !== null) return { ip: hostname.replace(/^\[|\]$/g, ''), cls };
  const name = hostname.toLowerCase().replace(/\.$/, '');
  return { name, cls: name === 'localhost' || name.endsWith('.localhost') ? 'loopback' : null };
}
