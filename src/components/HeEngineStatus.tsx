import { useEffect } from 'react';
import { selectRunRingDegree } from '../store/selectors';
import { useAppStore } from '../store/storeContext';

/**
 * One line saying whether the HE engine (node-seal in its worker) works in this browser: it loads
 * SEAL and round-trips a vector at the ring degree encrypted runs use now, or says why it failed.
 */
export function HeEngineStatus() {
  const engine = useAppStore((s) => s.heEngine);
  const runN = useAppStore(selectRunRingDegree);
  const checkEngine = useAppStore((s) => s.checkEngine);
  useEffect(() => {
    // Memoised per ring degree by the client: a remount or a repeat does not rerun the test.
    void checkEngine();
  }, [checkEngine, runN]);

  let text: string;
  if (engine.state === 'starting') text = 'HE engine: starting SEAL…';
  else if (engine.state === 'absent') text = 'HE engine: not available here';
  else if (engine.state === 'error') text = `HE engine unavailable: ${engine.message}`;
  else
    text = `HE engine: SEAL ready, N=${engine.ringDegree}, round-trip error ${engine.maxAbsError.toExponential(1)}`;
  return (
    <p
      className="he-engine-status"
      data-testid="he-engine-status"
      data-state={engine.state}
      role="status"
      title="node-seal (Microsoft SEAL in WebAssembly) in the HE worker, tested at the ring degree encrypted runs use"
    >
      {text}
    </p>
  );
}
