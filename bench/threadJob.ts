import { parentPort, Worker, workerData } from 'node:worker_threads';
import { HepexError, type HepexErrorCode } from '../src/core/model/errors';

/**
 * One bench job in a fresh worker thread: the caller posts plain data (structured clone), the
 * thread posts progress lines and then one reply, and ends. A fresh thread per job frees what
 * the job grew (node-seal's WASM heap never shrinks; tfjs's backend state), and jobs in
 * separate threads run on separate cores.
 */

type Reply<T> =
  | { readonly progress: string }
  | { readonly result: T }
  | { readonly error: { readonly code?: HepexErrorCode; readonly message: string } };

export interface ThreadJobOptions {
  /** Stop the thread and reject after this long, ms (a SEAL heap past 4 GiB spins, never fails). */
  readonly timeoutMs?: number;
  readonly onProgress?: (message: string) => void;
  /** What the thread runs, for the error when it ends without a reply. */
  readonly what: string;
}

/** Runs the thread entry `entry` (a module calling serveThreadJob) on `data`; its result. */
export function runInThread<T>(entry: URL, data: unknown, options: ThreadJobOptions): Promise<T> {
  const worker = new Worker(entry, { workerData: data });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = new Promise<T>((resolve, reject) => {
    if (options.timeoutMs !== undefined) {
      timer = setTimeout(
        () => reject(new Error(`no answer in ${Math.round(options.timeoutMs! / 1000)} s; stopped`)),
        options.timeoutMs,
      );
    }
    worker.on('message', (reply: Reply<T>) => {
      if ('progress' in reply) options.onProgress?.(reply.progress);
      else if ('result' in reply) resolve(reply.result);
      else if (reply.error.code) reject(new HepexError(reply.error.code, reply.error.message));
      else reject(new Error(reply.error.message));
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the ${options.what} ended with code ${code}`)));
  });
  return done.finally(() => {
    clearTimeout(timer);
    void worker.terminate();
  });
}

/** The thread side: runs `job` on this thread's workerData and posts its progress and reply. */
export function serveThreadJob<D, T>(
  job: (data: D, progress: (message: string) => void) => Promise<T>,
): void {
  const port = parentPort!;
  job(workerData as D, (message) => port.postMessage({ progress: message })).then(
    (result) => port.postMessage({ result }),
    (e: unknown) =>
      port.postMessage({
        error: {
          code: e instanceof HepexError ? e.code : undefined,
          message: e instanceof Error ? e.message : String(e),
        },
      }),
  );
}
