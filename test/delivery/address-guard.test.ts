import { lookup as dnsLookup } from 'node:dns';
import { describe, expect, it } from 'vitest';
import {
  DestinationRefusedError,
  createGuardedLookup,
  isForbiddenAddress,
  parseIPv4,
  parseIPv6,
} from '../../src/delivery/address-guard.ts';

const cases: Array<[string, string | null]> = [
  // IPv4 public
  ['8.8.8.8', null],
  ['1.1.1.1', null],
  ['93.184.216.34', null],
  ['100.63.255.255', null], // just below CGNAT
  ['100.128.0.0', null], // just above CGNAT
  ['172.15.255.255', null],
  ['172.32.0.0', null],
  ['192.169.0.1', null],
  ['198.17.255.255', null],
  ['198.20.0.0', null],
  ['223.255.255.255', null],
  ['169.253.255.255', null],
  ['11.0.0.1', null],
  // IPv4 forbidden
  ['0.0.0.0', 'unspecified'],
  ['0.1.2.3', 'unspecified'],
  ['10.0.0.5', 'private'],
  ['10.255.255.255', 'private'],
  ['100.64.0.1', 'cgnat'],
  ['100.127.255.255', 'cgnat'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['169.254.0.1', 'link-local'],
  ['169.254.169.254', 'cloud-metadata'],
  ['169.254.170.2', 'cloud-metadata'],
  ['100.100.100.200', 'cloud-metadata'],
  ['168.63.129.16', 'cloud-metadata'],
  ['172.16.0.1', 'private'],
  ['172.31.255.255', 'private'],
  ['192.0.0.8', 'reserved'],
  ['192.0.2.1', 'documentation'],
  ['192.168.1.1', 'private'],
  ['198.18.0.1', 'benchmarking'],
  ['198.19.255.255', 'benchmarking'],
  ['198.51.100.7', 'documentation'],
  ['203.0.113.9', 'documentation'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.250', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.254', 'reserved'],
  ['255.255.255.255', 'broadcast'],
  // IPv4 legacy spellings (inet_aton / WHATWG URL)
  ['0x7f.1', 'loopback'],
  ['0x7f000001', 'loopback'],
  ['2130706433', 'loopback'],
  ['017700000001', 'loopback'],
  ['0177.0.0.1', 'loopback'],
  ['127.1', 'loopback'],
  ['127.0.0.1.', 'loopback'],
  ['0xA9.0xFE.0xA9.0xFE', 'cloud-metadata'],
  ['2852039166', 'cloud-metadata'], // 169.254.169.254
  ['10.1', 'private'],
  ['134744072', null], // 8.8.8.8
  // IPv6 public
  ['2606:4700::1', null],
  ['2606:4700:4700::1111', null],
  ['2001:4860:4860::8888', null],
  ['2a00:1450:4001:81c::200e', null],
  ['[2606:4700::1]', null],
  ['2606:4700:0000:0000:0000:0000:0000:0001', null],
  ['2606:4700::0:1', null],
  ['::ffff:8.8.8.8', null], // mapped public v4
  ['::ffff:808:808', null],
  ['64:ff9b::8.8.8.8', null], // NAT64 of public v4
  ['64:ff9b::808:808', null],
  ['2002:808:808::1', null], // 6to4 of public v4
  // IPv6 forbidden
  ['::', 'unspecified'],
  ['0:0:0:0:0:0:0:0', 'unspecified'],
  ['::0', 'unspecified'],
  ['::1', 'loopback'],
  ['0:0:0:0:0:0:0:1', 'loopback'],
  ['0000:0000:0000:0000:0000:0000:0000:0001', 'loopback'],
  ['[::1]', 'loopback'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['FE80::ABCD', 'link-local'],
  ['febf:ffff::1', 'link-local'],
  ['fec0::1', 'site-local'],
  ['fc00::1', 'unique-local'],
  ['fd12:3456:789a::1', 'unique-local'],
  ['fd00:ec2::254', 'cloud-metadata'],
  ['fd00:ec2:0:0:0:0:0:254', 'cloud-metadata'],
  ['fd20:ce::254', 'cloud-metadata'],
  ['fd00:ec2::253', 'unique-local'],
  ['ff02::1', 'multicast'],
  ['ff05::1:3', 'multicast'],
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['0:0:0:0:0:ffff:7f00:0001', 'loopback'],
  ['::FFFF:7F00:1', 'loopback'],
  ['::ffff:10.0.0.1', 'private'],
  ['::ffff:a9fe:a9fe', 'cloud-metadata'],
  ['::ffff:0.0.0.0', 'unspecified'],
  ['::ffff:0:127.0.0.1', 'loopback'], // IPv4-translated
  ['::127.0.0.1', 'loopback'], // IPv4-compatible
  ['::7f00:1', 'loopback'],
  ['::10.0.0.1', 'private'],
  ['::8.8.8.8', 'reserved'], // IPv4-compatible is deprecated even for a public v4
  ['64:ff9b::127.0.0.1', 'loopback'],
  ['64:ff9b::a9fe:a9fe', 'cloud-metadata'],
  ['64:ff9b::192.168.0.1', 'private'],
  ['64:ff9b:1::1', 'reserved'],
  ['2002:7f00:1::', 'loopback'], // 6to4 of 127.0.0.1
  ['2002:a00:1::1', 'private'],
  ['2001:db8::1', 'documentation'],
  ['2001:0db8:85a3::8a2e:370:7334', 'documentation'],
  ['3fff::1', 'documentation'],
  ['2001::1', 'reserved'], // Teredo
  ['100::1', 'reserved'],
  ['4000::1', 'reserved'], // outside 2000::/3
  ['::2', 'unspecified'], // IPv4-compatible form of 0.0.0.2
  // not addresses
  ['localhost', 'invalid'],
  ['example.com', 'invalid'],
  ['', 'invalid'],
  ['256.0.0.1', 'invalid'],
  ['1.2.3.4.5', 'invalid'],
  ['08.0.0.1', 'invalid'],
  ['1::2::3', 'invalid'],
  ['12345::1', 'invalid'],
  ['1:2:3:4:5:6:7:8:9', 'invalid'],
  ['1:2:3:4:5:6:7::8', 'invalid'], // "::" must stand for at least one group
  ['::ffff:127.0.0.01', 'invalid'],
  ['::ffff:1.2.3', 'invalid'],
  ['1.2.3.4::', 'invalid'],
  [':::1', 'invalid'],
  ['gggg::1', 'invalid'],
];

describe('isForbiddenAddress', () => {
  it.each(cases)('%s -> %s', (ip, reason) => {
    expect(isForbiddenAddress(ip)).toBe(reason);
  });
});

describe('parsers', () => {
  it('parse IPv4 forms to the same number', () => {
    for (const form of ['127.0.0.1', '127.1', '0x7f.0.0.1', '0177.0.0.1', '2130706433', '0x7F000001']) {
      expect(parseIPv4(form)).toBe(0x7f000001);
    }
  });

  it('parse IPv6 forms to the same number', () => {
    const expected = parseIPv6('::ffff:127.0.0.1');
    expect(expected).toBe(0xffff7f000001n);
    for (const form of ['::ffff:7f00:1', '0:0:0:0:0:ffff:7f00:1', '0000::ffff:7f00:0001', '[::FFFF:127.0.0.1]', '::ffff:7f00:1%lo']) {
      expect(parseIPv6(form)).toBe(expected);
    }
  });
});

describe('createGuardedLookup', () => {
  function lookupAll(allowPrivate: boolean, host: string) {
    const lookup = createGuardedLookup({ allowPrivate });
    return new Promise<{ err: NodeJS.ErrnoException | null; addresses: unknown }>((resolve) => {
      lookup(host, { all: true }, (err, addresses) => resolve({ err, addresses }));
    });
  }

  it('refuses a name resolving to loopback, naming the address', async () => {
    const { err } = await lookupAll(false, 'localhost');
    expect(err).toBeInstanceOf(DestinationRefusedError);
    expect(err?.message).toMatch(/^destination refused: (127\.0\.0\.1|::1) is a loopback address$/);
  });

  it('refuses IP literals passed to it as well', async () => {
    const { err } = await lookupAll(false, '10.0.0.5');
    expect(err?.message).toBe('destination refused: 10.0.0.5 is a private address');
  });

  it('resolves normally when private destinations are allowed (all and single forms)', async () => {
    const { err, addresses } = await lookupAll(true, 'localhost');
    expect(err).toBeNull();
    const expected = await new Promise((resolve) => dnsLookup('localhost', { all: true }, (_e, a) => resolve(a)));
    expect(addresses).toEqual(expected);

    const lookup = createGuardedLookup({ allowPrivate: true });
    const single = await new Promise<[string, number | undefined]>((resolve, reject) =>
      lookup('127.0.0.1', {}, (e, address, family) => (e ? reject(e) : resolve([address as string, family]))),
    );
    expect(single).toEqual(['127.0.0.1', 4]);
  });

  it('passes DNS errors through', async () => {
    const { err } = await lookupAll(false, 'nonexistent.invalid');
    expect(err?.code).toMatch(/^(ENOTFOUND|EAI_AGAIN|EAI_FAIL)$/);
  });
});
