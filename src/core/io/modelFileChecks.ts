import { HepexError } from '../model/errors';

/**
 * What every reader of a model file shares: one error for a file that is not what it claims, the
 * checks it is made of, and the size limits applied before anything is allocated.
 */

/** Largest model.json accepted (characters) and largest weights.bin (bytes): 64 MiB / 1 GiB. */
export const MAX_MODEL_JSON_CHARS = 64 * 2 ** 20;
export const MAX_WEIGHT_BYTES = 2 ** 30;

export function invalid(message: string): HepexError {
  return new HepexError('invalid-model-file', `Model file: ${message}`);
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function checkKeys(
  value: Record<string, unknown>,
  allowed: readonly string[],
  what: string,
): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) throw invalid(`${what} has an unknown field "${key}".`);
  }
}

export function wholeNumber(v: unknown, what: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalid(`${what} must be a whole number from ${min} to ${max}, got ${shown(v)}.`);
  }
  return v;
}

/**
 * A value from an untrusted file as a short phrase for an error message: never recursing into
 * it (String() of a nested array recurses once per level) and never megabytes long.
 */
export function shown(v: unknown): string {
  if (typeof v === 'string') {
    const s = JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
    return s;
  }
  if (typeof v === 'number' || typeof v === 'boolean' || v === null) return String(v);
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) {
    const flat = v.length <= 8 && v.every((x) => typeof x === 'number' || x === null);
    return flat ? JSON.stringify(v) : `an array of ${v.length} items`;
  }
  return typeof v === 'object' ? 'an object' : typeof v;
}
