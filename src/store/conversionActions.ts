import type { StateCreator } from 'zustand';
import type { SourceModel } from '../core/io/model';
import type { AppState } from './appStore';
import type { StoreRuntime } from './runtime';
import type { ConvertProgress, ConvertReport } from '../services/trainClient';

/**
 * Opening a model CKKS cannot evaluate (ReLU, sigmoid, tanh): instead of only an error, an
 * offer to convert it (each activation fitted by a degree-2 polynomial, then a fine-tune
 * distilled from the original, in the train worker). The model shown stays as it was until
 * the conversion succeeds; then the converted model is adopted like an opened file.
 */
export interface ConversionOffer {
  readonly source: SourceModel;
  /** Where it came from: the opened files' names. */
  readonly label: string;
  /** What CKKS cannot evaluate, in words: "ReLU", "ReLU and tanh". */
  readonly activations: string;
  readonly status: 'offered' | 'running' | 'done';
  /** After a conversion: the metric of the original, after the fit, after the fine-tune. */
  readonly report?: ConversionSummary;
}

export interface ConversionSummary {
  readonly metric: ConvertReport['metric'];
  readonly original: number;
  readonly fitted: number;
  readonly fineTuned: number;
  readonly epochs: number;
}

export interface ConversionSlice {
  conversion: ConversionOffer | null;
}

export const createConversionSlice: StateCreator<AppState, [], [], ConversionSlice> = () => ({
  conversion: null,
});

export interface ConversionActions {
  /** Converts the offered model in the train worker (progress in the busy bar, Cancel stops it). */
  convertOffered: (epochs?: number) => Promise<void>;
  dismissConversion: () => void;
}

/** The busy bar's share of each stage: the fine-tune's epochs take nearly all of the time. */
function progressOf(p: ConvertProgress): { fraction: number; detail: string } {
  switch (p.stage) {
    case 'evaluate-original':
      return { fraction: 0.02, detail: 'scoring the original model' };
    case 'fit':
      return { fraction: 0.05, detail: 'fitting a polynomial to each activation' };
    case 'evaluate-fit':
      return { fraction: 0.1, detail: 'scoring the fitted model' };
    case 'fine-tune':
      return {
        fraction: 0.1 + (0.9 * p.progress.epoch) / p.progress.epochs,
        detail: `fine-tune epoch ${p.progress.epoch} of ${p.progress.epochs}`,
      };
  }
}

export function createConversionActions(rt: StoreRuntime): ConversionActions {
  const { set, get, deps } = rt;
  return {
    convertOffered: (epochs) => {
      const offer = get().conversion;
      const trainer = deps.trainer?.();
      if (!offer || offer.status === 'running') return Promise.resolve();
      if (!trainer?.convert) {
        rt.fail(new Error('Converting needs the training engine, which is not available here.'));
        return Promise.resolve();
      }
      const label = `Converting ${offer.activations} to polynomial activations`;
      const running: ConversionOffer = { ...offer, status: 'running' };
      set({ conversion: running });
      return rt.runJob(
        label,
        async (signal, isCurrent) => {
          try {
            return await trainer.convert!(
              offer.source,
              { ...(epochs !== undefined ? { epochs } : {}) },
              {
                signal,
                onProgress: (p) => {
                  if (!isCurrent()) return;
                  const { fraction, detail } = progressOf(p);
                  set({ busy: { label, progress: fraction, detail } });
                },
              },
            );
          } catch (error) {
            // Failed or cancelled: the offer stands, so it can be tried again.
            if (get().conversion === running) set({ conversion: offer });
            throw error;
          }
        },
        ({ model, report }) => {
          get().adoptModels({ dense: model, twin: null }, `${offer.label} (converted)`, {
            kind: 'file',
            name: `${offer.label} (converted)`,
          });
          set({
            conversion: {
              ...offer,
              status: 'done',
              report: {
                metric: report.metric,
                original: report.original,
                fitted: report.fitted,
                fineTuned: report.fineTuned,
                epochs: report.epochs,
              },
            },
          });
        },
      );
    },
    dismissConversion: () => set({ conversion: null }),
  };
}
