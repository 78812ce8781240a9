/**
 * Every SEAL object the engine creates goes through a tracker: it records the object's bytes
 * (measured from its shape, see bytesOf*), the live total and its peak, and deletes objects
 * (node-seal 7 frees nothing by itself). Tests assert `liveCount` returns to its baseline.
 */
export interface Deletable {
  delete(): void;
}

export class SealTracker {
  private readonly live = new Map<Deletable, number>();
  private liveBytesNow = 0;
  private peak = 0;

  /** Registers `obj` with its size and returns it. */
  add<T extends Deletable>(obj: T, bytes = 0): T {
    this.live.set(obj, bytes);
    this.liveBytesNow += bytes;
    this.peak = Math.max(this.peak, this.liveBytesNow);
    return obj;
  }

  /** Records a new size after an in-place operation (relinearize, rescale...). */
  resize(obj: Deletable, bytes: number): void {
    const before = this.live.get(obj);
    if (before === undefined) return;
    this.live.set(obj, bytes);
    this.liveBytesNow += bytes - before;
    this.peak = Math.max(this.peak, this.liveBytesNow);
  }

  delete(obj: Deletable | null | undefined): void {
    if (!obj) return;
    const bytes = this.live.get(obj);
    if (bytes !== undefined) {
      this.live.delete(obj);
      this.liveBytesNow -= bytes;
    }
    obj.delete();
  }

  deleteAll(): void {
    for (const obj of [...this.live.keys()].reverse()) this.delete(obj);
  }

  get liveCount(): number {
    return this.live.size;
  }

  get liveBytes(): number {
    return this.liveBytesNow;
  }

  get peakBytes(): number {
    return this.peak;
  }

  /** Starts a new peak measurement from the current live bytes. */
  resetPeak(): void {
    this.peak = this.liveBytesNow;
  }
}

const BYTES_PER_COEFF = 8;

/** A ciphertext's polynomials x RNS primes x N coefficients x 8 bytes. */
export const bytesOfCiphertext = (ct: {
  size(): number;
  coeffModulusSize(): number;
  polyModulusDegree(): number;
}): number => ct.size() * ct.coeffModulusSize() * ct.polyModulusDegree() * BYTES_PER_COEFF;

/** A CKKS plaintext (NTT form): N x primes coefficients. */
export const bytesOfPlaintext = (pt: { coeffCount(): number }): number =>
  pt.coeffCount() * BYTES_PER_COEFF;

/**
 * Key-switching keys (relinearization, one Galois key per step): each is dataPrimes
 * ciphertexts of 2 polynomials over all dataPrimes + 1 primes.
 */
export const bytesOfSwitchingKeys = (
  keys: number,
  ringDegree: number,
  dataPrimes: number,
): number => keys * dataPrimes * 2 * (dataPrimes + 1) * ringDegree * BYTES_PER_COEFF;
