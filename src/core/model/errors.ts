/**
 * Errors a person can cause (a bad tile shape, a malformed file, impossible HE parameters).
 * They carry a stable `code` for programs and a plain-words `message` for people; callers
 * catch them, show the message and keep the previous state.
 */
export type HepexErrorCode =
  | 'invalid-argument'
  | 'invalid-tile-shape'
  | 'invalid-layer-size'
  | 'invalid-network'
  | 'needs-conversion'
  | 'invalid-mask'
  | 'invalid-model-file'
  | 'invalid-data-file'
  | 'he-parameters'
  | 'he-runtime'
  | 'out-of-memory'
  | 'timeout'
  | 'cancelled';

export class HepexError extends Error {
  override readonly name = 'HepexError';
  constructor(
    readonly code: HepexErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isHepexError(value: unknown): value is HepexError {
  return value instanceof HepexError;
}

/** Throws the error an aborted job reports, so every long job cancels the same way. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new HepexError('cancelled', 'The job was cancelled.');
}
