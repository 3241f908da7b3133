/**
 * SSRF guard for outbound deliveries: which IP addresses a webhook may reach.
 *
 * The check runs on the addresses a connection actually uses (see
 * `createGuardedLookup`), not on the URL a customer typed, so a name that
 * resolves to a private address, or is re-bound to one after validation (DNS
 * rebinding), is refused at connect time. Design rule 7; after svix's
 * `NonLocalDnsResolver`.
 *
 * Addresses are parsed here rather than matched as strings, so every textual
 * form of one address gets the same answer: `::ffff:127.0.0.1`,
 * `::ffff:7f00:1`, `0:0:0:0:0:ffff:7f00:0001`, `0x7f.1`, `2130706433`, ...
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';

export type ForbiddenReason =
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'cgnat'
  | 'link-local'
  | 'site-local'
  | 'unique-local'
  | 'multicast'
  | 'broadcast'
  | 'cloud-metadata'
  | 'documentation'
  | 'benchmarking'
  | 'reserved'
  | 'invalid';

const DESCRIPTION: Record<ForbiddenReason, string> = {
  unspecified: 'an unspecified address',
  loopback: 'a loopback address',
  private: 'a private address',
  cgnat: 'a cgnat address',
  'link-local': 'a link-local address',
  'site-local': 'a site-local address',
  'unique-local': 'a unique-local address',
  multicast: 'a multicast address',
  broadcast: 'a broadcast address',
  'cloud-metadata': 'a cloud-metadata address',
  documentation: 'a documentation address',
  benchmarking: 'a benchmarking address',
  reserved: 'a reserved address',
  invalid: 'not a valid IP address',
};

/** Thrown (through the lookup callback) when a destination may not be reached. */
export class DestinationRefusedError extends Error {
  readonly code = 'ERR_DESTINATION_REFUSED';
  constructor(
    readonly address: string,
    readonly reason: ForbiddenReason,
  ) {
    super(`destination refused: ${address} is ${DESCRIPTION[reason]}`);
    this.name = 'DestinationRefusedError';
  }
}

/**
 * `null` when `ip` is a public unicast address a webhook may reach, else the
 * reason it may not. Accepts IPv4 (including the legacy forms the WHATWG URL
 * parser and inet_aton accept: `0x7f.1`, `0177.0.0.1`, `2130706433`) and IPv6
 * (compressed or not, with an embedded dotted quad, in brackets, with a zone
 * id). Anything that is not an IP address is refused as `invalid` (fail closed).
 */
export function isForbiddenAddress(ip: string): ForbiddenReason | null {
  const v4 = parseIPv4(ip);
  if (v4 !== null) return classifyV4(v4);
  const v6 = parseIPv6(ip);
  if (v6 !== null) return classifyV6(v6);
  return 'invalid';
}

/** Throws `DestinationRefusedError` when `ip` is forbidden. */
export function assertAllowedAddress(ip: string): void {
  const reason = isForbiddenAddress(ip);
  if (reason !== null) throw new DestinationRefusedError(ip, reason);
}

export interface GuardedLookupOptions {
  /** Let deliveries reach private, loopback, link-local and metadata addresses. */
  allowPrivate: boolean;
}

/**
 * A `lookup` for `net.connect` / `tls.connect` (and so undici's
 * `Agent({ connect: { lookup } })`): resolves every address with
 * `dns.lookup(host, { all: true })` and fails with `DestinationRefusedError`
 * if ANY of them is forbidden. Checking all of them, not just the one Node
 * picks, matters because Happy Eyeballs (`autoSelectFamily`) may try any.
 *
 * Node does not call `lookup` for IP-literal hosts: callers must check those
 * themselves with `isForbiddenAddress` before connecting.
 */
