import {
  activationLabel,
  checkActivation,
  checkSourceActivation,
  evaluateActivation,
  isPolynomialActivation,
} from './activation';
import { checkTied, im2col } from './conv';
import { HepexError } from './errors';
import {
  MAX_LAYER_SIZE,
  type ConvGeometry,
  type Layer,
  type Network,
  type SourceNetwork,
} from './layers';

export type {
  ConvGeometry,
  ConvLayer,
  DenseLayer,
  Layer,
  Network,
  SourceLayer,
  SourceNetwork,
  Task,
} from './layers';
export { MAX_LAYER_SIZE } from './layers';

/** Parses "784,256,64" into validated layer sizes (inputs first). */
export function parseLayerSizes(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const sizes = parts.map((p) => Number(p));
  if (parts.length < 2 || parts.some((p) => p === '')) {
    throw new HepexError(
      'invalid-layer-size',
      `Layer sizes are a comma-separated list of at least two numbers, like 784,128,10; got "${text}".`,
    );
  }
  checkLayerSizes(sizes);
  return sizes;
}

export function checkLayerSizes(sizes: readonly number[]): void {
  if (sizes.length < 2) {
    throw new HepexError(
      'invalid-layer-size',
      'A network needs at least an input size and an output size.',
    );
  }
  for (const [i, n] of sizes.entries()) {
    if (!Number.isInteger(n) || n <= 0) {
      throw new HepexError(
        'invalid-layer-size',
        `Layer size ${i + 1} is ${n}; every layer size must be a whole number of at least 1.`,
      );
    }
    if (n > MAX_LAYER_SIZE) {
      throw new HepexError(
        'invalid-layer-size',
        `Layer size ${i + 1} is ${n}; the studio accepts at most ${MAX_LAYER_SIZE} units per layer.`,
      );
    }
  }
}

/**
 * Sizes of a network's layers in the dense view, inputs first: [in, h1, ..., out]. For a
 * conv-first network `in` is positions * patchWidth (the im2col patches the server sees), which
 * is what the tile plan needs; the width of the raw data the user gives is inputWidth.
 */
export function layerSizes(network: SourceNetwork): number[] {
  return [network.layers[0].weights.cols, ...network.layers.map((l) => l.weights.rows)];
}

/** The first layer's convolution geometry, if the network starts with one (only layer 1 may). */
export function convolutionOf(network: SourceNetwork): ConvGeometry | undefined {
  const first = network.layers[0];
  return first.kind === 'conv' ? first.geometry : undefined;
}

/**
 * Values per input sample the user gives: height * width * channels raw pixels (NHWC) for a
 * conv-first network (the client packs patches itself), else the first layer's columns.
 */
export function inputWidth(network: SourceNetwork): number {
  const first = network.layers[0];
  if (first.kind === 'conv') {
    const g = first.geometry;
    return g.height * g.width * g.channels;
  }
  return first.weights.cols;
}

/**
 * The first layer's inputs from raw samples: im2col patches (batch x positions * patchWidth)
 * for a conv-first network, the samples themselves otherwise. inputs: batch x inputWidth.
 */
export function firstLayerInputs(
  network: SourceNetwork,
  inputs: Float32Array,
  batch: number,
): Float32Array {
  const width = inputWidth(network);
  if (inputs.length !== batch * width) {
    throw new HepexError(
      'invalid-argument',
      `Expected ${batch} x ${width} inputs, got ${inputs.length} values.`,
    );
  }
  const first = network.layers[0];
  return first.kind === 'conv' ? im2col(first.geometry, inputs, batch) : inputs;
}

/**
 * Checks shapes chain, biases match, every number is finite, and every activation is a
 * polynomial CKKS can evaluate. Throws `invalid-network` with the first problem found, in
 * words, or `needs-conversion` when the only problem is a ReLU, sigmoid or tanh.
 */
export function validateNetwork(network: SourceNetwork | Network): Network {
  validateSourceNetwork(network);
  const blocked = network.layers.flatMap((l, i) =>
    isPolynomialActivation(l.activation)
      ? []
      : [`layer ${i + 1} (${activationLabel(l.activation)})`],
  );
  if (blocked.length) {
    throw new HepexError(
      'needs-conversion',
      `CKKS can only evaluate polynomial activations, and ${blocked.join(', ')} ${blocked.length === 1 ? 'is' : 'are'} not. Convert the model first: each activation becomes a degree-2 polynomial fitted to its inputs, then a short fine-tune (hepex convert, or Convert in the studio).`,
    );
  }
  network.layers.forEach((layer) => checkActivation(layer.activation as Layer['activation']));
  return network as Network;
}

