import { readFile, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { heReadyModel, type HepexModel, type SourceModel } from '../core/io/model';
import { HepexError } from '../core/model/errors';
import { MAX_ONNX_BYTES } from '../engines/onnx/onnxDecode';
import { sourceModelFromOnnx } from '../engines/onnx/onnxImport';
import { readModelDir, readSourceModelDir } from '../engines/tfjs/modelDir';

/**
 * What `--model PATH` means on the command line: a directory is a TF.js model (model.json +
 * weights.bin), a file ending in .onnx an ONNX model (PyTorch's torch.onnx.export, tf2onnx).
 */

const isOnnxPath = (path: string): boolean => /\.onnx$/i.test(path);

/** An .onnx file's bytes, its size checked before it is read. */
async function readOnnxFile(path: string): Promise<Uint8Array> {
  try {
    const info = await stat(path);
    if (!info.isFile())
      throw new HepexError('invalid-model-file', `ONNX file: ${path} is not a file.`);
    if (info.size > MAX_ONNX_BYTES) {
      throw new HepexError(
        'invalid-model-file',
        `ONNX file: ${path} is ${info.size} bytes; the studio reads models up to ${MAX_ONNX_BYTES} bytes.`,
      );
    }
    return new Uint8Array(await readFile(path));
  } catch (error) {
    if (error instanceof HepexError) throw error;
    throw new HepexError(
      'invalid-model-file',
      `Cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`,
    );
  }
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
