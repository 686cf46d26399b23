/** Shared helpers of the framer tests. */
import { FramingError, type StreamFramer } from '@algd/sdk';

export const bytes = (text: string): Buffer => Buffer.from(text, 'latin1');
export const texts = (messages: Buffer[]): string[] => messages.map((m) => m.toString('latin1'));

/** Pushes `chunks` in order and returns every message produced. */
export function pushAll(framer: StreamFramer, chunks: readonly Uint8Array[]): Buffer[] {
  return chunks.flatMap((c) => framer.push(c));
}

/** `data` cut at the given offsets (sorted, duplicates give empty chunks). */
export function cut(data: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const points = [...offsets].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let prev = 0;
  for (const p of points) {
    chunks.push(data.subarray(prev, p));
    prev = p;
  }
  chunks.push(data.subarray(prev));
  return chunks;
}

/** The violation `fn` throws, or undefined when it does not throw. */
export function violation(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof FramingError) return err.violation;
    throw err;
  }
  return undefined;
}
