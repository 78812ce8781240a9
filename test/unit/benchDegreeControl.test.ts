import { describe, expect, it } from 'vitest';
import { degreePreservingShuffle, maskDegrees } from '../../bench/degreeControl';
import { createRng } from '../../src/core/model/random';

describe('the degree-matched control mask of bench prune', () => {
  // 40 x 24 with about 20% non-zeros in a block pattern: rows 0-7 x cols 0-7 full, plus noise.
  const rows = 40;
  const cols = 24;
  const data = new Uint8Array(rows * cols);
  const rng = createRng(3);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++)
      data[r * cols + c] = (r < 8 && c < 8) || rng.next() < 0.12 ? 1 : 0;
  }
  const mask = { rows, cols, data };

  it('keeps every row and column degree and leaves the input alone', () => {
    const before = data.slice();
    const shuffled = degreePreservingShuffle(mask, createRng(1));
    expect(mask.data).toEqual(before);
    const a = maskDegrees(mask);
    const b = maskDegrees(shuffled);
    expect(b.rows).toEqual(a.rows);
    expect(b.cols).toEqual(a.cols);
  });

  it('destroys the block: most non-zeros move', () => {
    const shuffled = degreePreservingShuffle(mask, createRng(1));
    let kept = 0;
    let nnz = 0;
    for (let k = 0; k < data.length; k++) {
      nnz += data[k];
      kept += data[k] & shuffled.data[k];
    }
    expect(kept / nnz).toBeLessThan(0.6);
    let block = 0;
    for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) block += shuffled.data[r * cols + c];
    expect(block).toBeLessThan(48);
  });

  it('is reproducible from the seed', () => {
    expect(degreePreservingShuffle(mask, createRng(9)).data).toEqual(
      degreePreservingShuffle(mask, createRng(9)).data,
    );
  });
});
