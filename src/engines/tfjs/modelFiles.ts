import { HepexError } from '../../core/model/errors';
import type { HepexModel } from '../../core/io/model';
import {
  assembleHepexModel,
  encodeHepexMetadata,
  parseHepexMetadata,
} from '../../core/io/modelMetadata';
import { validateNetwork } from '../../core/model/network';
import { toDataOrder } from '../../core/model/clientOrder';
import { setupBackend, tf } from './backend';
import { networkToLayersModel } from './convert';
import { invalid } from '../../core/io/modelFileChecks';
import { modelFromFiles } from '../../core/io/layersModelFile';

/**
 * TF.js model files out of a HepexModel (export, built from tfjs's own layers with the weights in
 * data order, so plain tf.loadLayersModel reads them and computes the model's function on raw
 * inputs), and live tfjs models read back through core/io/layersModelFile.
 */
export const WEIGHTS_FILE = 'weights.bin';
export const MODEL_FILE = 'model.json';

/**
 * `weightsFile` is the name model.json's manifest gives the weights (tf.loadLayersModel fetches
 * it next to model.json): a download must be saved under exactly that name.
 */
export async function modelToFiles(
  model: HepexModel,
  weightsFile = WEIGHTS_FILE,
): Promise<{ modelJson: string; weights: Uint8Array }> {
  if (!/^[\w.-]+$/.test(weightsFile) || weightsFile.includes('..')) {
    throw new HepexError(
      'invalid-argument',
      `Cannot export this model: the weights file name ${JSON.stringify(weightsFile)} must be a plain file name.`,
    );
  }
  validateNetwork(model.network);
  // tfjs refuses ops until a backend is ready (memoised; a caller's earlier choice stands).
  const hepex = encodeHepexMetadata(model);
  // Never write a file this studio cannot read back (NaN metrics, over-long names, non-zero
  // weights under a mask, ...): the same checks import makes, before anything is built.
  try {
    assembleHepexModel(parseHepexMetadata(JSON.parse(JSON.stringify(hepex))), model.network);
  } catch (error) {
    throw new HepexError(
      'invalid-argument',
      `Cannot export this model: ${(error as Error).message.replace(/^Model file: /, '')}`,
    );
  }
  await setupBackend();
  // Data order (modelMetadata.ts weightOrder): the graph computes the model's function on raw
  // inputs, so plain tfjs needs no client permutation; import folds it back in.
  const layersModel = networkToLayersModel(
    model.permutation ? toDataOrder(model.network, model.permutation).network : model.network,
  );
  try {
    layersModel.setUserDefinedMetadata({ hepex });
    return await layersModelFiles(layersModel, weightsFile);
  } finally {
    layersModel.dispose();
  }
}

/**
 * A built tfjs model's files: model.json (the same fields, in the same order, as tf.io's
 * getModelJSONForModelArtifacts writes, the manifest naming `weightsFile`) and the weights.
 */
export async function layersModelFiles(
  layersModel: tf.LayersModel,
  weightsFile = WEIGHTS_FILE,
): Promise<{ modelJson: string; weights: Uint8Array }> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await layersModel.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!artifacts?.weightData || !artifacts.weightSpecs)
    throw new HepexError('invalid-model-file', 'tfjs produced no weights.');
  const weights = new Uint8Array(
    tf.io.concatenateArrayBuffers(artifacts.weightData as ArrayBuffer | ArrayBuffer[]),
  );
  const json = {
    modelTopology: artifacts.modelTopology,
    format: artifacts.format,
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy,
    weightsManifest: [{ paths: [`./${weightsFile}`], weights: artifacts.weightSpecs }],
    userDefinedMetadata: artifacts.userDefinedMetadata,
  };
  return { modelJson: JSON.stringify(json), weights };
}

/** A live tfjs LayersModel (e.g. built or trained elsewhere in tfjs) as a HepexModel, via its files. */
export async function modelFromLayersModel(model: tf.LayersModel): Promise<HepexModel> {
  let artifacts: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (a) => {
      artifacts = a;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!artifacts?.weightSpecs || !artifacts.weightData)
    throw invalid('the tfjs model has no weights.');
  const json = {
    modelTopology: artifacts.modelTopology,
    format: 'layers-model',
    weightsManifest: [{ paths: [`./${WEIGHTS_FILE}`], weights: artifacts.weightSpecs }],
    userDefinedMetadata: artifacts.userDefinedMetadata,
  };
  return modelFromFiles(
    JSON.stringify(json),
    new Uint8Array(
      tf.io.concatenateArrayBuffers(artifacts.weightData as ArrayBuffer | ArrayBuffer[]),
    ),
  );
}