export function createGuardedLookup({ allowPrivate }: GuardedLookupOptions): LookupFunction {
  return (hostname, options, callback) => {
    // Keep the caller's family/hints/order; always ask for every address.
    const dnsOptions: LookupAllOptions = { ...options, all: true };
    dnsLookup(hostname, dnsOptions, (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => {
      if (err) return callback(err, '');
      if (!allowPrivate) {
        for (const { address } of addresses) {
          const reason = isForbiddenAddress(address);
          if (reason !== null) return callback(new DestinationRefusedError(address, reason), '');
        }
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (first === undefined) {
        const empty: NodeJS.ErrnoException = new Error(`getaddrinfo ENOTFOUND ${hostname}`);
        empty.code = 'ENOTFOUND';
        return callback(empty, '');
      }
      callback(null, first.address, first.family);
    });
  };
}

// ---------------------------------------------------------------------------
// Classification. First matching rule wins, so specific entries come first.

type V4Rule = readonly [network: number, prefix: number, reason: ForbiddenReason];

const V4_RULES: readonly V4Rule[] = [
  v4Rule('169.254.169.254/32', 'cloud-metadata'), // AWS, GCP, Azure, OCI, DigitalOcean...
  v4Rule('169.254.170.2/32', 'cloud-metadata'), // AWS ECS task metadata
  v4Rule('100.100.100.200/32', 'cloud-metadata'), // Alibaba Cloud
  v4Rule('168.63.129.16/32', 'cloud-metadata'), // Azure WireServer: a public address, reachable from every Azure VM
  v4Rule('0.0.0.0/8', 'unspecified'), // "this network"; Linux connects 0.0.0.0 to localhost
  v4Rule('10.0.0.0/8', 'private'),
  v4Rule('100.64.0.0/10', 'cgnat'), // RFC 6598 shared address space
  v4Rule('127.0.0.0/8', 'loopback'),
  v4Rule('169.254.0.0/16', 'link-local'),
  v4Rule('172.16.0.0/12', 'private'),
  v4Rule('192.0.0.0/24', 'reserved'), // IETF protocol assignments
  v4Rule('192.0.2.0/24', 'documentation'),
  v4Rule('192.88.99.0/24', 'reserved'), // deprecated 6to4 relay anycast
  v4Rule('192.168.0.0/16', 'private'),
  v4Rule('198.18.0.0/15', 'benchmarking'),
  v4Rule('198.51.100.0/24', 'documentation'),
  v4Rule('203.0.113.0/24', 'documentation'),
  v4Rule('224.0.0.0/4', 'multicast'),
  v4Rule('255.255.255.255/32', 'broadcast'),
  v4Rule('240.0.0.0/4', 'reserved'),
];

function classifyV4(addr: number): ForbiddenReason | null {
  for (const [network, prefix, reason] of V4_RULES) {
    if (prefix === 0 || (addr ^ network) >>> (32 - prefix) === 0) return reason;
  }
  return null;
}

/** What to do with an IPv6 prefix: a fixed reason, or look at the IPv4 address it embeds. */
type V6Verdict =
  | { allow: true }
  | { reason: ForbiddenReason }
  // `shift` = how far to shift right to get the embedded IPv4 into the low 32 bits;
  // `otherwise` = the verdict when that IPv4 address is itself public.
  | { embedsV4: { shift: bigint; otherwise: ForbiddenReason | null } };

type V6Rule = readonly [network: bigint, prefix: number, verdict: V6Verdict];

const V6_RULES: readonly V6Rule[] = [
  v6Rule('::/128', { reason: 'unspecified' }),
  v6Rule('::1/128', { reason: 'loopback' }),
  // IPv4-mapped (::ffff:a.b.c.d): a dual-stack socket really connects to a.b.c.d.
  v6Rule('::ffff:0:0/96', { embedsV4: { shift: 0n, otherwise: null } }),
  // IPv4-translated (SIIT, RFC 2765).
  v6Rule('::ffff:0:0:0/96', { embedsV4: { shift: 0n, otherwise: 'reserved' } }),
  // IPv4-compatible (deprecated, RFC 4291): never routed, but name the embedded kind.
  v6Rule('::/96', { embedsV4: { shift: 0n, otherwise: 'reserved' } }),
  // NAT64 well-known prefix: with DNS64 a public v4-only host legitimately resolves here.
  v6Rule('64:ff9b::/96', { embedsV4: { shift: 0n, otherwise: null } }),
  v6Rule('64:ff9b:1::/48', { reason: 'reserved' }), // local-use NAT64 (RFC 8215)
  v6Rule('100::/64', { reason: 'reserved' }), // discard-only
  v6Rule('2001:db8::/32', { reason: 'documentation' }),
  v6Rule('2001::/23', { reason: 'reserved' }), // IETF protocol assignments, incl. Teredo 2001::/32
  // 6to4: 2002:aabb:ccdd::/48 routes to a.b.c.d's network.
  v6Rule('2002::/16', { embedsV4: { shift: 80n, otherwise: null } }),
  v6Rule('3fff::/20', { reason: 'documentation' }), // RFC 9637
  v6Rule('5f00::/16', { reason: 'reserved' }), // SRv6 SIDs
  v6Rule('fd00:ec2::254/128', { reason: 'cloud-metadata' }), // AWS IMDS over IPv6
  v6Rule('fd20:ce::254/128', { reason: 'cloud-metadata' }), // GCP metadata over IPv6
  v6Rule('fc00::/7', { reason: 'unique-local' }),
  v6Rule('fe80::/10', { reason: 'link-local' }),
  v6Rule('fec0::/10', { reason: 'site-local' }), // deprecated, still routed privately
  v6Rule('ff00::/8', { reason: 'multicast' }),
  // Only 2000::/3 is allocated as global unicast; everything else is reserved.
  v6Rule('2000::/3', { allow: true }),
];

function classifyV6(addr: bigint): ForbiddenReason | null {
  for (const [network, prefix, verdict] of V6_RULES) {
    if (!inPrefix128(addr, network, prefix)) continue;
    if ('allow' in verdict) return null;
    if ('reason' in verdict) return verdict.reason;
    const embedded = Number((addr >> verdict.embedsV4.shift) & 0xffffffffn);
    return classifyV4(embedded) ?? verdict.embedsV4.otherwise;
  }
  return 'reserved';
}

function inPrefix128(addr: bigint, network: bigint, prefix: number): boolean {
  const shift = BigInt(128 - prefix);
  return addr >> shift === network >> shift;
}

function v4Rule(cidr: string, reason: ForbiddenReason): V4Rule {
  const [ip, bits] = cidr.split('/');
  const network = parseIPv4(ip ?? '');
  if (network === null) throw new Error(`bad IPv4 rule ${cidr}`);
  return [network, Number(bits), reason];
}

function v6Rule(cidr: string, verdict: V6Verdict): V6Rule {
  const [ip, bits] = cidr.split('/');
  const network = parseIPv6(ip ?? '');
  if (network === null) throw new Error(`bad IPv6 rule ${cidr}`);
  return [network, Number(bits), verdict];
}

// ---------------------------------------------------------------------------
// Parsing.

/**
 * IPv4 as an unsigned 32-bit number, or null. Follows the WHATWG URL host
 * parser (and inet_aton): 1 to 4 parts, each decimal, octal (leading 0) or hex
 * (0x); the last part fills the remaining bytes; one trailing dot allowed. The
 * URL parser already canonicalises hosts this way, and `dns.lookup` returns
 * canonical text, but a direct caller may pass any form.
 */
export function parseIPv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length > 1 && parts[parts.length - 1] === '') parts.pop();
  if (parts.length === 0 || parts.length > 4) return null;
  const numbers: number[] = [];
  for (const part of parts) {
    const n = parseIPv4Number(part);
    if (n === null) return null;
    numbers.push(n);
  }
  const last = numbers.pop()!;
  if (numbers.some((n) => n > 255)) return null;
  if (last >= 256 ** (5 - parts.length)) return null;
  let value = last;
  numbers.forEach((n, i) => {
    value += n * 256 ** (3 - i);
  });
  return value;
}

