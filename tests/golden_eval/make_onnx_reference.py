#!/usr/bin/env python3
"""Reference outputs of tests/data/onnx/blazeface_front_128.onnx, computed by a plain NumPy
reading of the ONNX operator definitions (independent of the evaluator in core/src/eval), on
seeded inputs. Writes tests/data/onnx/blazeface_front_128_reference.h5 with `inputs` [N,128,128,3]
and `output_K` per graph output. Usage: python3 make_onnx_reference.py (needs onnx, numpy, h5py).
"""
import os

import h5py
import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "data", "onnx", "blazeface_front_128.onnx")
OUT = os.path.join(HERE, "..", "data", "onnx", "blazeface_front_128_reference.h5")


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def conv(x, w, b, a):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    g = a.get("group", 1)
    sh, sw = a.get("strides", [1, 1])
    pt, pl, pb, pr = a.get("pads", [0, 0, 0, 0])
    x = np.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    y = np.zeros((n, o, oh, ow), np.float64)
    og = o // g
    for gi in range(g):
        xs = x[:, gi * cg:(gi + 1) * cg]
        ws = w[gi * og:(gi + 1) * og]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
                y[:, gi * og:(gi + 1) * og] += np.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def maxpool(x, a):
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    oh = (x.shape[2] - kh) // sh + 1
    ow = (x.shape[3] - kw) // sw + 1
    y = np.full(x.shape[:2] + (oh, ow), -np.inf)
    for i in range(kh):
        for j in range(kw):
            y = np.maximum(y, x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw])
    return y


def run(model, x):
    env = {t.name: numpy_helper.to_array(t).astype(np.float64) if t.data_type == 1
           else numpy_helper.to_array(t) for t in model.graph.initializer}
    env[model.graph.input[0].name] = x.astype(np.float64)
    for node in model.graph.node:
        a = attrs(node)
        i = [env.get(name) if name else None for name in node.input]
        op = node.op_type
        if op == "Conv":
            y = conv(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "Add":
            y = i[0] + i[1]
        elif op == "MaxPool":
            y = maxpool(i[0], a)
        elif op == "Transpose":
            y = np.transpose(i[0], a["perm"])
        elif op == "Reshape":
            y = np.reshape(i[0], [int(d) for d in i[1]])
        elif op == "ConstantOfShape":
            value = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1)
            y = np.full([int(d) for d in i[0]], value.reshape(-1)[0], np.float64)
        elif op == "Concat":
            y = np.concatenate(i, axis=a["axis"])
        else:
            raise SystemExit("op not in the reference: " + op)
        env[node.output[0]] = y
    return [env[o.name] for o in model.graph.output]


def main():
    model = onnx.load(MODEL)
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, (3, 128, 128, 3)).astype(np.float32)
    outputs = [np.concatenate([run(model, x[k:k + 1])[o] for k in range(len(x))])
               for o in range(len(model.graph.output))]
    with h5py.File(OUT, "w") as f:
        f["inputs"] = x
        for k, y in enumerate(outputs):
            f["output_%d" % k] = y.astype(np.float32)
    print(OUT, [y.shape for y in outputs])


if __name__ == "__main__":
    main()
