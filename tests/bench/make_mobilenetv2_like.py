#!/usr/bin/env python3
# Usage: /usr/bin/python3 tests/bench/make_mobilenetv2_like.py OUT.h5 [SEED] (needs python3-h5py).
# A MobileNetV2-shaped Keras 2 file with trained-like statistics: per-channel weight scales
# spread log-uniformly over two decades, BN gammas spread likewise, ReLU6, residual Adds.
import json, sys, numpy as np, h5py
rng = np.random.default_rng(int(sys.argv[2]) if len(sys.argv) > 2 else 0)
layers, weights = [], {}
def add(cls, name, cfg, inputs):
    cfg = dict(cfg, name=name)
    layers.append({"class_name": cls, "name": name, "config": cfg,
                   "inbound_nodes": [[[i, 0, 0, {}] for i in inputs]] if inputs else []})
    return name
def spread(n, decades=2.0):
    return 10 ** rng.uniform(-decades / 2, decades / 2, n)
def conv(name, x, cin, cout, k=1, stride=1):
    add("Conv2D", name, {"filters": cout, "kernel_size": [k, k], "strides": [stride, stride],
                         "padding": "same", "activation": "linear", "use_bias": False}, [x])
    w = rng.normal(0, 1 / np.sqrt(cin * k * k), (k, k, cin, cout)) * spread(cout)
    weights[name] = {"kernel:0": w.astype(np.float32)}
    return name
def dw(name, x, c, stride=1):
    add("DepthwiseConv2D", name, {"kernel_size": [3, 3], "strides": [stride, stride],
                                  "padding": "same", "depth_multiplier": 1,
                                  "activation": "linear", "use_bias": False}, [x])
    w = rng.normal(0, 1 / 3, (3, 3, c, 1)) * spread(c, 3)[None, None, :, None]
    weights[name] = {"depthwise_kernel:0": w.astype(np.float32)}
    return name
def bn(name, x, c):
    add("BatchNormalization", name, {"axis": -1, "epsilon": 1e-3}, [x])
    weights[name] = {"gamma:0": (spread(c) * rng.uniform(0.5, 2, c)).astype(np.float32),
                     "beta:0": rng.normal(0, 1, c).astype(np.float32),
                     "moving_mean:0": rng.normal(0, 0.5, c).astype(np.float32),
                     "moving_variance:0": (spread(c, 3) * 0.5).astype(np.float32)}
    return name
def relu6(name, x):
    return add("ReLU", name, {"max_value": 6.0}, [x])
x = add("InputLayer", "input_1", {"batch_input_shape": [None, 32, 32, 3]}, [])
x = relu6("Conv1_relu", bn("bn_Conv1", conv("Conv1", x, 3, 32, 3, 2), 32))
cin = 32
blocks = [(1, 16, 1), (6, 24, 2), (6, 24, 1), (6, 32, 2), (6, 32, 1), (6, 64, 2), (6, 64, 1)]
for i, (t, cout, s) in enumerate(blocks):
    p = f"block_{i}_"
    inp = x
    h = x
    if t != 1:
        h = relu6(p + "expand_relu", bn(p + "expand_BN", conv(p + "expand", h, cin, cin * t), cin * t))
    c = cin * t
    h = relu6(p + "depthwise_relu", bn(p + "depthwise_BN", dw(p + "depthwise", h, c, s), c))
    h = bn(p + "project_BN", conv(p + "project", h, c, cout), cout)
    if s == 1 and cin == cout:
        h = add("Add", p + "add", {}, [inp, h])
    x, cin = h, cout
x = relu6("out_relu", bn("Conv_1_bn", conv("Conv_1", x, cin, 128), 128))
x = add("GlobalAveragePooling2D", "gap", {}, [x])
add("Dense", "Logits", {"units": 10, "activation": "linear"}, [x])
weights["Logits"] = {"kernel:0": rng.normal(0, 0.1, (128, 10)).astype(np.float32),
                     "bias:0": np.zeros(10, np.float32)}
cfg = {"class_name": "Functional", "config": {"name": "mnv2", "layers": layers,
       "input_layers": [["input_1", 0, 0]], "output_layers": [["Logits", 0, 0]]}}
with h5py.File(sys.argv[1], "w") as f:
    f.attrs["model_config"] = json.dumps(cfg)
    g = f.create_group("model_weights")
    names = [l["name"] for l in layers]
    g.attrs["layer_names"] = np.array([n.encode() for n in names])
    for n in names:
        lg = g.create_group(n)
        w = weights.get(n, {})
        lg.attrs["weight_names"] = np.array([f"{n}/{k}".encode() for k in w])
        for k, v in w.items():
            lg.create_dataset(f"{n}/{k}", data=v)
