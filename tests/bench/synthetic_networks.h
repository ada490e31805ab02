#pragma once
// MobileNetV2- and InceptionV3-shaped Keras 2 files with random weights (fan-in scaled kernels,
// positive variances), for timing the evaluator on networks of realistic size.
#include <hdf5.h>

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "keras_model.h"
#include "test_util.h"

namespace cle::bench {

using test::json;
using test::Names;

class Builder {
public:
    /// conv (no bias) + batch norm + activation ("linear": none, "relu6": ReLU(max_value 6)).
    std::string convBn(const std::string& name, std::int64_t in, std::int64_t out, long kh, long kw,
                       long stride, const std::string& padding, const std::string& act,
                       const std::string& from = "") {
        m_.layer("Conv2D", name,
                 {{"filters", out},
                  {"kernel_size", {kh, kw}},
                  {"strides", {stride, stride}},
                  {"padding", padding},
                  {"use_bias", false},
                  {"activation", "linear"}},
                 Names{from.empty() ? last_ : from})
            .weights({{"kernel", {kh, kw, in, out}}});
        kernels_.push_back({name + "/" + name + "/kernel:0", kh * kw * in});
        weights_ += kh * kw * in * out;
        return normAct(name, out, act);
    }
    std::string depthwise(const std::string& name, std::int64_t c, long stride) {
        m_.layer("DepthwiseConv2D", name,
                 {{"kernel_size", {3, 3}},
                  {"strides", {stride, stride}},
                  {"padding", "same"},
                  {"use_bias", false},
                  {"activation", "linear"}},
                 Names{last_})
            .weights({{"depthwise_kernel", {3, 3, c, 1}}});
        kernels_.push_back({name + "/" + name + "/depthwise_kernel:0", 9});
        weights_ += 9 * c;
        return normAct(name, c, "relu6");
    }
    std::string layer(const std::string& cls, const std::string& name, json config,
                      const Names& inputs) {
        m_.layer(cls, name, std::move(config), inputs);
        return last_ = name;
    }
    std::string pool(const std::string& cls, const std::string& name, long size, long stride,
                     const std::string& padding, const std::string& from) {
        return layer(
            cls, name,
            {{"pool_size", {size, size}}, {"strides", {stride, stride}}, {"padding", padding}},
            Names{from});
    }
    void classifier(std::int64_t in, std::int64_t classes) {
        layer("GlobalAveragePooling2D", "gap", json::object(), Names{last_});
        m_.dense("predictions", in, classes, {{"activation", "softmax"}});
        kernels_.push_back({"predictions/predictions/kernel:0", in});
        weights_ += in * classes;
    }
    const std::string& last() const { return last_; }
    std::int64_t weights() const { return weights_; }

    void write(const std::string& path) const {
        m_.write(path);
        hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        for (const auto& [path, fanIn] : kernels_) {
            const float s = std::sqrt(6.f / float(fanIn));
            rewrite(f, "/model_weights/" + path, [s](float v) { return v * s; });
        }
        for (const auto& bn : norms_)
            rewrite(f, "/model_weights/" + bn + "/" + bn + "/moving_variance:0",
                    [](float v) { return 0.5f + std::abs(v); });
        H5Fclose(f);
    }

private:
    std::string normAct(const std::string& name, std::int64_t c, const std::string& act) {
        m_.batchNorm(name + "_bn", c);
        norms_.push_back(name + "_bn");
        last_ = name + "_bn";
        if (act == "relu6") return layer("ReLU", name + "_relu", {{"max_value", 6.0}}, {last_});
        if (act != "linear")
            return layer("Activation", name + "_act", {{"activation", act}}, {last_});
        return last_;
    }
    template <class F>
    static void rewrite(hid_t f, const std::string& path, F change) {
        hid_t d = H5Dopen2(f, path.c_str(), H5P_DEFAULT);
        hid_t space = H5Dget_space(d);
        std::vector<float> v(size_t(H5Sget_simple_extent_npoints(space)));
        H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
        for (auto& x : v) x = change(x);
        H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());
        H5Sclose(space);
        H5Dclose(d);
    }

