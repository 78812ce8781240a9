import type { StateCreator } from 'zustand';
import {
  MNIST_DATA_SET,
  type BuiltinDataSet,
  type BuiltinDataSetId,
} from '../services/dataSetClient';
import type { AppState } from './appStore';
import { MNIST_DATA_LABEL } from './modelSlice';
import type { StoreRuntime } from './runtime';

/**
 * Which built-in data set the studio works on: MNIST (always) or Fashion-MNIST (when the build
 * shipped its asset, see services/dataSetClient.ts). Choosing one makes training, retraining,
 * metrics and encrypted runs use it: retraining and metrics through the pipeline worker's data
 * (the same path as IDX files a person opens, loadData), training by sending its IDX bytes with
 * every training job. IDX files opened through openDataFiles are trained on the same way.
 */
export interface TrainingData {
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
  readonly name: string;
  /** The split label the pipeline worker gave these bytes: they are used while it is current. */
  readonly label: string;
  /** The built-in data set they are, or 'files' for IDX files a person opened. */
  readonly id: BuiltinDataSetId | 'files';
}

export interface DataSetSlice {
  /** The built-in data sets this build serves (MNIST until the manifest is read). */
  dataSets: readonly BuiltinDataSet[];
  /** The bytes of the data in use when it is not the built-in MNIST (see trainingDataOf). */
  trainingData: TrainingData | null;
}

export const createDataSetSlice: StateCreator<AppState, [], [], DataSetSlice> = () => ({
  dataSets: [MNIST_DATA_SET],
  trainingData: null,
});

/**
 * The bytes training jobs should train on: the data retraining and metrics use (dataLabel, the
 * one source of truth), when this slice holds its bytes; null: the built-in MNIST. Data changed
 * elsewhere (back to MNIST, files opened through loadData) is never trained on stale bytes.
 */
export function trainingDataOf(s: AppState): TrainingData | null {
  const t = s.trainingData;
  return t && s.dataLabel !== MNIST_DATA_LABEL && t.label === s.dataLabel ? t : null;
}

/** Which entry of the data-set selector is current: a built-in one, or 'files'. */
export function selectDataSetId(s: AppState): BuiltinDataSetId | 'files' {
  if (s.dataLabel === MNIST_DATA_LABEL) return 'mnist';
  return trainingDataOf(s)?.id ?? 'files';
}

export interface DataSetActions {
  /** Reads which built-in data sets exist (the selector lists only those). */
  loadDataSets: () => Promise<void>;
  /** Switches every job to a built-in data set; a failed load keeps the data in use. */
  chooseDataSet: (id: BuiltinDataSetId) => Promise<void>;
  /** IDX files a person opened: like loadData, and training jobs train on them too. */
  openDataFiles: (files: readonly File[]) => Promise<void>;
}

export function createDataSetActions(rt: StoreRuntime): DataSetActions {
  const { set, get, deps } = rt;
  // Latest choice wins: a slow fetch must not undo a later choice.
  let token = 0;
  const bytesOf = async (
    files: readonly File[],
  ): Promise<Omit<TrainingData, 'label' | 'id'> | null> => {
    if (files.length !== 2) return null;
    const isLabels = (f: File) => /label|idx1/i.test(f.name);
    const [a, b] = files;
    const images = isLabels(a) !== isLabels(b) ? (isLabels(a) ? b : a) : a.size >= b.size ? a : b;
    const labels = images === a ? b : a;
    return {
      images: new Uint8Array(await images.arrayBuffer()),
      labels: new Uint8Array(await labels.arrayBuffer()),
      name: images.name.replace(/(\.gz)?$/, '').replace(/([-_.]?(images?|idx3|ubyte))+$/i, ''),
    };
  };
  /** Hands the files to loadData; keeps their bytes once the worker took them (dataLabel set). */
  const load = async (files: readonly File[], mine: number, id: TrainingData['id']) => {
    const before = get().dataLabel;
    const bytes = await bytesOf(files);
    await get().loadData([...files]);
    if (mine !== token || !bytes) return;
    const s = get();
    if (s.errorSource === 'data' && s.dataLabel === before) return;
    set({ trainingData: { ...bytes, label: s.dataLabel, id } });
  };
  return {
    loadDataSets: async () => {
      const service = deps.dataSets?.();
      if (!service) return;
      const list = await service.list();
      set({ dataSets: list });
    },
    chooseDataSet: async (id) => {
      const mine = ++token;
      if (id === 'mnist') {
        await get().resetData();
        if (mine === token && get().dataLabel === MNIST_DATA_LABEL) set({ trainingData: null });
        return;
      }
      const dataSet = get().dataSets.find((d) => d.id === id);
      const service = deps.dataSets?.();
      if (!dataSet || !service) {
        rt.fail(new Error(`The data set "${id}" is not part of this build.`), 'data');
        return;
      }
      try {
        const files = await service.files(dataSet);
        if (mine !== token) return;
        await load(files, mine, id);
      } catch (error) {
        if (mine === token) rt.fail(error, 'data');
      }
    },
    openDataFiles: async (files) => {
      const mine = ++token;
      try {
        await load(files, mine, 'files');
      } catch (error) {
        if (mine === token) rt.fail(error, 'data');
      }
    },
  };
}