function parseIPv4Number(part: string): number | null {
  let digits = part;
  let radix = 10;
  if (/^0x/i.test(digits)) {
    digits = digits.slice(2);
    radix = 16;
    if (digits === '') return 0; // "0x" alone is 0 in the URL standard
  } else if (digits.length > 1 && digits.startsWith('0')) {
    digits = digits.slice(1);
    radix = 8;
  }
  const valid = radix === 16 ? /^[0-9a-f]+$/i : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
  if (!valid.test(digits)) return null;
  const n = parseInt(digits, radix);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * IPv6 as a 128-bit bigint, or null. Accepts `::` compression, 1-4 hex digits
 * per group, an embedded dotted-decimal IPv4 tail, surrounding brackets and a
 * `%zone` suffix (the zone does not change which address it is).
 */
export function parseIPv6(text: string): bigint | null {
  let s = text;
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone !== -1) s = s.slice(0, zone);
  if (!s.includes(':')) return null;

  const halves = s.split('::');
  if (halves.length > 2) return null;
  const head = parseGroups(halves[0] ?? '', halves.length === 1);
  const tail = halves.length === 2 ? parseGroups(halves[1] ?? '', true) : [];
  if (head === null || tail === null) return null;

  let groups: number[];
  if (halves.length === 2) {
    const missing = 8 - head.length - tail.length;
    if (missing < 1) return null; // "::" stands for at least one zero group
    groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return null;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(g), 0n);
}

/** Colon-separated hex groups; a dotted IPv4 is allowed only as the last one. */
function parseGroups(text: string, mayEndWithV4: boolean): number[] | null {
  if (text === '') return [];
  const pieces = text.split(':');
  const groups: number[] = [];
  for (const [i, piece] of pieces.entries()) {
    if (piece.includes('.')) {
      // Embedded IPv4 must be strict dotted decimal, as in RFC 4291 and the URL standard.
      if (!mayEndWithV4 || i !== pieces.length - 1) return null;
      const v4 = parseDottedQuad(piece);
      if (v4 === null) return null;
      groups.push(v4 >>> 16, v4 & 0xffff);
    } else {
      if (!/^[0-9a-f]{1,4}$/i.test(piece)) return null;
      groups.push(parseInt(piece, 16));
    }
  }
  return groups;
}

function parseDottedQuad(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!/^(?:0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}
