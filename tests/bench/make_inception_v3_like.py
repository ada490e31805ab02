#!/usr/bin/env python3
# Usage: /usr/bin/python3 tests/bench/make_inception_v3_like.py OUT.h5 [PAIRS.json] [SEED]
# (needs python3-h5py). A PyTorch state dict with InceptionV3's convolution shapes (torchvision's
# layer names and [out, in, kh, kw] kernels, batch norms folded into a bias, aux classifier and
# fc included: 23.8 M weights) and trained-like imbalance: per-output-channel scales spread
# log-normally. PAIRS.json gets the 45 pairs CLE can make inside the branches, as the JSON
# `cle --pairs-file` reads.
import json, sys, numpy as np, h5py

rng = np.random.default_rng(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
shapes = {}  # name -> [out, in, kh, kw] in file order
groups = []


def conv(name, cin, cout, kh, kw=None):
    shapes[name] = [cout, cin, kh, kh if kw is None else kw]
    return name


def stem():
    groups.append([conv("Conv2d_1a_3x3", 3, 32, 3), conv("Conv2d_2a_3x3", 32, 32, 3),
                   conv("Conv2d_2b_3x3", 32, 64, 3), conv("Conv2d_3b_1x1", 64, 80, 1),
                   conv("Conv2d_4a_3x3", 80, 192, 3)])


def inception_a(p, cin, pool):
    conv(p + ".branch1x1", cin, 64, 1)
    groups.append([conv(p + ".branch5x5_1", cin, 48, 1), conv(p + ".branch5x5_2", 48, 64, 5)])
    groups.append([conv(p + ".branch3x3dbl_1", cin, 64, 1), conv(p + ".branch3x3dbl_2", 64, 96, 3),
                   conv(p + ".branch3x3dbl_3", 96, 96, 3)])
    conv(p + ".branch_pool", cin, pool, 1)


def inception_b(p, cin):
    conv(p + ".branch3x3", cin, 384, 3)
    groups.append([conv(p + ".branch3x3dbl_1", cin, 64, 1), conv(p + ".branch3x3dbl_2", 64, 96, 3),
                   conv(p + ".branch3x3dbl_3", 96, 96, 3)])


def inception_c(p, cin, c7):
    conv(p + ".branch1x1", cin, 192, 1)
    groups.append([conv(p + ".branch7x7_1", cin, c7, 1), conv(p + ".branch7x7_2", c7, c7, 1, 7),
                   conv(p + ".branch7x7_3", c7, 192, 7, 1)])
    groups.append([conv(p + ".branch7x7dbl_1", cin, c7, 1),
                   conv(p + ".branch7x7dbl_2", c7, c7, 7, 1),
                   conv(p + ".branch7x7dbl_3", c7, c7, 1, 7),
                   conv(p + ".branch7x7dbl_4", c7, c7, 7, 1),
                   conv(p + ".branch7x7dbl_5", c7, 192, 1, 7)])
    conv(p + ".branch_pool", cin, 192, 1)


def inception_d(p, cin):
    groups.append([conv(p + ".branch3x3_1", cin, 192, 1), conv(p + ".branch3x3_2", 192, 320, 3)])
    groups.append([conv(p + ".branch7x7x3_1", cin, 192, 1),
                   conv(p + ".branch7x7x3_2", 192, 192, 1, 7),
                   conv(p + ".branch7x7x3_3", 192, 192, 7, 1),
                   conv(p + ".branch7x7x3_4", 192, 192, 3)])


def inception_e(p, cin):
    conv(p + ".branch1x1", cin, 320, 1)
    conv(p + ".branch3x3_1", cin, 384, 1)  # feeds two branches: no pair
    conv(p + ".branch3x3_2a", 384, 384, 1, 3)
    conv(p + ".branch3x3_2b", 384, 384, 3, 1)
    groups.append([conv(p + ".branch3x3dbl_1", cin, 448, 1),
                   conv(p + ".branch3x3dbl_2", 448, 384, 3)])
    conv(p + ".branch3x3dbl_3a", 384, 384, 1, 3)
    conv(p + ".branch3x3dbl_3b", 384, 384, 3, 1)
    conv(p + ".branch_pool", cin, 192, 1)


stem()
inception_a("Mixed_5b", 192, 32)
inception_a("Mixed_5c", 256, 64)
inception_a("Mixed_5d", 288, 64)
inception_b("Mixed_6a", 288)
for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
    inception_c(name, 768, c7)
conv("AuxLogits.conv0", 768, 128, 1)
conv("AuxLogits.conv1", 128, 768, 5)
inception_d("Mixed_7a", 768)
inception_e("Mixed_7b", 1280)
inception_e("Mixed_7c", 2048)

with h5py.File(sys.argv[1], "w") as f:
    for name, (cout, cin, kh, kw) in shapes.items():
        scale = np.exp(rng.normal(0, 1.0, (cout, 1, 1, 1)))
        w = rng.normal(0, 1 / np.sqrt(cin * kh * kw), (cout, cin, kh, kw)) * scale
        f[name + ".weight"] = w.astype(np.float32)
        f[name + ".bias"] = rng.normal(0, 0.1, cout).astype(np.float32)
    f["fc.weight"] = rng.normal(0, 0.02, (1000, 2048)).astype(np.float32)
    f["fc.bias"] = np.zeros(1000, np.float32)
if len(sys.argv) > 2:
    with open(sys.argv[2], "w") as f:
        json.dump({"groups": groups}, f)
