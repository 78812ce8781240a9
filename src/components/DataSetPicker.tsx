import { useEffect } from 'react';
import { selectDataSetId, type DataSetActions } from '../store/dataSetActions';
import { useAppStore } from '../store/storeContext';

/**
 * The built-in data set training, retraining, metrics and encrypted runs use: MNIST, or
 * Fashion-MNIST when this build ships it (the list comes from the build's manifest, so a data
 * set that is not there is never offered). IDX files a person opened show as their own entry.
 */
export function DataSetPicker() {
  const dataSets = useAppStore((s) => s.dataSets);
  const dataSetId = useAppStore(selectDataSetId);
  const dataName = useAppStore((s) => s.dataName);
  const loadDataSets = useAppStore((s) => s.loadDataSets);
  const chooseDataSet = useAppStore((s) => s.chooseDataSet);
  const busy = useAppStore((s) => s.busy !== null);

  useEffect(() => {
    void loadDataSets();
  }, [loadDataSets]);

  return (
    <label
      className="field"
      title="The images training, retraining, metrics and encrypted runs use"
    >
      <span className="field__label">Data set</span>
      <select
        value={dataSetId}
        disabled={busy}
        onChange={(e) =>
          void chooseDataSet(e.target.value as Parameters<DataSetActions['chooseDataSet']>[0])
        }
        data-testid="data-set-select"
      >
        {dataSets.map((d) => (
          <option key={d.id} value={d.id}>
            {d.name}
          </option>
        ))}
        {dataSetId === 'files' && (
          <option value="files" disabled>
            {dataName} (opened files)
          </option>
        )}
      </select>
    </label>
  );
}
