import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { withLock } from '../../engines/node/atomicDir';
import { HepexError } from '../../core/model/errors';
import { inputWidth } from '../../core/model/network';
import {
  ONNX_FORMS,
  clientPermutationFile,
  exportOnnx,
  type OnnxForm,
} from '../../engines/onnx/onnxExport';
import { readModelDir } from '../../engines/tfjs/modelDir';
import { optionalChoice, parseFlags, requireString } from '../args';
import type { Command } from '../command';
import { networkLabel } from '../format';

/** FILE.onnx -> FILE.permutation.json (the server form's client permutations). */
export function permutationPath(out: string): string {
  return `${out.replace(/\.onnx$/i, '')}.permutation.json`;
}

/**
 * Writes every file to a temporary name first and renames them only once all are written, so
 * an error leaves no half-written file and an older export intact.
 */
async function writeAtomically(files: readonly { path: string; data: Uint8Array | string }[]) {
  const tmp = files.map((f) => `${f.path}.${process.pid}.tmp`);
  let renamed = 0;
  try {
    for (const [k, f] of files.entries()) {
      await mkdir(dirname(f.path), { recursive: true });
      await writeFile(tmp[k], f.data);
    }
    for (const [k, f] of files.entries()) {
      await rename(tmp[k], f.path);
      renamed++;
    }
  } catch (error) {
    // A temporary file that was never made (e.g. its directory is a file) is no error here.
    await Promise.all(tmp.slice(renamed).map((t) => rm(t, { force: true }).catch(() => undefined)));
    throw new HepexError(
      'invalid-argument',
      `Cannot write ${files.map((f) => f.path).join(' and ')} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`,
    );
  }
}

export const command: Command = {
  summary:
    'Export a saved model as ONNX (HElayers subset): the function on raw inputs, or the HE server model plus the client permutations.',
  usage: [
    'npm run hepex -- export --model DIR --out FILE.onnx [--form function|server] [--json]',
    'function (default): one model on raw inputs [N, inputs] -> [N, outputs], the client permutations as MatMul nodes',
    '  (for a CNN the input permutation is folded into the Conv kernel).',
    'server: the model the HE server runs, inputs and outputs in packing order (a CNN takes the im2col patches),',
    '  plus FILE.permutation.json with the input and output orders the client applies around it.',
  ].join('\n'),
  async run(argv) {
    const flags = parseFlags(argv, { model: 'string', out: 'string', form: 'string' });
    const dir = requireString(flags, 'model');
    const out = requireString(flags, 'out');
    const form = optionalChoice<OnnxForm>(flags, 'form', ONNX_FORMS, 'function');
    const model = await readModelDir(dir);
    const bytes = exportOnnx(model, form);
    const files: { path: string; data: Uint8Array | string }[] = [{ path: out, data: bytes }];
    if (form === 'server') {
      files.push({
        path: permutationPath(out),
        data: JSON.stringify(clientPermutationFile(model)) + '\n',
      });
    }
    // Under one lock: two exports to the same FILE.onnx never interleave their two files.
    await withLock(out, () => writeAtomically(files));
    const first = model.network.layers[0];
    const last = model.network.layers[model.network.layers.length - 1];
    const json = {
      model: dir,
      name: model.name,
      network: networkLabel(model.network),
      form,
      out,
      bytes: bytes.length,
      ...(form === 'server' ? { permutationFile: permutationPath(out) } : {}),
      inputs: form === 'function' ? inputWidth(model.network) : first.weights.cols,
      outputs: last.weights.rows,
      clientPermutation: model.permutation !== undefined,
    };
    const text = [
      `network ${networkLabel(model.network)}`,
      `saved ${out} (${form} form, ${(bytes.length / 1024).toFixed(1)} KiB, [N, ${json.inputs}] -> [N, ${json.outputs}])`,
      ...(form === 'server' ? [`saved ${permutationPath(out)} (client permutations)`] : []),
    ].join('\n');
    return { json, text };
  },
};
