import { HepexError, isHepexError } from '../../core/model/errors';

/**
 * SEAL throws C++ exceptions as `WebAssembly.Exception` objects whose `message` is
 * [type, what] (e.g. ['std::logic_error', 'result ciphertext is transparent']). They are not
 * Errors, so comlink cannot clone them ("Unserializable return value"): every engine entry
 * point converts them with `toError`.
 */
// TypeScript 5.9's lib does not declare WebAssembly.Exception (exception handling) yet.
const WasmException = (
  WebAssembly as unknown as { Exception?: abstract new (...args: never[]) => object }
).Exception;

/** True when this runtime has WebAssembly exception handling (node-seal 7 needs it). */
export const hasWasmExceptions = (): boolean => typeof WasmException === 'function';

export function isSealException(value: unknown): boolean {
  return WasmException !== undefined && value instanceof WasmException;
}

/** The C++ exception's type and text, or undefined for anything else. */
export function sealExceptionMessage(value: unknown): { type: string; what: string } | undefined {
  if (!isSealException(value)) return undefined;
  const message = (value as { message?: unknown }).message;
  if (Array.isArray(message) && message.length >= 2)
    return { type: String(message[0]), what: String(message[1]) };
  return { type: 'unknown', what: String(message ?? 'SEAL failed') };
}

/**
 * Any thrown value as an Error comlink can clone: HepexErrors and Errors pass through, SEAL
 * exceptions become `he-runtime` HepexErrors (with `context` saying what was being done).
 */
export function toError(value: unknown, context?: string): Error {
  if (isHepexError(value) || value instanceof Error) return value;
  const seal = sealExceptionMessage(value);
  if (seal) {
    const what = seal.type === 'std::bad_alloc' ? 'out of WebAssembly memory' : seal.what;
    return new HepexError(
      seal.type === 'std::bad_alloc' ? 'out-of-memory' : 'he-runtime',
      context ? `${context}: SEAL reported "${what}".` : `SEAL reported "${what}".`,
    );
  }
  return new Error(String(value));
}

/** Runs `fn` and rethrows whatever it throws through `toError`. */
export async function sealCall<T>(fn: () => T | Promise<T>, context?: string): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw toError(error, context);
  }
}
