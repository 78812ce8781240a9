import type { HeModel } from '../../core/he/heModel';
import { HepexError } from '../../core/model/errors';
import { chunksOf } from '../../core/he/heModel';
import { createCkksContext, type CkksContext } from './ckksContext';
import { dataPrimeValues, planScales, type LayerScales } from './ckksScales';
import type { Seal } from './loadSeal';
import { SealTracker } from './sealTracker';
import type { CipherBatch } from './sessionTypes';

type ParmsId = InstanceType<Seal['ParmsIdType']>;

/**
 * What the client and the server side of one prepared model share: the SEAL module, the CKKS
 * context of the model's parameters, the parms id of every level, the exact scales per layer,
 * and one tracker that owns every SEAL object either side creates (deleteAll frees them all).
 */
export class SessionContext {
  readonly tracker = new SealTracker();
  readonly ctx: CkksContext;
  /** parms ids of every level: level k has depth + 1 - k data primes. */
  readonly parmsIds: ParmsId[] = [];
  /** Exact CKKS scales per layer (planScales). */
  readonly scales: LayerScales[];
  private deleted = false;

  constructor(
    readonly seal: Seal,
    readonly model: HeModel,
  ) {
    this.ctx = createCkksContext(seal, model.params);
    try {
      let data = this.ctx.context.firstContextData();
      for (let level = 0; level <= model.params.depth; level++) {
        this.parmsIds.push(data.parmsId());
        const next = level < model.params.depth ? data.nextContextData() : null;
        data.delete();
        if (next) data = next;
      }
      this.scales = planScales(model, this.ctx.scale, dataPrimeValues(this.ctx));
    } catch (error) {
      this.delete();
      throw error;
    }
  }

  get alive(): boolean {
    return !this.deleted;
  }

  assertAlive(): void {
    if (this.deleted) throw new HepexError('he-runtime', 'This HE session was closed.');
  }

  /** Deletes a batch's ciphertexts. */
  free(batch: { chunks: readonly (readonly (unknown | null)[])[] }): void {
    for (const blocks of batch.chunks)
      for (const ct of blocks) this.tracker.delete(ct as { delete(): void } | null);
  }

  checkBatchShape(batch: CipherBatch): void {
    const expected = chunksOf(this.model, batch.samples).length;
    if (batch.chunks.length !== expected) {
      throw new HepexError(
        'invalid-argument',
        `${batch.samples} samples need ${expected} chunks, got ${batch.chunks.length}.`,
      );
    }
  }

  delete(): void {
    if (this.deleted) return;
    this.deleted = true;
    this.tracker.deleteAll();
    for (const id of this.parmsIds) id.delete();
    this.parmsIds.length = 0;
    this.ctx?.delete();
  }
}
