// One id per thing, the same in REST and GraphQL: a type prefix and a time-ordered body
// (48-bit millisecond time + 80 random bits, Crockford base32, like a ULID), so that sorting by
// _id is sorting by creation time and an id alone tells its type (and serves as a relay global id).
import { randomBytes } from 'node:crypto';

export const ID_PREFIXES = {
  Webhook: 'wh',
  Event: 'evt',
  Delivery: 'dlv',
  ApiKey: 'key',
  Replay: 'rpl',
  Message: 'msg',
} as const;
export type IdType = keyof typeof ID_PREFIXES;

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

function encodeTime(ms: number): string {
  let out = '';
  for (let i = 0; i < 10; i++) {
    out = ALPHABET[ms % 32] + out;
    ms = Math.floor(ms / 32);
  }
  return out;
}

function encodeRandom(): string {
  const bytes = randomBytes(16);
  let out = '';
  for (let i = 0; i < 16; i++) out += ALPHABET[bytes[i]! % 32];
  return out;
}

export function newId(type: IdType, now = Date.now()): string {
  return `${ID_PREFIXES[type]}_${encodeTime(now)}${encodeRandom()}`;
}

const BODY = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** The type an id names, or null when it is not one of ours. */
export function typeOfId(id: string): IdType | null {
  const underscore = id.indexOf('_');
  if (underscore < 0 || !BODY.test(id.slice(underscore + 1))) return null;
  const prefix = id.slice(0, underscore);
  for (const [type, p] of Object.entries(ID_PREFIXES)) if (p === prefix) return type as IdType;
  return null;
}

export function isIdOf(type: IdType, id: unknown): id is string {
  return typeof id === 'string' && typeOfId(id) === type;
}