/**
 * validateNetwork without the activation rule: the checks an imported model passes before it
 * is converted (ReLU, sigmoid and tanh allowed).
 */
export function validateSourceNetwork(network: SourceNetwork): SourceNetwork {
  if (network.task !== 'classification' && network.task !== 'reconstruction') {
    throw new HepexError('invalid-network', `Unknown task "${String(network.task)}".`);
  }
  if (!network.layers.length) throw new HepexError('invalid-network', 'The network has no layers.');
  network.layers.forEach((layer, i) => {
    const name = `Layer ${i + 1}`;
    if (layer.kind !== 'dense' && layer.kind !== 'conv') {
      throw new HepexError(
        'invalid-network',
        `${name} has unsupported kind "${String((layer as SourceNetwork['layers'][number]).kind)}".`,
      );
    }
    if (layer.kind === 'conv' && i > 0) {
      // im2col happens on the client before encryption, so only the raw input can be patched.
      throw new HepexError(
        'invalid-network',
        `${name} is a convolution, but only the first layer may be one: the client packs image patches before encryption, and later layers only see encrypted values.`,
      );
    }
    const { rows, cols, data } = layer.weights;
    checkLayerSizes([cols, rows]);
    if (data.length !== rows * cols) {
      throw new HepexError(
        'invalid-network',
        `${name}: ${rows} x ${cols} weights need ${rows * cols} values, got ${data.length}.`,
      );
    }
    if (layer.bias.length !== rows) {
      throw new HepexError(
        'invalid-network',
        `${name}: the bias has ${layer.bias.length} values for ${rows} outputs.`,
      );
    }
    if (i > 0 && cols !== network.layers[i - 1].weights.rows) {
      throw new HepexError(
        'invalid-network',
        `${name} takes ${cols} inputs but layer ${i} gives ${network.layers[i - 1].weights.rows}.`,
      );
    }
    for (let k = 0; k < data.length; k++) {
      if (!Number.isFinite(data[k])) {
        throw new HepexError(
          'invalid-network',
          `${name}: weight ${k} is ${data[k]} (weights must be finite numbers).`,
        );
      }
    }
    for (let k = 0; k < layer.bias.length; k++) {
      if (!Number.isFinite(layer.bias[k])) {
        throw new HepexError(
          'invalid-network',
          `${name}: bias ${k} is ${layer.bias[k]} (must be a finite number).`,
        );
      }
    }
    checkSourceActivation(layer.activation);
    if (layer.kind === 'conv') checkTied(layer, name);
  });
  return network;
}

/**
 * Plaintext forward pass. inputs: batch x inputWidth (row-major; raw NHWC images for a
 * conv-first network, patched here as the client would); returns batch x out. Float64
 * accumulation, so it is the reference the HE engine's decrypted outputs are compared with.
 */
export function forward(network: SourceNetwork, inputs: Float32Array, batch: number): Float32Array {
  return forwardDenseView(network, firstLayerInputs(network, inputs, batch), batch);
}

/**
 * The forward pass from the first layer's own inputs: batch x layerSizes[0] (im2col patches,
 * possibly in a client-permuted column order, for a conv-first network). What the HE runtime
 * computes on what the client encrypts.
 */
export function forwardDenseView(
  network: SourceNetwork,
  inputs: Float32Array,
  batch: number,
): Float32Array {
  const width = network.layers[0].weights.cols;
  if (inputs.length !== batch * width) {
    throw new HepexError(
      'invalid-argument',
      `Expected ${batch} x ${width} first-layer inputs, got ${inputs.length} values.`,
    );
  }
  let x: Float64Array = Float64Array.from(inputs);
  for (const layer of network.layers) {
    const { rows, cols, data } = layer.weights;
    // A conv row (p, f) reads only position p's patch columns: validateNetwork guarantees the
    // rest of the row is 0, and skipping it makes the pass positions times cheaper.
    const conv = layer.kind === 'conv' ? layer.geometry : undefined;
    const y = new Float64Array(batch * rows);
    for (let s = 0; s < batch; s++) {
      const xo = s * cols;
      for (let r = 0; r < rows; r++) {
        let acc = layer.bias[r];
        const wo = r * cols;
        const c0 = conv ? Math.floor(r / conv.filters) * conv.patchWidth : 0;
        const c1 = conv ? c0 + conv.patchWidth : cols;
        for (let c = c0; c < c1; c++) acc += data[wo + c] * x[xo + c];
        y[s * rows + r] = evaluateActivation(layer.activation, acc);
      }
    }
    x = y;
  }
  return Float32Array.from(x);
}
