import { describe, expect, it } from 'vitest';
import { hepex } from '../fixtures/cli';

describe('hepex cost', () => {
  it('prints one JSON object with the total weight tiles', async () => {
    const r = await hepex('cost', '--layers', '784,256,64,256,784', '--tile', '4x8', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.total.weightTiles).toBe(13_568);
    expect(report.layers).toHaveLength(4);
    expect(report.tile).toMatchObject({ t1: 4, t2: 8, batch: 512, ringDegree: 32768 });
  });

  it('honours --batch and prints a readable table without --json', async () => {
    const r = await hepex(
      'cost',
      '--layers',
      '784,128,32,128,784',
      '--tile',
      '4x4',
      '--batch',
      '512',
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ring degree 16384/);
    expect(r.stdout).toMatch(/^total\s+13056\b/m);
  });

  it.each([
    [['--layers', '784,0,10'], /Layer size 2 is 0/],
    [['--layers', '784,-5'], /Layer size 2 is -5/],
    [['--layers', '784,10', '--tile', '3x8'], /powers of two/],
    [['--layers', '784,10', '--tile', '4x8', '--batch', '64'], /needs 2048 slots/],
    [['--layers', '784,10', '--tlie', '4x8'], /Unknown option --tlie/],
    [['--tile', '4x8'], /--layers is required/],
  ])('fails plainly on %j', async (args, message) => {
    const r = await hepex('cost', ...args);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('reports the error as JSON with --json', async () => {
    const r = await hepex('cost', '--layers', '784,0', '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).error.code).toBe('invalid-layer-size');
  });

  it('rejects an unknown command with usage', async () => {
    const r = await hepex('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command "frobnicate"/);
  });
});

describe('hepex advise', () => {
  it('ranks fitting tile shapes first, best predicted time first', async () => {
    const r = await hepex('advise', '--layers', '784,128,10', '--json');
    expect(r.code).toBe(0);
    const { shapes } = JSON.parse(r.stdout);
    expect(shapes.length).toBeGreaterThan(20);
    const fitting = shapes.filter((s: { fits: boolean }) => s.fits);
    expect(shapes.slice(0, fitting.length).every((s: { fits: boolean }) => s.fits)).toBe(true);
    for (let i = 1; i < fitting.length; i++)
      expect(fitting[i].predictedMs).toBeGreaterThanOrEqual(fitting[i - 1].predictedMs);
  });
});
