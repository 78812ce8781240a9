import { modelFromFiles } from '../core/io/layersModelFile';
import { heReadyModel, type HepexModel, type SourceModel } from '../core/io/model';
import { sourceModelFromFiles } from '../core/io/sourceModelFile';
import { activationLabel, isPolynomialActivation } from '../core/model/activation';
import { HepexError, isHepexError } from '../core/model/errors';
import { MAX_WEIGHT_BYTES } from '../core/io/modelFileChecks';

/**
 * A model file whose network CKKS cannot evaluate yet (ReLU, sigmoid, tanh) but that reads as a
 * SourceModel: the error carries it, so the studio can offer the conversion instead of only
 * refusing the file. Main thread only (it never crosses to a worker).
 */
export class ConversionNeeded extends HepexError {
  constructor(
    readonly source: SourceModel,
    message: string,
  ) {
    super('needs-conversion', message);
  }
}

export const isConversionNeeded = (error: unknown): error is ConversionNeeded =>
  error instanceof ConversionNeeded;

/** "ReLU", "ReLU and tanh": the activations of a source model CKKS cannot evaluate. */
export function blockedActivations(source: SourceModel): string {
  const labels = [
    ...new Set(
      source.network.layers
        .filter((l) => !isPolynomialActivation(l.activation))
        .map((l) => activationLabel(l.activation)),
    ),
  ];
  return labels.length > 1
    ? `${labels.slice(0, -1).join(', ')} and ${labels[labels.length - 1]}`
    : (labels[0] ?? '');
}

/** modelFromFiles, but a file that only needs conversion fails with ConversionNeeded. */
export async function readModelOrSource(
  modelJson: string,
  weights: Uint8Array,
): Promise<HepexModel> {
  try {
    return await modelFromFiles(modelJson, weights);
  } catch (error) {
    if (!isHepexError(error) || error.code !== 'needs-conversion') throw error;
    throw new ConversionNeeded(sourceModelFromFiles(modelJson, weights), error.message);
  }
}

/**
 * An .onnx file a person opened (PyTorch, tf2onnx): a HE-ready model when every activation is a
 * polynomial, else ConversionNeeded carrying it. The importer (and its protobuf library) loads
 * on first use, so the studio does not pay for it up front.
 */
export async function readOnnxModel(file: File): Promise<HepexModel> {
  if (file.size > MAX_WEIGHT_BYTES)
    throw new HepexError(
      'invalid-model-file',
      `ONNX file: ${file.name} is ${file.size} bytes; the studio reads models up to ${MAX_WEIGHT_BYTES} bytes.`,
    );
  const { sourceModelFromOnnx } = await import('../engines/onnx/onnxImport');
  const name = file.name.replace(/\.onnx$/i, '');
  const source = sourceModelFromOnnx(new Uint8Array(await file.arrayBuffer()), name);
  try {
    return heReadyModel(source);
  } catch (error) {
    if (!isHepexError(error) || error.code !== 'needs-conversion') throw error;
    throw new ConversionNeeded(source, error.message);
  }
}
