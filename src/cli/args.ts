import { HepexError } from '../core/model/errors';

/**
 * Minimal `--flag value` / `--switch` parser. Unknown flags are errors (a typo should not be
 * silently ignored). `spec` maps flag names to 'string' or 'boolean'.
 */
export type FlagSpec = Record<string, 'string' | 'boolean'>;
export type ParsedFlags = Record<string, string | boolean | undefined>;

export function parseFlags(argv: readonly string[], spec: FlagSpec): ParsedFlags {
  const out: ParsedFlags = {};
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (!token.startsWith('--')) {
      throw new HepexError(
        'invalid-argument',
        `Unexpected argument "${token}"; options start with --.`,
      );
    }
    const [name, inline] = token.slice(2).split('=', 2);
    const kind = spec[name];
    if (!kind) {
      const known = Object.keys(spec)
        .map((k) => `--${k}`)
        .join(', ');
      throw new HepexError(
        'invalid-argument',
        `Unknown option --${name}. Known options: ${known}.`,
      );
    }
    if (kind === 'boolean') {
      out[name] = true;
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) {
      throw new HepexError('invalid-argument', `Option --${name} needs a value.`);
    }
    out[name] = value;
  }
  return out;
}

export function requireString(flags: ParsedFlags, name: string): string {
  const v = flags[name];
  if (typeof v !== 'string')
    throw new HepexError('invalid-argument', `Option --${name} is required.`);
  return v;
}

export function optionalNumber(flags: ParsedFlags, name: string, fallback: number): number;
export function optionalNumber(flags: ParsedFlags, name: string): number | undefined;
export function optionalNumber(
  flags: ParsedFlags,
  name: string,
  fallback?: number,
): number | undefined {
  const v = flags[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (typeof v !== 'string' || v.trim() === '' || !Number.isFinite(n)) {
    throw new HepexError(
      'invalid-argument',
      `Option --${name} must be a number, got "${String(v)}".`,
    );
  }
  return n;
}

/** A whole number from `min` to `max` (counts, depths, seeds): 1.5 or 1e400 is refused in words. */
export function optionalInteger(
  flags: ParsedFlags,
  name: string,
  range: { readonly min: number; readonly max: number },
  fallback: number,
): number {
  const n = optionalNumber(flags, name, fallback);
  if (!Number.isInteger(n) || n < range.min || n > range.max) {
    throw new HepexError(
      'invalid-argument',
      `Option --${name} must be a whole number from ${range.min} to ${range.max}, got ${String(flags[name])}.`,
    );
  }
  return n;
}

export function optionalChoice<T extends string>(
  flags: ParsedFlags,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const v = flags[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !(choices as readonly string[]).includes(v)) {
    throw new HepexError(
      'invalid-argument',
      `Option --${name} must be one of ${choices.join(', ')}, got "${String(v)}".`,
    );
  }
  return v as T;
}
