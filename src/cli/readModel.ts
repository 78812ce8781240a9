import { basename } from 'node:path';
import { heReadyModel, type HepexModel, type SourceModel } from '../core/io/model';
import { readBoundedFile } from '../engines/node/boundedFile';
import { MAX_ONNX_BYTES } from '../engines/onnx/onnxDecode';
import { sourceModelFromOnnx } from '../engines/onnx/onnxImport';
import { readModelDir, readSourceModelDir } from '../engines/tfjs/modelDir';

/**
 * What `--model PATH` means on the command line: a directory is a TF.js model (model.json +
 * weights.bin), a file ending in .onnx an ONNX model (PyTorch's torch.onnx.export, tf2onnx).
 */

const isOnnxPath = (path: string): boolean => /\.onnx$/i.test(path);

/** An .onnx file's bytes: a regular file only, at most MAX_ONNX_BYTES read. */
function readOnnxFile(path: string): Promise<Uint8Array> {
  return readBoundedFile(path, {
    limit: MAX_ONNX_BYTES,
    what: 'ONNX file',
    code: 'invalid-model-file',
    noun: 'models',
  });
}

/** The model's name: the file name without .onnx. */
const onnxName = (path: string): string => basename(path).replace(/\.onnx$/i, '');

/** A model as trained, before conversion: ReLU, sigmoid and tanh accepted (hepex convert). */
export async function readSourceModel(path: string): Promise<SourceModel> {
  if (isOnnxPath(path)) return sourceModelFromOnnx(await readOnnxFile(path), onnxName(path));
  return readSourceModelDir(path);
}

/**
 * A model HE can run (every activation a polynomial): what eval, prune, sweep and infer read.
 * An ONNX model with ReLU, sigmoid or tanh gets the needs-conversion error, which says to run
 * hepex convert first.
 */
export async function readHeModel(path: string): Promise<HepexModel> {
  if (!isOnnxPath(path)) return readModelDir(path);
  return heReadyModel(sourceModelFromOnnx(await readOnnxFile(path), onnxName(path)));
}
