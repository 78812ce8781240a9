/**
 * Canonical JSON and a stable hash of it: the identity of a sweep job. Two configurations that
 * mean the same (keys in any order) give the same text and so the same id, on any machine.
 */

/** JSON with object keys sorted at every depth; undefined members dropped (as JSON.stringify does). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const MASK64 = (1n << 64n) - 1n;

/**
 * FNV-1a, 64 bits, over the UTF-16 code units of `text` (two bytes each, low first), as 16 hex
 * digits. Not cryptographic: an id for at most a few thousand jobs, where 64 bits make a
 * collision vanishingly unlikely (~n^2 / 2^65).
 */
export function fnv1a64(text: string): string {
  let hash = FNV64_OFFSET;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    hash = ((hash ^ BigInt(unit & 0xff)) * FNV64_PRIME) & MASK64;
    hash = ((hash ^ BigInt(unit >>> 8)) * FNV64_PRIME) & MASK64;
  }
  return hash.toString(16).padStart(16, '0');
}
