#include "keras_forward.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "cle/core/model.h"
#include "test_util.h"

namespace cle::test {

namespace {

using json = nlohmann::json;

struct Context {
    std::string file;
    core::Model model;
    std::string group;  ///< the top-level layer whose group holds this graph's weights ("" = own)
    bool relu6AsRelu = false;
};

const core::Layer& weights(const Context& ctx, const std::string& name) {
    const core::Layer* l = ctx.model.find(ctx.group.empty() ? name : ctx.group + "/" + name);
    if (!l) throw std::runtime_error("no weights for layer " + name);
    return *l;
}

// Conv2D (depthwise when `depthwise`), stride 1, kernel [kh, kw, in, out] or [kh, kw, c, 1].
Image conv(const Image& x, const core::Layer& l, bool same, bool depthwise) {
    const auto& k = l.weight;
    long kh = k.shape[0], kw = k.shape[1], in = k.shape[2];
    long out = depthwise ? in : k.shape[3];
    long ph = same ? (kh - 1) / 2 : 0, pw = same ? (kw - 1) / 2 : 0;
    Image y{same ? x.h : x.h - kh + 1, same ? x.w : x.w - kw + 1, out, {}};
    y.v.assign(size_t(y.h * y.w * out), 0.0);
    for (long i = 0; i < y.h; ++i)
        for (long j = 0; j < y.w; ++j)
            for (long o = 0; o < out; ++o) {
                double s = l.bias ? l.bias->values[size_t(o)] : 0.0;
                for (long a = 0; a < kh; ++a)
                    for (long b = 0; b < kw; ++b) {
                        long r = i + a - ph, c = j + b - pw;
                        if (r < 0 || c < 0 || r >= x.h || c >= x.w) continue;
                        const double* px = &x.v[size_t((r * x.w + c) * x.c)];
                        if (depthwise) {
                            s += px[o] * k.values[size_t((a * kw + b) * in + o)];
                            continue;
                        }
                        for (long n = 0; n < in; ++n)
                            s += px[n] * k.values[size_t(((a * kw + b) * in + n) * out + o)];
                    }
                y.v[size_t((i * y.w + j) * out + o)] = s;
            }
    return y;
}

// MaxPooling2D with TensorFlow's padding: 'same' pads (pool - stride) at the bottom and right
// first, and padded positions never win.
Image maxPool(const Image& x, const json& cfg) {
    long p = cfg["pool_size"][0], st = cfg.contains("strides") ? cfg["strides"][0].get<long>() : p;
    bool same = cfg.value("padding", std::string("valid")) == "same";
    auto outSize = [&](long n) { return same ? (n + st - 1) / st : (n - p) / st + 1; };
    auto padBefore = [&](long n) {
        return same ? std::max((outSize(n) - 1) * st + p - n, 0L) / 2 : 0L;
    };
    Image y{outSize(x.h), outSize(x.w), x.c, {}};
    y.v.assign(size_t(y.h * y.w * y.c), -INFINITY);
    long ph = padBefore(x.h), pw = padBefore(x.w);
    for (long i = 0; i < y.h; ++i)
        for (long j = 0; j < y.w; ++j)
            for (long a = 0; a < p; ++a)
                for (long b = 0; b < p; ++b) {
                    long r = i * st + a - ph, c = j * st + b - pw;
                    if (r < 0 || c < 0 || r >= x.h || c >= x.w) continue;
                    for (long k = 0; k < x.c; ++k) {
                        double& m = y.v[size_t((i * y.w + j) * y.c + k)];
                        m = std::max(m, x.v[size_t((r * x.w + c) * x.c + k)]);
                    }
                }
    return y;
}

std::vector<float> bnVector(const Context& ctx, const std::string& bn, const char* var, long n,
                            float fallback) {
    std::string owner = ctx.group.empty() ? bn : ctx.group;
    std::string path = "/model_weights/" + owner + "/" + bn + "/" + var + ":0";
    hid_t f = H5Fopen(ctx.file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    bool exists = H5Lexists(f, path.c_str(), H5P_DEFAULT) > 0;
    H5Fclose(f);
    if (!exists) return std::vector<float>(size_t(n), fallback);
    return readFloats(ctx.file, path);
}

Image batchNorm(const Context& ctx, const json& cfg, const std::string& name, Image x) {
    double eps = cfg.value("epsilon", 1e-3);
    auto gamma = bnVector(ctx, name, "gamma", x.c, 1.f),
         beta = bnVector(ctx, name, "beta", x.c, 0.f);
    auto mean = bnVector(ctx, name, "moving_mean", x.c, 0.f);
    auto var = bnVector(ctx, name, "moving_variance", x.c, 1.f);
    for (size_t i = 0; i < x.v.size(); ++i) {
        size_t c = i % size_t(x.c);
        x.v[i] = gamma[c] * (x.v[i] - mean[c]) / std::sqrt(double(var[c]) + eps) + beta[c];
    }
    return x;
}

Image activate(const Context& ctx, Image x, std::string fn, double maxValue) {
    if (ctx.relu6AsRelu) {
        if (fn == "relu6") fn = "relu";
        maxValue = 0;
    }
    for (auto& v : x.v) {
        if (fn == "relu" || fn == "relu6") v = std::max(0.0, v);
        if (fn == "relu6") v = std::min(6.0, v);
        if (maxValue > 0) v = std::min(maxValue, v);
        if (fn != "relu" && fn != "relu6" && fn != "linear")
            throw std::runtime_error("activation " + fn + " is not known here");
    }
    return x;
}

std::vector<std::string> inputsOf(const json& layer) {
    std::vector<std::string> names;
    if (!layer.contains("inbound_nodes")) return names;
    for (const auto& node : layer["inbound_nodes"])
        for (const auto& ref : node) names.push_back(ref[0].get<std::string>());
    return names;
}

Image run(const Context& ctx, const json& model, const Image& x);

Image apply(const Context& ctx, const json& layer, const std::vector<Image>& in) {
    const std::string cls = layer["class_name"];
    const json& cfg = layer["config"];
    const std::string name = cfg["name"];
    const std::string act = cfg.value("activation", std::string("linear"));
    const bool same = cfg.value("padding", std::string("valid")) == "same";
    if (cls == "Conv2D") return activate(ctx, conv(in[0], weights(ctx, name), same, false), act, 0);
    if (cls == "DepthwiseConv2D")
        return activate(ctx, conv(in[0], weights(ctx, name), same, true), act, 0);
    if (cls == "SeparableConv2D") {
        Image d = conv(in[0], weights(ctx, name + "/depthwise"), same, true);
        return activate(ctx, conv(d, weights(ctx, name + "/pointwise"), true, false), act, 0);
    }
    if (cls == "MaxPooling2D") return maxPool(in[0], cfg);
    if (cls == "LeakyReLU") {
        Image y = in[0];
        double alpha = cfg.value("alpha", cfg.value("negative_slope", 0.3));
        for (auto& v : y.v) v = v < 0 ? alpha * v : v;
        return y;
    }
    if (cls == "BatchNormalization") return batchNorm(ctx, cfg, name, in[0]);
    if (cls == "Activation") return activate(ctx, in[0], act, 0);
    if (cls == "ReLU") {
        double m = cfg.contains("max_value") && cfg["max_value"].is_number()
                       ? cfg["max_value"].get<double>()
                       : 0;
        return activate(ctx, in[0], "relu", m);
    }
    if (cls == "Add") {
        Image y = in[0];
        for (size_t k = 1; k < in.size(); ++k)
            for (size_t i = 0; i < y.v.size(); ++i) y.v[i] += in[k].v[i];
        return y;
    }
    if (cls == "Multiply") {
        Image y = in[0];
        for (size_t k = 1; k < in.size(); ++k)
            for (size_t i = 0; i < y.v.size(); ++i) y.v[i] *= in[k].v[i];
        return y;
    }
    if (cls == "Concatenate") {  // along the channels (the last axis)
        Image y{in[0].h, in[0].w, 0, {}};
        for (const auto& part : in) y.c += part.c;
        for (long p = 0; p < y.h * y.w; ++p)
            for (const auto& part : in)
                for (long c = 0; c < part.c; ++c) y.v.push_back(part.v[size_t(p * part.c + c)]);
        return y;
    }
    if (cls == "GlobalAveragePooling2D") {
        Image y{1, 1, in[0].c, std::vector<double>(size_t(in[0].c), 0.0)};
        for (size_t i = 0; i < in[0].v.size(); ++i)
            y.v[i % size_t(y.c)] += in[0].v[i] / double(in[0].h * in[0].w);
        return y;
    }
    if (cls == "Dense") {
        const auto& l = weights(ctx, name);
        long n = l.weight.shape[0], out = l.weight.shape[1];
        Image y{1, 1, out, std::vector<double>(size_t(out), 0.0)};
        for (long o = 0; o < out; ++o) {
            double s = l.bias ? l.bias->values[size_t(o)] : 0.0;
            for (long i = 0; i < n; ++i)
                s += in[0].v[size_t(i)] * l.weight.values[size_t(i * out + o)];
            y.v[size_t(o)] = s;
        }
        return activate(ctx, y, act, 0);
    }
    if (cls == "Functional" || cls == "Model") {
        Context inner{ctx.file, {}, ctx.group.empty() ? name : ctx.group, ctx.relu6AsRelu};
        inner.model = ctx.model;
        return run(inner, layer, in[0]);
    }
    throw std::runtime_error("layer class " + cls + " is not known here");
}

Image run(const Context& ctx, const json& model, const Image& x) {
    std::map<std::string, Image> out;
    std::string last;
    for (const auto& layer : model["config"]["layers"]) {
        const std::string name = layer["config"]["name"];
        std::vector<Image> in;
        for (const auto& n : inputsOf(layer)) in.push_back(out.at(n));
        if (in.empty() && !last.empty()) in.push_back(out.at(last));  // Sequential
        out[name] = layer["class_name"] == "InputLayer" ? x : apply(ctx, layer, in);
        last = name;
    }
    const auto& outs = model["config"]["output_layers"];
    return out.at(outs.empty() ? last : outs[0][0].get<std::string>());
}

}  // namespace

std::vector<double> kerasForward(const std::string& file, const Image& x, bool relu6AsRelu) {
    Context ctx{file, core::loadModel(file), "", relu6AsRelu};
    return run(ctx, json::parse(readRootString(file, "model_config")), x).v;
}

double relativeDifference(const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size()) return INFINITY;
    double scale = 0, diff = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        scale = std::max(scale, std::abs(a[i]));
        diff = std::max(diff, std::abs(a[i] - b[i]));
    }
    return scale > 0 ? diff / scale : diff;
}

}  // namespace cle::test
