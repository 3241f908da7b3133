// Reads a JSON request body: 415 unless it is JSON, 413 past the limit, 400 when malformed.
import type { IncomingMessage } from 'node:http';
import { AppError } from '../../domain/errors.ts';

export const MAX_BODY_BYTES = 1024 * 1024;

export async function readJsonBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? '0');
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  const hasBody = declared > 0 || req.headers['transfer-encoding'] !== undefined;
  if (!hasBody) {
    if (type !== '' && type !== 'application/json' && !type.endsWith('+json')) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json', { contentType: type });
    }
    return undefined;
  }
  if (type !== 'application/json' && !type.endsWith('+json')) {
    req.resume();
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json', { contentType: type || null });
  }
  if (declared > limit) {
    req.resume();
    throw new AppError('PAYLOAD_TOO_LARGE', `Request body must be at most ${limit} bytes`, { limit });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) {
      req.resume();
      throw new AppError('PAYLOAD_TOO_LARGE', `Request body must be at most ${limit} bytes`, { limit });
    }
    chunks.push(chunk);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new AppError('INVALID_JSON', 'Request body is not valid JSON', { reason: (error as Error).message });
  }
}
