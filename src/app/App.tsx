import { useEffect, useState } from 'react';
import { ComparePanel } from '../components/ComparePanel';
import { Controls } from '../components/Controls';
import { CountsDetails, CountsPanel } from '../components/CountsPanel';
import { ConversionNotice } from '../components/ConversionNotice';
import { ErrorBanner } from '../components/ErrorBanner';
import { ExportButtons } from '../components/ExportButtons';
import { GridPanel } from '../components/GridPanel';
import { Guide, GuideButton } from '../components/Guide';
import { HeEngineStatus } from '../components/HeEngineStatus';
import { HePanel } from '../components/HePanel';
import { HistoryPanel } from '../components/HistoryPanel';
import { JobStatus } from '../components/JobStatus';
import { LinkNotice } from '../components/LinkNotice';
import { LayerStrip } from '../components/LayerStrip';
import { ModelPicker } from '../components/ModelPicker';
import { ModelStatus } from '../components/ModelStatus';
import { SweepPanel } from '../components/SweepPanel';
import { ThemeToggle } from '../components/ThemeToggle';
import { createDataSetClient, type DataSetService } from '../services/dataSetClient';
import { createModelLoader } from '../services/modelLoader';
import { getPipelineClient } from '../services/pipelineClient';
import { getSweepClient } from '../services/sweepClient';
import { TrainClient } from '../services/trainClient';
import { getHeClient } from '../services/heClient';
import { createAppStore, type AppStore } from '../store/appStore';
import { StoreProvider, useAppStore } from '../store/storeContext';
import { useResolvedTheme } from '../viz/useResolvedTheme';
import { ErrorBoundary } from './ErrorBoundary';

/** Keeps the URL hash and the store in step: the hash opens a view, the view rewrites the hash. */
function useHashSync(store: AppStore) {
  useEffect(() => {
    const s = store.getState();
    s.restoreSettings();
    s.applyHash(window.location.hash);
    void s.loadPreset(store.getState().preset);
    let timer: ReturnType<typeof setTimeout> | undefined;
    let written = '';
    const unsubscribe = store.subscribe(() => {
      clearTimeout(timer);
      // Debounced: replaceState on every slider frame would be wasted work.
      timer = setTimeout(() => {
        const hash = store.getState().toHash();
        if (hash !== window.location.hash) {
          written = hash;
          history.replaceState(null, '', hash);
        }
      }, 150);
    });
    const onHashChange = () => {
      if (window.location.hash === written) return;
      const before = store.getState().preset;
      store.getState().applyHash(window.location.hash);
      const after = store.getState().preset;
      if (after !== before) void store.getState().loadPreset(after);
    };
    window.addEventListener('hashchange', onHashChange);
    return () => {
      unsubscribe();
      clearTimeout(timer);
      window.removeEventListener('hashchange', onHashChange);
    };
  }, [store]);
}

/** localStorage, or nothing when the browser blocks it (private modes, sandboxed frames). */
const browserStorage = {
  get(key: string): string | null {
    try {
      return window.localStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key: string, value: string): void {
    try {
      window.localStorage.setItem(key, value);
    } catch {
      // Quota or privacy settings: the value is simply not kept.
    }
  },
};

function Layout() {
  const theme = useResolvedTheme(useAppStore((s) => s.theme));
  const loadFiles = useAppStore((s) => s.loadFiles);
  const [dragging, setDragging] = useState(false);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  return (
    <div
      className={`app${dragging ? ' is-dragging' : ''}`}
      onDragOver={(e) => {
        if (!e.dataTransfer.types.includes('Files')) return;
        e.preventDefault();
        setDragging(true);
      }}
      onDragLeave={(e) => {
        if (e.currentTarget === e.target) setDragging(false);
      }}
      onDrop={(e) => {
        e.preventDefault();
        setDragging(false);
        const files = Array.from(e.dataTransfer.files);
        if (files.length) void loadFiles(files);
      }}
    >
      {dragging && (
        <div className="drop-hint" aria-hidden="true">
          Drop model.json and weights.bin to open them
        </div>
      )}
      <header className="topbar">
        <div className="brand">
          <span className="brand__mark" aria-hidden="true" />
          <div>
            <h1>HE-PEx Studio</h1>
            <p className="brand__tagline">
              Prune, permute and expand networks so they run cheaply under CKKS encryption
            </p>
          </div>
        </div>
        <ModelPicker />
        <GuideButton />
        <ThemeToggle />
      </header>
      <ErrorBanner />
      <LinkNotice />
      <ConversionNotice />
      <JobStatus />
      <div className="workspace">
        {/* The counts stay in sight (sticky) while a slider moves, also above the controls
            when the layout is one column. */}
        <div className="workspace__summary">
          <CountsPanel />
        </div>
        <aside className="sidebar">
          <Controls />
        </aside>
        <main className="main">
          <ModelStatus />
          <LayerStrip />
          <GridPanel />
          <CountsDetails />
          <ComparePanel />
          <HePanel />
          <HistoryPanel />
          <SweepPanel />
          <ExportButtons />
        </main>
      </div>
      <Guide />
      <footer className="statusbar">
        <HeEngineStatus />
        <span className="muted">
          Method: Aharoni et al., “Efficient Pruning for Machine Learning under Homomorphic
          Encryption”, ESORICS 2023.
        </span>
      </footer>
    </div>
  );
}

export function App() {
  const [store] = useState(() => {
    let trainClient: TrainClient | undefined;
    let dataSets: DataSetService | undefined;
    return createAppStore({
      dataSets: () => (dataSets ??= createDataSetClient(import.meta.env.BASE_URL)),
      loader: createModelLoader(),
      pipeline: getPipelineClient,
      trainer: () => (trainClient ??= new TrainClient()),
      he: getHeClient,
      sweep: getSweepClient,
      storage: browserStorage,
    });
  });
  useHashSync(store);
  return (
    <ErrorBoundary>
      <StoreProvider store={store}>
        <Layout />
      </StoreProvider>
    </ErrorBoundary>
  );
}
