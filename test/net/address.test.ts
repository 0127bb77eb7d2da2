/** Address classification for outgoing requests (src/net/address.ts): pure, no network. */
import { describe, expect, it } from 'vitest';
import { classifyAddress, classifyHost, parseIPv4, parseIPv6 } from '../../src/net/address.ts';

describe('classifyAddress', () => {
  const cases: [string, string][] = [
    // IPv4
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['100.128.0.1', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['172.15.255.255', 'public'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['192.168.1.1', 'private'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.255', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['8.8.8.8', 'public'],
    ['93.184.216.34', 'public'],
    ['1.1.1.1', 'public'],
    // IPv6
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0:0:0:0:0:ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:8.8.8.8', 'public'],
    ['::127.0.0.1', 'reserved'],
    ['::8.8.8.8', 'reserved'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['64:ff9b::8.8.8.8', 'public'],
    ['64:ff9b:1::1', 'reserved'],
    ['2002:7f00:1::1', 'loopback'],
    ['2002:0808:0808::1', 'public'],
    ['2001::1', 'reserved'],
    ['2001:db8::1', 'reserved'],
    ['fc00::1', 'unique-local'],
    ['fd12:3456:789a::1', 'unique-local'],
    ['fe80::1', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'private'],
    ['ff02::1', 'multicast'],
    ['100::1', 'reserved'],
    ['4000::1', 'reserved'],
    ['2606:4700:4700::1111', 'public'],
    ['2a00:1450:4001:81c::200e', 'public'],
    ['[::1]', 'loopback'],
    ['[2606:4700:4700::1111]', 'public'],
  ];
  for (const [ip, cls] of cases) {
    it(`${ip} is ${cls}`, () => expect(classifyAddress(ip)).toBe(cls));
  }

  it('is null for what is not an address', () => {
    for (const s of [
      'localhost',
      'example.com',
      '1.2.3',
      '1.2.3.4.5',
      '256.1.1.1',
      '01.2.3.4',
      '0x7f.0.0.1',
      '1::2::3',
      '1:2:3:4:5:6:7:8:9',
      'fe80::1%eth0',
      '::ffff:1.2.3.256',
      '',
      ':',
      'g::1',
    ]) {
      expect(classifyAddress(s), s).toBeNull();
    }
  });
});

describe('parsers', () => {
  it('parse IPv4 strictly and IPv6 with :: and a trailing IPv4', () => {
    expect(parseIPv4('192.168.0.1')).toBe(0xc0a80001);
    expect(parseIPv4('2130706433')).toBeNull();
    expect(parseIPv6('1::')).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect(parseIPv6('::ffff:1.2.3.4')).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
    expect(parseIPv6('1:2:3:4:5:6:7:8')).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(parseIPv6('1:2:3:4:5:6:7:8::')).toBeNull();
    expect(parseIPv6('1:2:3:4:5:6:7')).toBeNull();
  });
});

describe('classifyHost (hosts as WHATWG URL parsing gives them)', () => {
  const host = (url: string) => classifyHost(new URL(url).hostname);

  it('numeric forms of 127.0.0.1 are the loopback address', () => {
    for (const url of [
      'http://2130706433/',
      'http://0x7f000001/',
      'http://017700000001/',
      'http://127.1/',
      'http://0x7f.1/',
      'http://127.0.0.1./',
      'http://[::ffff:127.0.0.1]/',
      'http://[0:0:0:0:0:ffff:7f00:1]/',
    ]) {
      expect(host(url), url).toMatchObject({ cls: 'loopback' });
    }
    expect(host('http://0/')).toMatchObject({ ip: '0.0.0.0', cls: 'unspecified' });
    expect(host('http://[::]/')).toMatchObject({ ip: '::', cls: 'unspecified' });
  });

  it('localhost names are loopback without DNS; other names are left to DNS', () => {
    for (const url of ['http://localhost/', 'http://LOCALHOST./', 'http://api.localhost:8080/'])
      expect(host(url), url).toMatchObject({ cls: 'loopback' });
    expect(host('https://hooks.example.com/x')).toEqual({ name: 'hooks.example.com', cls: null });
    expect(host('https://localhost.example.com/')).toEqual({ name: 'localhost.example.com', cls: null });
  });

  it('a public IP literal is public', () => {
    expect(host('http://8.8.8.8:8080/')).toEqual({ ip: '8.8.8.8', cls: 'public' });
    expect(host('http://[2606:4700:4700::1111]/')).toEqual({ ip: '2606:4700:4700::1111', cls: 'public' });
  });
});
