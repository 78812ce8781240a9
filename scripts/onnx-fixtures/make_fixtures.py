"""Builds the ONNX import test fixtures with the real PyTorch exporter.

Each fixture is a small torch model with seeded random weights, exported by torch.onnx.export
to test/fixtures/onnx/<name>.onnx, plus <name>.expected.json with four fixed inputs and what
torch computes on them, so the TypeScript importer's forward pass can be checked against torch
without Python. A few are also exported by the torch.export-based exporter (dynamo=True, the
default since PyTorch 2.9) to <name>.dynamo.onnx: same weights, same expected outputs, but
another opset and other node patterns. Run from the repository root (see README.md beside it):

    python scripts/onnx-fixtures/make_fixtures.py

Inputs are stored as pixels 0..255 (integers, small and exact); the model sees pixels / 255 in
float32, which TypeScript reproduces bit for bit with Math.fround(p / 255).
"""

import json
import pathlib

import onnx
import torch
from torch import nn

OPSET = 13
# Exported a second time with the torch.export-based exporter (needs the onnxscript package).
DYNAMO = {"mlp_square", "cnn_relu"}
SAMPLES = 4
OUT_DIR = pathlib.Path(__file__).resolve().parents[2] / "test" / "fixtures" / "onnx"


class Square(nn.Module):
    """x * x: exports to Mul(x, x)."""

    def forward(self, x):
        return x * x


class PowSquare(nn.Module):
    """x ** 2: exports to Pow(x, 2)."""

    def forward(self, x):
        return x**2


class Poly(nn.Module):
    """0.1 x^2 + 0.5 x + 0.2: exports to Pow, Mul and Add with constants."""

    def forward(self, x):
        return 0.1 * x**2 + 0.5 * x + 0.2


class MatMulMlp(nn.Module):
    """x @ W + b with W stored inputs x outputs: the MatMul + Add form tf2onnx writes for Keras."""

    def __init__(self, sizes):
        super().__init__()
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.randn(a, b) / a**0.5) for a, b in zip(sizes, sizes[1:])]
        )
        self.biases = nn.ParameterList([nn.Parameter(torch.randn(b) * 0.1) for b in sizes[1:]])

    def forward(self, x):
        for k, (w, b) in enumerate(zip(self.weights, self.biases)):
            x = x @ w + b
            if k < len(self.weights) - 1:
                x = x * x
        return x


def mlp(*layers):
    return nn.Sequential(*layers)


def with_running_stats(model):
    """Random BatchNorm statistics and affine parameters, so the normalisation is no identity."""
    for m in model.modules():
        if isinstance(m, nn.BatchNorm1d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return model


def fixtures():
    """(name, model, per-sample input shape, output Softmax or not), each built after a reseed."""
    yield "mlp_relu", lambda: mlp(nn.Linear(784, 16), nn.ReLU(), nn.Linear(16, 10)), [784], False
    yield "mlp_sigmoid_tanh", lambda: mlp(
        nn.Linear(784, 16), nn.Sigmoid(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 10)
    ), [784], False
    yield "mlp_square", lambda: mlp(
        nn.Linear(784, 16),
        Square(),
        nn.Linear(16, 16),
        PowSquare(),
        nn.Linear(16, 16),
        Poly(),
        nn.Linear(16, 10),
    ), [784], False
    yield "mlp_softmax", lambda: mlp(
        nn.Linear(784, 16), nn.Tanh(), nn.Linear(16, 10), nn.Softmax(dim=1)
    ), [784], True
    yield "cnn_relu", lambda: mlp(
        nn.Conv2d(1, 4, 5, stride=2), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 12 * 12, 10)
    ), [1, 28, 28], False
    yield "mlp_matmul", lambda: MatMulMlp([784, 16, 10]), [784], False
    yield "autoencoder_square", lambda: mlp(
        nn.Linear(784, 32), Square(), nn.Linear(32, 784)
    ), [784], False
    yield "unsupported_maxpool", lambda: mlp(
        nn.Conv2d(1, 2, 5), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2 * 12 * 12, 10)
    ), [1, 28, 28], False
    yield "mlp_batchnorm", lambda: with_running_stats(
        mlp(nn.Linear(784, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 10))
    ), [784], False


def floats(t):
    # float32 values printed with 9 significant digits round-trip exactly.
    return [float(f"{v:.9g}") for v in t.detach().reshape(-1).tolist()]


def main():
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for seed, (name, build, shape, softmax) in enumerate(fixtures(), start=1):
        torch.manual_seed(seed)
        model = build().eval()
        pixels = torch.randint(0, 256, (SAMPLES, *shape), dtype=torch.int64)
        x = pixels.to(torch.float32) / 255
        path = OUT_DIR / f"{name}.onnx"
        torch.onnx.export(
            model,
            (x,),
            str(path),
            input_names=["input"],
            output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
        onnx.checker.check_model(onnx.load(str(path)))
        dynamo_opset = None
        if name in DYNAMO:
            dynamo_path = OUT_DIR / f"{name}.dynamo.onnx"
            torch.onnx.export(
                model,
                (x,),
                str(dynamo_path),
                input_names=["input"],
                output_names=["output"],
                dynamic_shapes=({0: torch.export.Dim("batch")},),
                dynamo=True,
                external_data=False,
            )
            exported = onnx.load(str(dynamo_path))
            onnx.checker.check_model(exported)
            dynamo_opset = next(o.version for o in exported.opset_import if o.domain == "")
            print(f"{dynamo_path.name}: {dynamo_path.stat().st_size} bytes, opset {dynamo_opset}")
        with torch.no_grad():
            y = model(x)
            logits = model[:-1](x) if softmax else None
        expected = {
            "model": f"{name}.onnx",
            "torch": torch.__version__,
            "onnx": onnx.__version__,
            "opset": OPSET,
            "inputShape": [SAMPLES, *shape],
            "pixels": pixels.reshape(-1).tolist(),
            "outputShape": list(y.shape),
            "outputs": floats(y),
        }
        if logits is not None:
            expected["logits"] = floats(logits)
        if dynamo_opset is not None:
            expected["dynamoOpset"] = dynamo_opset
        (OUT_DIR / f"{name}.expected.json").write_text(json.dumps(expected) + "\n")
        print(f"{path.name}: {path.stat().st_size} bytes, output {list(y.shape)}")


if __name__ == "__main__":
    main()
