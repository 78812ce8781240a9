import { expect } from 'vitest';
import { HepexError } from '../../src/core/model/errors';
import { modelFromFiles } from '../../src/core/io/layersModelFile';

/** Expects modelFromFiles to refuse the files with an `invalid-model-file` error matching `pattern`. */
export async function expectInvalidModelFile(
  json: string,
  weights: Uint8Array,
  pattern: RegExp,
): Promise<void> {
  const error = await modelFromFiles(json, weights).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(HepexError);
  expect((error as HepexError).code).toBe('invalid-model-file');
  expect((error as HepexError).message).toMatch(pattern);
}
