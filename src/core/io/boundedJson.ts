/**
 * JSON from a file a person opened, parsed only after a linear scan has bounded its nesting.
 * JSON.parse itself copes with deep nesting, but everything after it recurses: String() of a
 * nested array (Array.prototype.toString), JSON.stringify in an error message, structuredClone,
 * postMessage. A value nested thousands of arrays deep then overflows the stack, so such a file
 * is refused here, before it is parsed at all. A model.json tf.io writes nests about 8 deep.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * The deepest nesting of [ and { in `text` (strings skipped), stopping as soon as it passes
 * `limit`: O(length), no recursion, no allocation.
 */
export function jsonDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let k = 0; k < text.length; k++) {
    const c = text.charCodeAt(k);
    if (inString) {
      if (c === 0x5c)
        k++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) return deepest;
      }
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return deepest;
}

/** A leading byte-order mark (an editor's UTF-8 BOM) is not part of the JSON. */
export const stripBom = (text: string): string =>
  text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;

/**
 * Parses untrusted JSON text. `fail` turns a problem, in words, into the caller's typed error
 * (e.g. invalid-model-file), so each reader keeps its own error code.
 */
export function parseBoundedJson(
  text: string,
  fail: (message: string) => Error,
  maxDepth = MAX_JSON_DEPTH,
): unknown {
  const body = stripBom(text);
  if (jsonDepth(body, maxDepth) > maxDepth)
    throw fail(`it nests arrays or objects more than ${maxDepth} levels deep.`);
  try {
    return JSON.parse(body);
  } catch (error) {
    throw fail(`it is not valid JSON (${(error as Error).message.slice(0, 200)}).`);
  }
}
