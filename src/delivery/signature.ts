/**
 * Standard Webhooks signing (https://www.standardwebhooks.com/).
 *
 * Secrets look like `whsec_<base64>`; the HMAC key is the decoded bytes, not the
 * string. Receivers verify with the `standardwebhooks` or `svix` npm packages.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const SECRET_PREFIX = 'whsec_';

/** Key sizes the Standard Webhooks / svix libraries accept. */
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;

// Canonical, padded, standard-alphabet base64: what the receivers' decoders
// (@stablelib/base64 in `standardwebhooks`) accept. Node's own decoder is lenient
// (skips junk characters), so it cannot be the validator.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A new secret: `whsec_` + base64 of 32 random bytes. */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

/** `whsec_` + canonical base64 decoding to 24..64 bytes. */
export function isValidSecret(s: string): boolean {
  return decodeSecret(s) !== null;
}

/**
 * `v1,<base64 HMAC-SHA256(key, "msgId.timestamp.body")>`, the value of the
 * `webhook-signature` header. Throws on an invalid secret; the message never
 * contains the secret.
 */
export function sign(secret: string, msgId: string, timestampSeconds: number, body: string): string {
  const key = decodeSecret(secret);
  if (key === null) {
    throw new Error(
      `invalid webhook secret: expected ${SECRET_PREFIX} followed by base64 of ${MIN_KEY_BYTES} to ${MAX_KEY_BYTES} bytes`,
    );
  }
  if (!Number.isSafeInteger(timestampSeconds)) {
    throw new Error('invalid webhook timestamp: expected whole seconds');
  }
  const mac = createHmac('sha256', key).update(`${msgId}.${timestampSeconds}.${body}`, 'utf8').digest('base64');
  return `v1,${mac}`;
}

function decodeSecret(s: string): Buffer | null {
  if (!s.startsWith(SECRET_PREFIX)) return null;
  const encoded = s.slice(SECRET_PREFIX.length);
  if (encoded.length === 0 || !BASE64.test(encoded)) return null;
  const key = Buffer.from(encoded, 'base64');
  return key.length >= MIN_KEY_BYTES && key.length <= MAX_KEY_BYTES ? key : null;
}