    test::KerasModel m_;
    std::vector<std::pair<std::string, std::int64_t>> kernels_;
    std::vector<std::string> norms_;
    std::string last_ = "input";
    std::int64_t weights_ = 0;
};

/// MobileNetV2 (width 1.0): 3.5 M weights; input 224 x 224 x 3 (give it as the input shape).
inline Builder mobileNetV2() {
    Builder b;
    b.convBn("stem", 3, 32, 3, 3, 2, "same", "relu6");
    const long blocks[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                               {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
    std::int64_t in = 32;
    int k = 0;
    for (const auto& [t, c, n, s] : blocks)
        for (long i = 0; i < n; ++i, ++k) {
            const std::string p = "block" + std::to_string(k);
            const std::string start = b.last();
            if (t != 1) b.convBn(p + "_expand", in, in * t, 1, 1, 1, "same", "relu6");
            b.depthwise(p + "_dw", in * t, i == 0 ? s : 1);
            b.convBn(p + "_project", in * t, c, 1, 1, 1, "same", "linear");
            if (i > 0 && in == c) b.layer("Add", p + "_add", json::object(), {start, b.last()});
            in = c;
        }
    b.convBn("head", 320, 1280, 1, 1, 1, "same", "relu6");
    b.classifier(1280, 1000);
    return b;
}

namespace detail {

inline std::string inceptionA(Builder& b, const std::string& p, std::int64_t in, std::int64_t pf) {
    const std::string x = b.last();
    auto b1 = b.convBn(p + "_1x1", in, 64, 1, 1, 1, "same", "relu", x);
    b.convBn(p + "_5a", in, 48, 1, 1, 1, "same", "relu", x);
    auto b5 = b.convBn(p + "_5b", 48, 64, 5, 5, 1, "same", "relu");
    b.convBn(p + "_3a", in, 64, 1, 1, 1, "same", "relu", x);
    b.convBn(p + "_3b", 64, 96, 3, 3, 1, "same", "relu");
    auto b3 = b.convBn(p + "_3c", 96, 96, 3, 3, 1, "same", "relu");
    b.pool("AveragePooling2D", p + "_pool", 3, 1, "same", x);
    auto bp = b.convBn(p + "_pp", in, pf, 1, 1, 1, "same", "relu");
    return b.layer("Concatenate", p, {{"axis", -1}}, {b1, b5, b3, bp});
}

inline std::string inceptionC(Builder& b, const std::string& p, std::int64_t c7) {
    const std::string x = b.last();
    auto b1 = b.convBn(p + "_1x1", 768, 192, 1, 1, 1, "same", "relu", x);
    b.convBn(p + "_7a", 768, c7, 1, 1, 1, "same", "relu", x);
    b.convBn(p + "_7b", c7, c7, 1, 7, 1, "same", "relu");
    auto b7 = b.convBn(p + "_7c", c7, 192, 7, 1, 1, "same", "relu");
    b.convBn(p + "_da", 768, c7, 1, 1, 1, "same", "relu", x);
    b.convBn(p + "_db", c7, c7, 7, 1, 1, "same", "relu");
    b.convBn(p + "_dc", c7, c7, 1, 7, 1, "same", "relu");
    b.convBn(p + "_dd", c7, c7, 7, 1, 1, "same", "relu");
    auto bd = b.convBn(p + "_de", c7, 192, 1, 7, 1, "same", "relu");
    b.pool("AveragePooling2D", p + "_pool", 3, 1, "same", x);
    auto bp = b.convBn(p + "_pp", 768, 192, 1, 1, 1, "same", "relu");
    return b.layer("Concatenate", p, {{"axis", -1}}, {b1, b7, bd, bp});
}

inline std::string inceptionE(Builder& b, const std::string& p, std::int64_t in) {
    const std::string x = b.last();
    auto b1 = b.convBn(p + "_1x1", in, 320, 1, 1, 1, "same", "relu", x);
    auto s = b.convBn(p + "_3a", in, 384, 1, 1, 1, "same", "relu", x);
    auto b3a = b.convBn(p + "_3b", 384, 384, 1, 3, 1, "same", "relu", s);
    auto b3b = b.convBn(p + "_3c", 384, 384, 3, 1, 1, "same", "relu", s);
    b.convBn(p + "_da", in, 448, 1, 1, 1, "same", "relu", x);
    auto d = b.convBn(p + "_db", 448, 384, 3, 3, 1, "same", "relu");
    auto bda = b.convBn(p + "_dc", 384, 384, 1, 3, 1, "same", "relu", d);
    auto bdb = b.convBn(p + "_dd", 384, 384, 3, 1, 1, "same", "relu", d);
    b.pool("AveragePooling2D", p + "_pool", 3, 1, "same", x);
    auto bp = b.convBn(p + "_pp", in, 192, 1, 1, 1, "same", "relu");
    return b.layer("Concatenate", p, {{"axis", -1}}, {b1, b3a, b3b, bda, bdb, bp});
}

}  // namespace detail

/// InceptionV3: about 24 M weights; input 299 x 299 x 3.
inline Builder inceptionV3() {
    Builder b;
    b.convBn("c1", 3, 32, 3, 3, 2, "valid", "relu");
    b.convBn("c2", 32, 32, 3, 3, 1, "valid", "relu");
    b.convBn("c3", 32, 64, 3, 3, 1, "same", "relu");
    b.pool("MaxPooling2D", "p1", 3, 2, "valid", b.last());
    b.convBn("c4", 64, 80, 1, 1, 1, "valid", "relu");
    b.convBn("c5", 80, 192, 3, 3, 1, "valid", "relu");
    b.pool("MaxPooling2D", "p2", 3, 2, "valid", b.last());
    detail::inceptionA(b, "mixed0", 192, 32);
    detail::inceptionA(b, "mixed1", 256, 64);
    detail::inceptionA(b, "mixed2", 288, 64);
    std::string x = b.last();
    auto r3 = b.convBn("mixed3_3", 288, 384, 3, 3, 2, "valid", "relu", x);
    b.convBn("mixed3_da", 288, 64, 1, 1, 1, "same", "relu", x);
    b.convBn("mixed3_db", 64, 96, 3, 3, 1, "same", "relu");
    auto rd = b.convBn("mixed3_dc", 96, 96, 3, 3, 2, "valid", "relu");
    auto rp = b.pool("MaxPooling2D", "mixed3_pool", 3, 2, "valid", x);
    b.layer("Concatenate", "mixed3", {{"axis", -1}}, {r3, rd, rp});
    for (auto [i, c7] : {std::pair{4, 128}, {5, 160}, {6, 160}, {7, 192}})
        detail::inceptionC(b, "mixed" + std::to_string(i), c7);
    x = b.last();
    b.convBn("mixed8_3a", 768, 192, 1, 1, 1, "same", "relu", x);
    auto s3 = b.convBn("mixed8_3b", 192, 320, 3, 3, 2, "valid", "relu");
    b.convBn("mixed8_7a", 768, 192, 1, 1, 1, "same", "relu", x);
    b.convBn("mixed8_7b", 192, 192, 1, 7, 1, "same", "relu");
    b.convBn("mixed8_7c", 192, 192, 7, 1, 1, "same", "relu");
    auto s7 = b.convBn("mixed8_7d", 192, 192, 3, 3, 2, "valid", "relu");
    auto sp = b.pool("MaxPooling2D", "mixed8_pool", 3, 2, "valid", x);
    b.layer("Concatenate", "mixed8", {{"axis", -1}}, {s3, s7, sp});
    detail::inceptionE(b, "mixed9", 1280);
    detail::inceptionE(b, "mixed10", 2048);
    b.classifier(2048, 1000);
    return b;
}

}  // namespace cle::bench
