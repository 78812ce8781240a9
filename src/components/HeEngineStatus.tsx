import { useEffect, useState } from 'react';
import type { RingDegree } from '../core/tileShape';
import { getHeClient, type HeEngineInfo } from '../services/heClient';

type Status =
  | { state: 'starting' }
  | { state: 'ready'; info: HeEngineInfo }
  | { state: 'error'; message: string };

/**
 * One line saying whether the HE engine (node-seal in its worker) works in this browser: it
 * loads SEAL, round-trips a vector at `ringDegree` and shows the error, or why it failed.
 */
export function HeEngineStatus({ ringDegree = 8192 }: { ringDegree?: RingDegree }) {
  const [status, setStatus] = useState<Status>({ state: 'starting' });

  useEffect(() => {
    // The self-test is memoised by the client, so a remount does not rerun it; a stale
    // result (ring degree changed, unmounted) is dropped rather than aborted.
    let current = true;
    getHeClient()
      .engineInfo(ringDegree)
      .then(
        (info) => {
          if (current) setStatus({ state: 'ready', info });
        },
        (error: unknown) => {
          if (current)
            setStatus({
              state: 'error',
              message: error instanceof Error ? error.message : String(error),
            });
        },
      );
    return () => {
      current = false;
    };
  }, [ringDegree]);

  let text: string;
  if (status.state === 'starting') text = 'HE engine: starting SEAL…';
  else if (status.state === 'error') text = `HE engine unavailable: ${status.message}`;
  else {
    const { info } = status;
    text = `HE engine: SEAL ready, N=${info.ringDegree}, round-trip error ${info.maxAbsError.toExponential(1)}`;
  }
  return (
    <p
      className="he-engine-status"
      data-testid="he-engine-status"
      data-state={status.state}
      role="status"
    >
      {text}
    </p>
  );
}
