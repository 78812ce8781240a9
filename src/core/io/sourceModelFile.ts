import type { SourceNetwork } from '../model/network';
import type { SourceModel } from './model';
import { checkTaskFitsGraph, readLayersModelFiles } from './layersModelFile';
import { parseScalarRecord } from './metadataParts';
import { checkKeys, invalid, isObject, shown } from './modelFileChecks';

/**
 * A TF.js LayersModel read as a SourceModel: like modelFromFiles, but ReLU, sigmoid and tanh
 * (a Dense or Conv2D `activation`, or an Activation layer right after one) are accepted, so the
 * model can be converted (hepex convert). A model trained here with such an activation carries
 * `userDefinedMetadata.hepexSource` (name, task, metrics, provenance: what convert needs to
 * score it on the split it was not trained on); a HE-ready file's `hepex` metadata is read too.
 */
export const SOURCE_SCHEMA_VERSION = 1;

export interface SourceMetadata {
  readonly schemaVersion: typeof SOURCE_SCHEMA_VERSION;
  readonly name: string;
  readonly task: SourceModel['network']['task'];
  readonly metrics?: Readonly<Record<string, number>>;
  readonly provenance?: Readonly<Record<string, string | number | boolean>>;
}

const MAX_SOURCE_NAME = 200;

/** The metadata a source model's file carries (no weights: those are the LayersModel's). */
export function encodeSourceMetadata(model: SourceModel): SourceMetadata {
  return {
    schemaVersion: SOURCE_SCHEMA_VERSION,
    name: model.name.slice(0, MAX_SOURCE_NAME),
    task: model.network.task,
    ...(model.metrics ? { metrics: { ...model.metrics } } : {}),
    ...(model.provenance ? { provenance: { ...model.provenance } } : {}),
  };
}

function parseSourceMetadata(value: unknown): SourceMetadata {
  if (!isObject(value)) throw invalid('userDefinedMetadata.hepexSource is not an object.');
  checkKeys(value, ['schemaVersion', 'name', 'task', 'metrics', 'provenance'], 'hepexSource');
  if (value.schemaVersion !== SOURCE_SCHEMA_VERSION)
    throw invalid(
      `hepexSource.schemaVersion must be ${SOURCE_SCHEMA_VERSION}, got ${shown(value.schemaVersion)}.`,
    );
  if (typeof value.name !== 'string' || value.name.length > MAX_SOURCE_NAME)
    throw invalid(`hepexSource.name must be a string of at most ${MAX_SOURCE_NAME} characters.`);
  if (value.task !== 'classification' && value.task !== 'reconstruction')
    throw invalid(
      `hepexSource.task must be "classification" or "reconstruction", got ${shown(value.task)}.`,
    );
  return {
    schemaVersion: SOURCE_SCHEMA_VERSION,
    name: value.name,
    task: value.task,
    ...(value.metrics !== undefined
      ? { metrics: parseScalarRecord(value.metrics, 'hepexSource.metrics', 'number') }
      : {}),
    ...(value.provenance !== undefined
      ? { provenance: parseScalarRecord(value.provenance, 'hepexSource.provenance', 'scalar') }
      : {}),
  };
}

/** Reads model.json text + the concatenated weight files; throws `invalid-model-file` in words. */
export function sourceModelFromFiles(modelJson: string, weights: Uint8Array): SourceModel {
  const { network, meta, softmax, userDefinedMetadata } = readLayersModelFiles(modelJson, weights);
  const notes = softmax ? ['the output softmax was dropped (the logits keep the argmax)'] : [];
  if (meta) {
    return {
      name: meta.name,
      network: { ...network, task: meta.task },
      ...(meta.metrics ? { metrics: meta.metrics } : {}),
      ...(meta.provenance ? { provenance: meta.provenance } : {}),
      ...(notes.length ? { notes } : {}),
    };
  }
  const source =
    userDefinedMetadata?.hepexSource === undefined
      ? undefined
      : parseSourceMetadata(userDefinedMetadata.hepexSource);
  const named: SourceNetwork = source ? { ...network, task: source.task } : network;
  checkTaskFitsGraph(named);
  return {
    name: source?.name ?? 'imported model',
    network: named,
    ...(source?.metrics ? { metrics: source.metrics } : {}),
    ...(source?.provenance ? { provenance: source.provenance } : {}),
    ...(notes.length ? { notes } : {}),
  };
}
