#!/usr/bin/python3
"""Writes the evaluator's golden cases to tests/data/eval: for each case a Keras 2 .h5 model
(model_config + model_weights) and <case>_io.h5 with `inputs` and the `expected` output, computed
here with PyTorch in float64. Run once with Debian's python3 (python3-torch, python3-h5py,
python3-numpy); the tests only read the files it writes."""
import json
import os
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "eval")
T = torch.float64


def nchw(x):
    return x.permute(0, 3, 1, 2)


def nhwc(x):
    return x.permute(0, 2, 3, 1)


def same_pads(size, k, s, d):
    span = (k - 1) * d + 1
    out = -(-size // s)
    total = max((out - 1) * s + span - size, 0)
    return total // 2, total - total // 2


ACTS = {
    "linear": lambda x: x,
    "relu": F.relu,
    "relu6": lambda x: torch.clamp(x, 0, 6),
    "sigmoid": torch.sigmoid,
    "hard_sigmoid": lambda x: torch.clamp(0.2 * x + 0.5, 0, 1),
    "tanh": torch.tanh,
    "softmax": lambda x: torch.softmax(x, dim=-1),
    "swish": lambda x: x * torch.sigmoid(x),
    "silu": lambda x: x * torch.sigmoid(x),
    "elu": F.elu,
    "selu": F.selu,
    "gelu": F.gelu,
}


class Net:
    def __init__(self, name, shape, seed):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.layers = []  # (class, name, config, inputs)
        self.weights = {}  # layer -> [(var, array)]
        self.nested = {}  # nested model name -> Net
        self.shape = shape
        self.x = None
        self.layer("InputLayer", "input", {"batch_input_shape": [None] + list(shape),
                                           "dtype": "float32"}, [])
        self.x = torch.tensor(self.rand([3] + list(shape)), dtype=T)
        self.t = {"input": self.x}
        self.last = "input"

    def rand(self, shape, lo=-1.0, hi=1.0):
        return self.rng.uniform(lo, hi, shape).astype(np.float32)

    def layer(self, cls, name, config, inputs=None, value=None):
        config = dict(config, name=name)
        inputs = [self.last] if inputs is None else inputs
        self.layers.append((cls, name, config, inputs))
        if value is not None:
            self.t[name] = value
        self.last = name
        return name

    def ins(self, inputs):
        return [self.t[i] for i in ([self.last] if inputs is None else inputs)]

    def conv(self, name, filters, k, strides=(1, 1), padding="valid", dilation=(1, 1), groups=1,
             act="linear", inputs=None):
        x = self.ins(inputs)[0]
        cin = x.shape[-1]
        w = self.rand([k[0], k[1], cin // groups, filters])
        b = self.rand([filters])
        self.weights[name] = [("kernel", w), ("bias", b)]
        xt = nchw(x)
        if padding == "same":
            ph = same_pads(x.shape[1], k[0], strides[0], dilation[0])
            pw = same_pads(x.shape[2], k[1], strides[1], dilation[1])
            xt = F.pad(xt, (pw[0], pw[1], ph[0], ph[1]))
        wt = torch.tensor(w, dtype=T).permute(3, 2, 0, 1)
        y = F.conv2d(xt, wt, torch.tensor(b, dtype=T), strides, 0, dilation, groups)
        cfg = {"filters": filters, "kernel_size": list(k), "strides": list(strides),
               "padding": padding, "dilation_rate": list(dilation), "groups": groups,
               "activation": act, "use_bias": True, "data_format": "channels_last"}
        return self.layer("Conv2D", name, cfg, inputs, ACTS[act](nhwc(y)))

    def conv1d(self, name, filters, k, strides=1, padding="valid", dilation=1, act="linear"):
        x = self.ins(None)[0]
        w = self.rand([k, x.shape[-1], filters])
        b = self.rand([filters])
        self.weights[name] = [("kernel", w), ("bias", b)]
        xt = x.permute(0, 2, 1)
        span = (k - 1) * dilation + 1
        if padding == "same":
            xt = F.pad(xt, same_pads(x.shape[1], k, strides, dilation))
        elif padding == "causal":
            xt = F.pad(xt, (span - 1, 0))
        y = F.conv1d(xt, torch.tensor(w, dtype=T).permute(2, 1, 0), torch.tensor(b, dtype=T),
                     strides, 0, dilation)
        cfg = {"filters": filters, "kernel_size": [k], "strides": [strides], "padding": padding,
               "dilation_rate": [dilation], "activation": act, "use_bias": True}
        return self.layer("Conv1D", name, cfg, None, ACTS[act](y.permute(0, 2, 1)))

    def depthwise_t(self, x, w, strides, padding, mult):
        cin = x.shape[-1]
        xt = nchw(x)
        if padding == "same":
            ph = same_pads(x.shape[1], w.shape[0], strides[0], 1)
            pw = same_pads(x.shape[2], w.shape[1], strides[1], 1)
            xt = F.pad(xt, (pw[0], pw[1], ph[0], ph[1]))
        wt = torch.tensor(w, dtype=T).reshape(w.shape[0], w.shape[1], cin * mult)
        wt = wt.permute(2, 0, 1).unsqueeze(1)
        return nhwc(F.conv2d(xt, wt, None, strides, 0, 1, cin))

    def depthwise(self, name, k, strides=(1, 1), padding="valid", mult=1, act="linear"):
        x = self.ins(None)[0]
        w = self.rand([k[0], k[1], x.shape[-1], mult])
        b = self.rand([x.shape[-1] * mult])
        self.weights[name] = [("depthwise_kernel", w), ("bias", b)]
        y = self.depthwise_t(x, w, strides, padding, mult) + torch.tensor(b, dtype=T)
        cfg = {"kernel_size": list(k), "strides": list(strides), "padding": padding,
               "depth_multiplier": mult, "activation": act, "use_bias": True}
        return self.layer("DepthwiseConv2D", name, cfg, None, ACTS[act](y))

    def separable(self, name, filters, k, strides=(1, 1), padding="valid", mult=1, act="linear"):
        x = self.ins(None)[0]
        cin = x.shape[-1]
        dw = self.rand([k[0], k[1], cin, mult])
        pw = self.rand([1, 1, cin * mult, filters])
        b = self.rand([filters])
        self.weights[name] = [("depthwise_kernel", dw), ("pointwise_kernel", pw), ("bias", b)]
        d = self.depthwise_t(x, dw, strides, padding, mult)
        y = d @ torch.tensor(pw[0, 0], dtype=T) + torch.tensor(b, dtype=T)
        cfg = {"filters": filters, "kernel_size": list(k), "strides": list(strides),
               "padding": padding, "depth_multiplier": mult, "activation": act, "use_bias": True}
        return self.layer("SeparableConv2D", name, cfg, None, ACTS[act](y))

    def dense(self, name, units, act="linear", inputs=None):
        x = self.ins(inputs)[0]
        w = self.rand([x.shape[-1], units])
        b = self.rand([units])
        self.weights[name] = [("kernel", w), ("bias", b)]
        y = x @ torch.tensor(w, dtype=T) + torch.tensor(b, dtype=T)
        cfg = {"units": units, "activation": act, "use_bias": True}
        return self.layer("Dense", name, cfg, inputs, ACTS[act](y))

    def bn(self, name, axis=-1, eps=1e-3):
        x = self.ins(None)[0]
        n = x.shape[axis]
        g, b = self.rand([n], 0.5, 1.5), self.rand([n])
        m, v = self.rand([n]), self.rand([n], 0.2, 2.0)
        self.weights[name] = [("gamma", g), ("beta", b), ("moving_mean", m),
                              ("moving_variance", v)]
        shape = [1] * x.dim()
        shape[axis] = n
        p = [torch.tensor(a, dtype=T).reshape(shape) for a in (g, b, m, v)]
        y = (x - p[2]) / torch.sqrt(p[3] + eps) * p[0] + p[1]
        return self.layer("BatchNormalization", name, {"axis": axis, "epsilon": eps}, None, y)

    def apply(self, cls, name, config, fn, inputs=None):
        return self.layer(cls, name, config, inputs, fn(*self.ins(inputs)))

    def config(self):
        layers = []
        for cls, name, cfg, inputs in self.layers:
            if cls == "__nested__":
                inner = self.nested[name]
                layers.append({"class_name": "Functional", "name": name,
                               "config": inner.config()["config"],
                               "inbound_nodes": [[[i, 0, 0, {}] for i in inputs]]})
                continue
            inbound = [[[i, 0, 0, {}] for i in inputs]] if inputs else []
            layers.append({"class_name": cls, "name": name, "config": cfg,
                           "inbound_nodes": inbound})
        return {"class_name": "Functional",
                "config": {"name": self.name, "layers": layers,
                           "input_layers": [["input", 0, 0]],
                           "output_layers": [[self.last, 0, 0]]}}

    def write(self):
        path = os.path.join(OUT, self.name + ".h5")
        with h5py.File(path, "w") as f:
            f.attrs["model_config"] = json.dumps(self.config())
            f.attrs["keras_version"] = "2.13.1"
            f.attrs["backend"] = "tensorflow"
            mw = f.create_group("model_weights")
            names = [l[1] for l in self.layers]
            mw.attrs["layer_names"] = np.array([n.encode() for n in names])
            mw.attrs["keras_version"] = "2.13.1"
            mw.attrs["backend"] = "tensorflow"
            for name in names:
                g = mw.create_group(name)
                wn = []
                if name in self.nested:
                    inner = self.nested[name]
                    for lname, ws in inner.weights.items():
                        for var, arr in ws:
                            wn.append(f"{lname}/{var}:0")
                            g.create_dataset(f"{lname}/{var}:0", data=arr)
                else:
                    for var, arr in self.weights.get(name, []):
                        wn.append(f"{name}/{var}:0")
                        g.create_dataset(f"{name}/{var}:0", data=arr)
                g.attrs["weight_names"] = np.array([w.encode() for w in wn], dtype="S")
        with h5py.File(os.path.join(OUT, self.name + "_io.h5"), "w") as f:
            f.create_dataset("inputs", data=self.x.numpy().astype(np.float32))
            f.create_dataset("expected", data=self.t[self.last].numpy())
        print(self.name, tuple(self.t[self.last].shape))


def pool2d(x, k, s, padding, kind):
    xt = nchw(x)
    ph = same_pads(x.shape[1], k[0], s[0], 1) if padding == "same" else (0, 0)
    pw = same_pads(x.shape[2], k[1], s[1], 1) if padding == "same" else (0, 0)
    pads = (pw[0], pw[1], ph[0], ph[1])
    if kind == "max":
        return nhwc(F.max_pool2d(F.pad(xt, pads, value=-float("inf")), k, s))
    total = F.avg_pool2d(F.pad(xt, pads), k, s) * (k[0] * k[1])
    count = F.avg_pool2d(F.pad(torch.ones_like(xt), pads), k, s) * (k[0] * k[1])
    return nhwc(total / count)


def pool1d(x, k, s, padding, kind):
    return pool2d(x.unsqueeze(1), (1, k), (1, s), padding, kind)[:, 0]


def case_conv():
    n = Net("conv", [9, 11, 4], 1)
    n.conv("c1", 6, (3, 3), (2, 2), "same", act="relu")
    n.conv("c2", 6, (3, 2), (1, 1), "same", (2, 1), act="tanh")
    n.conv("c3", 4, (2, 2), (1, 2), "valid", groups=2, act="sigmoid")
    n.conv("c4", 5, (1, 1), act="swish")
    n.conv("c5", 3, (3, 3), (2, 1), "valid", act="elu")
    n.apply("Flatten", "flat", {}, lambda x: x.reshape(x.shape[0], -1))
    n.dense("fc", 4, act="softmax")
    return n


def case_conv1d():
    n = Net("conv1d", [13, 3], 2)
    n.conv1d("a", 4, 3, 2, "same", act="relu")
    n.conv1d("b", 5, 2, 1, "causal", 2, act="selu")
    n.apply("MaxPooling1D", "mp", {"pool_size": [2], "strides": [2], "padding": "valid"},
            lambda x: pool1d(x, 2, 2, "valid", "max"))
    n.apply("AveragePooling1D", "ap", {"pool_size": [3], "strides": [1], "padding": "same"},
            lambda x: pool1d(x, 3, 1, "same", "avg"))
    n.apply("ZeroPadding1D", "zp", {"padding": [1, 2]}, lambda x: F.pad(x, (0, 0, 1, 2)))
    n.apply("Cropping1D", "crop", {"cropping": [2, 1]}, lambda x: x[:, 2:-1, :])
    n.apply("SpatialDropout1D", "sdrop", {"rate": 0.3}, lambda x: x)
    n.apply("GaussianDropout", "gdrop", {"rate": 0.3}, lambda x: x)
    a = n.apply("GlobalMaxPooling1D", "gmp", {}, lambda x: x.amax(dim=1))
    b = n.apply("GlobalAveragePooling1D", "gap", {}, lambda x: x.mean(dim=1), inputs=["gdrop"])
    n.apply("Concatenate", "cat", {"axis": -1}, lambda *xs: torch.cat(xs, dim=-1), inputs=[a, b])
    n.dense("fc", 3, act="gelu")
    return n


def case_depthwise():
    n = Net("depthwise", [10, 9, 3], 3)
    n.depthwise("dw", (3, 3), (2, 2), "same", 2)
    n.bn("dw_bn")
    n.apply("ReLU", "r6", {"max_value": 6.0, "negative_slope": 0.0, "threshold": 0.0},
            lambda x: torch.clamp(x, 0, 6))
    n.separable("sep", 5, (3, 3), (1, 1), "same")
    n.bn("sep_bn")
    n.apply("Activation", "act", {"activation": "relu6"}, lambda x: torch.clamp(x, 0, 6))
    n.depthwise("dw2", (2, 2), (1, 1), "valid", 1, act="hard_sigmoid")
    n.separable("sep2", 4, (2, 2), (2, 2), "valid", 2, act="relu")
    n.apply("GlobalAveragePooling2D", "gap", {}, lambda x: x.mean(dim=(1, 2)))
    n.dense("fc", 3)
    return n


def case_pooling():
    n = Net("pooling", [11, 10, 3], 4)
    n.apply("ZeroPadding2D", "zp", {"padding": [[1, 2], [0, 1]]},
            lambda x: F.pad(x, (0, 0, 0, 1, 1, 2)))
    a = n.apply("MaxPooling2D", "mp", {"pool_size": [3, 3], "strides": [2, 2], "padding": "same"},
                lambda x: pool2d(x, (3, 3), (2, 2), "same", "max"))
    b = n.apply("AveragePooling2D", "ap", {"pool_size": [3, 3], "strides": [2, 2],
                                            "padding": "same"},
                lambda x: pool2d(x, (3, 3), (2, 2), "same", "avg"), inputs=["zp"])
    c = n.apply("AveragePooling2D", "ap2", {"pool_size": [2, 2], "strides": None,
                                             "padding": "valid"},
                lambda x: pool2d(x, (2, 2), (2, 2), "valid", "avg"), inputs=["zp"])
    c = n.apply("ZeroPadding2D", "zp2", {"padding": [[0, 0], [0, 1]]},
                lambda x: F.pad(x, (0, 0, 0, 1, 0, 0)))
    n.apply("Concatenate", "cat", {"axis": -1}, lambda *xs: torch.cat(xs, dim=-1),
            inputs=[a, b, c])
    n.apply("Cropping2D", "crop", {"cropping": [[1, 0], [1, 2]]}, lambda x: x[:, 1:, 1:-2, :])
    n.apply("UpSampling2D", "up", {"size": [2, 3], "interpolation": "nearest"},
            lambda x: x.repeat_interleave(2, dim=1).repeat_interleave(3, dim=2))
    n.apply("UpSampling2D", "upb", {"size": [2, 2], "interpolation": "bilinear"},
            lambda x: nhwc(F.interpolate(nchw(x), scale_factor=2, mode="bilinear",
                                         align_corners=False)))
    n.apply("GlobalMaxPooling2D", "gmp", {}, lambda x: x.amax(dim=(1, 2)))
    return n


def case_activations():
    n = Net("activations", [4, 6], 5)
    outs = []
    for i, act in enumerate(["linear", "relu", "relu6", "sigmoid", "hard_sigmoid", "tanh",
                             "softmax", "swish", "silu", "elu", "selu", "gelu"]):
        n.dense(f"d_{act}", 5, act=act, inputs=["input"])
        outs.append(n.apply("Rescaling", f"s_{act}", {"scale": 3.0, "offset": 0.0},
                            lambda x: x * 3.0))
    base = n.dense("base", 5, inputs=["input"])
    alpha = n.rand([4, 5])
    extra = [
        ("ReLU", {"max_value": 4.0, "negative_slope": 0.1, "threshold": 0.5},
         lambda x: torch.where(x >= 4.0, torch.full_like(x, 4.0),
                               torch.where(x >= 0.5, x, 0.1 * (x - 0.5)))),
        ("LeakyReLU", {"alpha": 0.2}, lambda x: F.leaky_relu(x, 0.2)),
        ("ELU", {"alpha": 0.7}, lambda x: F.elu(x, 0.7)),
        ("ThresholdedReLU", {"theta": 0.3}, lambda x: torch.where(x > 0.3, x, 0 * x)),
        ("Softmax", {"axis": 1}, lambda x: torch.softmax(x, dim=1)),
        ("Rescaling", {"scale": 0.5, "offset": 0.25}, lambda x: x * 0.5 + 0.25),
        ("PReLU", {"shared_axes": None},
         lambda x: torch.where(x > 0, x, x * torch.tensor(alpha, dtype=T))),
    ]
    for cls, cfg, fn in extra:
        name = "x_" + cls.lower()
        outs.append(n.apply(cls, name, cfg, fn, inputs=[base]))
        if cls == "PReLU":
            n.weights[name] = [("alpha", alpha)]
    n.apply("Concatenate", "cat", {"axis": -1}, lambda *xs: torch.cat(xs, dim=-1), inputs=outs)
    return n


def case_merges():
    n = Net("merges", [5, 4, 3], 6)
    a = n.conv("a", 4, (3, 3), padding="same", inputs=["input"])
    b = n.conv("b", 4, (1, 1), inputs=["input"])
    outs = []
    ops = {"Add": lambda x, y: x + y, "Subtract": lambda x, y: x - y,
           "Multiply": lambda x, y: x * y, "Average": lambda x, y: (x + y) / 2,
           "Maximum": torch.maximum, "Minimum": torch.minimum}
    for cls, fn in ops.items():
        outs.append(n.apply(cls, "m_" + cls.lower(), {}, fn, inputs=[a, b]))
    n.apply("Concatenate", "cat", {"axis": 1}, lambda *xs: torch.cat(xs, dim=1), inputs=outs)
    n.bn("bn_h", axis=1)
    n.apply("Dropout", "drop", {"rate": 0.5}, lambda x: x)
    n.apply("GaussianNoise", "noise", {"stddev": 0.1}, lambda x: x)
    n.apply("Permute", "perm", {"dims": [3, 1, 2]}, lambda x: x.permute(0, 3, 1, 2))
    n.apply("Reshape", "resh", {"target_shape": [4, -1]}, lambda x: x.reshape(x.shape[0], 4, -1))
    n.dense("fc", 3, act="tanh")
    n.apply("Flatten", "flat", {}, lambda x: x.reshape(x.shape[0], -1))
    return n


def case_nested():
    inner = Net("backbone", [6, 6, 3], 7)
    inner.conv("conv_a", 5, (3, 3), padding="same")
    inner.bn("bn_a")
    inner.apply("ReLU", "relu_a", {}, F.relu)
    inner.conv("conv_b", 4, (1, 1), act="relu")
    n = Net("nested", [6, 6, 3], 8)
    inner.x = n.x
    inner.t = {"input": n.x}
    inner.last = "input"
    # recompute the inner graph on the outer input
    saved = inner.layers[1:]
    inner.layers = inner.layers[:1]
    rng_state = np.random.default_rng(7)
    inner.rng = rng_state
    inner.weights = {}
    inner.conv("conv_a", 5, (3, 3), padding="same")
    inner.bn("bn_a")
    inner.apply("ReLU", "relu_a", {}, F.relu)
    inner.conv("conv_b", 4, (1, 1), act="relu")
    n.nested["backbone"] = inner
    n.layers.append(("__nested__", "backbone", {}, ["input"]))
    n.t["backbone"] = inner.t[inner.last]
    n.last = "backbone"
    n.apply("GlobalAveragePooling2D", "gap", {}, lambda x: x.mean(dim=(1, 2)))
    n.dense("fc", 3)
    return n


def sample_golden():
    """The bundled sample (resources/tiny_face_detector_keras.h5) on one input."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "resources",
                        "tiny_face_detector_keras.h5")
    f = h5py.File(path, "r")
    config = json.loads(f.attrs["model_config"])
    mw = f["model_weights"]

    def w(layer, var):
        return torch.tensor(np.array(mw[layer][layer][var + ":0"]), dtype=T)

    rng = np.random.default_rng(11)
    x32 = rng.uniform(-1, 1, (1, 416, 416, 3)).astype(np.float32)
    x = nchw(torch.tensor(x32, dtype=T))
    for layer in config["config"]["layers"][1:]:
        cls, name, cfg = layer["class_name"], layer["name"], layer["config"]
        if cls == "Conv2D":
            x = F.conv2d(x, w(name, "kernel").permute(3, 2, 0, 1), w(name, "bias"))
        elif cls == "LeakyReLU":
            x = F.leaky_relu(x, cfg.get("alpha", 0.3))
        elif cls == "MaxPooling2D":
            s = cfg["strides"][0]
            ph, pw = same_pads(x.shape[2], 2, s, 1), same_pads(x.shape[3], 2, s, 1)
            x = F.max_pool2d(F.pad(x, (pw[0], pw[1], ph[0], ph[1]), value=-float("inf")), 2, s)
        elif cls == "SeparableConv2D":
            dk = w(name, "depthwise_kernel")
            c = dk.shape[2]
            dk = dk.reshape(3, 3, c).permute(2, 0, 1).unsqueeze(1)
            x = F.conv2d(F.pad(x, (1, 1, 1, 1)), dk, None, 1, 0, 1, c)
            pk = w(name, "pointwise_kernel")[0, 0].t().unsqueeze(-1).unsqueeze(-1)
            x = F.conv2d(x, pk, w(name, "bias"))
        else:
            raise ValueError(cls)
    with h5py.File(os.path.join(OUT, "tiny_face_io.h5"), "w") as out:
        out.create_dataset("inputs", data=x32)
        out.create_dataset("expected", data=nhwc(x).numpy())
    print("tiny_face", tuple(x.shape))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    sample_golden()
    for make in [case_conv, case_conv1d, case_depthwise, case_pooling, case_activations,
                 case_merges, case_nested]:
        make().write()
