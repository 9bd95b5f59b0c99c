/** Small schemas shared by several records. */
import { z } from 'zod';

export const IdSchema = z.string().regex(/^[0-9a-f]{32}$/, 'an ID is 32 lowercase hex characters');
export const DigestSchema = z.string().regex(/^sha256:[0-9a-f]{64}$/, 'a digest is sha256:<64 hex>');
export const TimestampSchema = z.string().datetime({ offset: true });
export const FormatSchema = z.enum(['table', 'json']);

/** The hex part of a `sha256:` digest. */
export function digestHex(digest: string): string {
  return digest.slice('sha256:'.length);
}
