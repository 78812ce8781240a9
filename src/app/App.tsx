import { HeEngineStatus } from '../components/HeEngineStatus';

export function App() {
  return (
    <main>
      <h1>HE-PEx Studio</h1>
      <HeEngineStatus />
    </main>
  );
}
