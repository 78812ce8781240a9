import { useId, useState } from 'react';
import { useAppStore } from '../store/storeContext';
import { trainingDataOf } from '../store/dataSetActions';
import { selectTrainArch } from '../store/selectors';
import { PRESET_LABELS } from '../store/types';
import { TrainingChart } from './TrainingChart';

/** Train the preset's architecture from scratch in the training worker, with a live loss chart. */
export function TrainPanel() {
  const id = useId();
  const [epochs, setEpochs] = useState(3);
  const preset = useAppStore(selectTrainArch);
  const busy = useAppStore((s) => s.busy);
  const training = useAppStore((s) => s.training);
  const trainModel = useAppStore((s) => s.trainModel);
  // The data set chosen (DataSetPicker) when training has its bytes; else the built-in MNIST.
  const trainingLabel = useAppStore((s) => trainingDataOf(s)?.label ?? null);
  return (
    <fieldset className="controls__group">
      <legend>Train in this browser</legend>
      <div className="controls__row">
        <label className="field" htmlFor={`${id}-epochs`}>
          <span className="field__label">Epochs</span>
          <input
            id={`${id}-epochs`}
            className="number-input"
            type="number"
            min={1}
            max={200}
            value={epochs}
            onChange={(e) =>
              setEpochs(Math.max(1, Math.min(200, Math.round(Number(e.target.value) || 1))))
            }
          />
        </label>
        <button
          type="button"
          className="button"
          disabled={busy !== null}
          onClick={() => void trainModel(epochs)}
          data-testid="train-button"
        >
          Train {PRESET_LABELS[preset].toLowerCase()}
        </button>
      </div>
      <p className="controls__hint">
        {trainingLabel ?? 'Real MNIST (8,000 train / 2,000 test, seed 1)'}, tfjs in a worker. The
        result replaces the model shown.
      </p>
      {training && training.history.length > 0 && (
        <TrainingChart history={training.history} epochs={training.epochs} />
      )}
    </fieldset>
  );
}
