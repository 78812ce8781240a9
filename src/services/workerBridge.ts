import { proxy, releaseProxy, wrap, type Remote } from 'comlink';
import { HepexError, type HepexErrorCode } from '../core/model/errors';
import { installHepexErrorTransfer } from '../../workers/errorTransfer';

/**
 * The part every worker client shares (squoosh's worker bridge in spirit): the worker starts on
 * first use behind comlink, `stop` terminates it (the only way to stop a tight loop mid-flight;
 * the next call starts a fresh one), `dispose` terminates it for good. What differs between
 * clients is their scheduling (latest wins, one queue, cooperative cancel), which they keep.
 */
export interface WorkerBridgeOptions<Api> {
  /** The single place a Worker is constructed (tests pass their own). */
  readonly createWorker: () => Worker;
  /** How errors name the engine: "The HE engine" (was shut down). */
  readonly engine: string;
  readonly shutDownCode: HepexErrorCode;
  /** Runs on every fresh worker before any job (e.g. replaying data it must hold). */
  readonly onStart?: (remote: Remote<Api>) => void;
}

export class WorkerBridge<Api> {
  private worker: Worker | undefined;
  private remoteApi: Remote<Api> | undefined;
  private disposedFlag = false;

  constructor(private readonly options: WorkerBridgeOptions<Api>) {
    installHepexErrorTransfer();
  }

  get disposed(): boolean {
    return this.disposedFlag;
  }

  get started(): boolean {
    return this.remoteApi !== undefined;
  }

  /** The worker's API, starting the worker if needed. Throws once disposed. */
  remote(): Remote<Api> {
    if (this.disposedFlag) throw this.shutDown();
    if (!this.remoteApi) {
      this.worker = this.options.createWorker();
      this.remoteApi = wrap<Api>(this.worker);
      this.options.onStart?.(this.remoteApi);
    }
    return this.remoteApi;
  }

  /** Terminates the worker (jobs in it are lost); the next call starts a fresh one. */
  stop(): void {
    this.remoteApi?.[releaseProxy]();
    this.worker?.terminate();
    this.worker = undefined;
    this.remoteApi = undefined;
  }

  /** Terminates the worker for good: every later call fails with `shutDown()`. */
  dispose(): void {
    this.disposedFlag = true;
    this.stop();
  }

  /** The error of a call after dispose, naming the engine. */
  shutDown(): HepexError {
    return new HepexError(this.options.shutDownCode, `${this.options.engine} was shut down.`);
  }
}

/** The error a cancelled job rejects with (a store never shows it as a failure). */
export const cancelledError = (what = 'The job'): HepexError =>
  new HepexError('cancelled', `${what} was cancelled.`);

/** A progress callback the worker can call through comlink, or undefined when there is none. */
export function progressProxy<A extends unknown[]>(
  onProgress: ((...args: A) => void) | undefined,
): ((...args: A) => void) | undefined {
  return onProgress ? proxy(onProgress) : undefined;
}
