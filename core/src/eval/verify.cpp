// Comparing two networks at their outputs, in float32 and with INT8 weights.
#include "cle/core/verification.h"

#include <Eigen/Core>
#include <chrono>
#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "cle/core/error.h"
#include "cle/core/int8_verdict.h"
#include "cle/core/model.h"
#include "cle/core/stored_values.h"
#include "eval/onnx_compile.h"
#include "formats/onnx/onnx_file.h"
#include "formats/open_input.h"
#include "graph/keras_graph.h"
#include "hdf5/h5.h"

namespace cle::core {

namespace {

using nlohmann::json;

// Uniform in [-1, 1) from the top 24 bits of a 64-bit generator: the same on every platform.
struct Uniform {
    std::uint64_t state;
    float next() {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        std::uint64_t z = state;
        z = (z ^ (z >> 33)) * 0xff51afd7ed558ccdULL;
        z ^= z >> 33;
        return float(double(z >> 40) / double(1 << 24) * 2.0 - 1.0);
    }
};

// Softmax over the last axis, for the function check of a network run before its softmax.
Tensor softmaxed(Tensor t) {
    const long c = t.shape.back();
    Eigen::Map<Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> m(
        t.values.data(), long(t.values.size()) / c, c);
    m.colwise() -= m.rowwise().maxCoeff();
    m = m.exp();
    m.colwise() /= m.rowwise().sum();
    return t;
}

// Each sample minus its mean (softmax ignores a per-sample shift).
Tensor centred(Tensor t) {
    const long n = t.shape[0], per = long(t.values.size()) / std::max(n, 1L);
    Eigen::Map<Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> m(
        t.values.data(), n, per);
    m.colwise() -= m.rowwise().mean();
    return t;
}

void checkShapes(const std::vector<Tensor>& a, const std::vector<Tensor>& b) {
    bool same = a.size() == b.size();
    for (size_t k = 0; same && k < a.size(); ++k) same = a[k].shape == b[k].shape;
    if (!same)
        throw inputError(
            "the two networks' outputs have different shapes: their graphs do not "
            "match");
}

double relativeChange(const std::vector<Tensor>& ref, const std::vector<Tensor>& other) {
    checkShapes(ref, other);
    double diff = 0, scale = 0;
    for (size_t k = 0; k < ref.size(); ++k) {
        Eigen::Map<const Eigen::ArrayXf> a(ref[k].values.data(), long(ref[k].values.size()));
        Eigen::Map<const Eigen::ArrayXf> b(other[k].values.data(), long(other[k].values.size()));
        if (a.size() == 0) continue;
        diff = std::max(diff, double((a - b).abs().maxCoeff()));
        scale = std::max(scale, double(a.abs().maxCoeff()));
    }
    if (!std::isfinite(diff)) return std::numeric_limits<double>::infinity();
    return scale > 0 ? diff / scale : diff;
}

double sqnrDb(const std::vector<Tensor>& ref, const std::vector<Tensor>& q) {
    checkShapes(ref, q);
    double signal = 0, noise = 0;
    for (size_t k = 0; k < ref.size(); ++k)
        for (size_t i = 0; i < ref[k].values.size(); ++i) {
            double r = ref[k].values[i], e = double(q[k].values[i]) - r;
            signal += r * r;
            noise += e * e;
        }
    if (!(noise > 0))
        return std::isnan(noise) ? -std::numeric_limits<double>::infinity()
                                 : std::numeric_limits<double>::infinity();
    return 10.0 * std::log10(signal / noise);
}

std::vector<long> top1(const Tensor& t) {
    const long c = t.shape.back();
    std::vector<long> best;
    for (long i = 0; i * c < long(t.values.size()); ++i) {
        Eigen::Map<const Eigen::ArrayXf> row(t.values.data() + i * c, c);
        Eigen::Index at = 0;
        row.maxCoeff(&at);
        best.push_back(long(at));
    }
    return best;
}

double agreement(const std::vector<long>& a, const std::vector<long>& b) {
    long same = 0;
    for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
    return a.empty() ? 0.0 : double(same) / double(a.size());
}

}  // namespace

int readInputsFile(const std::string& path) {
    h5::Silence quiet;
    h5::Handle f = h5::openExisting(path, false);
    int count = 0;
    for (const auto& name : h5::listChildren(f.get(), "/")) {
        if (!h5::isDataset(f.get(), "/" + name)) continue;
        // A claimed shape is not trusted: values beyond the memory available are refused.
        h5::Handle d = h5::openLocalDataset(f.get(), "/" + name);
        std::uint64_t values = 1;
        for (std::int64_t n : d ? h5::datasetShape(d.get()) : std::vector<std::int64_t>{})
            if (n < 0 || __builtin_mul_overflow(values, std::uint64_t(n), &values))
                values = ~std::uint64_t(0);
        const std::int64_t available = availableMemory();
        if (available > 0 && values > std::uint64_t(available) / sizeof(float))
            throw inputError("'" + path + "': dataset '" + name + "' claims " +
                             std::to_string(values) + " values, more than the memory available");
        (void)readDataset(path, "/" + name);
        ++count;
    }
    return count;
}

std::vector<Tensor> verificationInputs(const Network& net, const VerifyOptions& o,
                                       std::string& source) {
    std::vector<Tensor> inputs;
    if (!o.inputsFile.empty()) {
        source = "file";
        h5::Silence quiet;
        h5::Handle f = h5::openExisting(o.inputsFile, false);
        for (const auto& in : net.inputs()) {
            std::string name = net.inputs().size() == 1 && h5::isDataset(f.get(), "/inputs")
                                   ? "/inputs"
                                   : "/" + in.name;
            if (!h5::isDataset(f.get(), name))
                throw inputError("'" + o.inputsFile + "' has no dataset '" + name.substr(1) +
                                 "' for input '" + in.name + "'");
            inputs.push_back(readDataset(o.inputsFile, name));
        }
        return inputs;
    }
    source = "uniform";
    if (o.samples < 1) throw usageError("--samples must be at least 1");
    Uniform gen{o.seed * 0x9e3779b97f4a7c15ULL + 1};
    for (const auto& in : net.inputs()) {
        Tensor t;
        t.shape = {o.samples};
        std::vector<std::int64_t> shape = in.shape.empty() ? o.inputShape : in.shape;
        for (size_t d = 0; d < shape.size(); ++d) {
            std::int64_t v = shape[d];
            if (v < 0 && o.inputShape.size() == shape.size()) v = o.inputShape[d];
            if (v < 0 && o.openSize > 0) v = o.openSize;
            if (v <= 0)
                shape.clear();
            else
                t.shape.push_back(v);
        }
        if (shape.empty())
            throw usageError("input '" + in.name + "' has no fixed shape in the model '" +
                             net.path() + "'; give it " + "with --input-shape" +
                             (in.shape.empty()
                                  ? std::string()
                                  : " (" + std::to_string(in.shape.size()) + " values)"));
        t.values.resize(size_t(t.size()));
        for (auto& v : t.values) v = gen.next();
        inputs.push_back(std::move(t));
    }
    return inputs;
}

namespace {

// The two networks on the same inputs, and how their outputs are compared.
struct Comparison {
    const Network& original;
    const Network& candidate;
    const std::vector<Tensor>& inputs;
    RunOptions run;
    bool beforeSoftmax = false;
    const Network* originalRelaxed = nullptr;  ///< the original with the candidate's relaxations

    // Outputs as the network gives them (a final softmax applied).
    std::vector<Tensor> finished(std::vector<Tensor> out) const {
        if (beforeSoftmax)
            for (auto& t : out) t = softmaxed(std::move(t));
        return out;
    }
    // Outputs as the INT8 figures compare them (before a final softmax, centred).
    std::vector<Tensor> prepared(std::vector<Tensor> out) const {
        if (beforeSoftmax)
            for (auto& t : out) t = centred(std::move(t));
        return out;
    }
};

void int8Figures(const Comparison& c, const std::vector<Tensor>& origRaw, Verification& v) {
    const auto ref = c.prepared(origRaw);
    const bool classifier =
        origRaw.size() == 1 && origRaw[0].rank() == 2 && origRaw[0].shape[1] > 1;
    RunOptions run = c.run;
    run.foldBatchNorms = true;
    for (auto q : {WeightQuantization::PerTensor, WeightQuantization::PerChannel}) {
        run.weights = q;
        auto origQ = c.original.run(c.inputs, run), candQ = c.candidate.run(c.inputs, run);
        const double a = sqnrDb(ref, c.prepared(origQ)), b = sqnrDb(ref, c.prepared(candQ));
        if (q == WeightQuantization::PerChannel) {
            v.perChannelOriginalDb = a;
            v.perChannelCandidateDb = b;
            continue;
        }
        v.perTensorOriginalDb = a;
        v.perTensorCandidateDb = b;
        if (c.originalRelaxed) {
            // What equalization alone does under INT8, with the relaxation on both sides.
            RunOptions flt = c.run;
            const auto relaxedRef = c.prepared(c.originalRelaxed->run(c.inputs, flt));
            v.relaxedPerTensorOriginalDb =
                sqnrDb(relaxedRef, c.prepared(c.originalRelaxed->run(c.inputs, run)));
            v.relaxedPerTensorCandidateDb = sqnrDb(relaxedRef, c.prepared(candQ));
        }
        if (classifier) {
            auto want = top1(origRaw[0]);
            v.top1Original = agreement(want, top1(origQ[0]));
            v.top1Candidate = agreement(want, top1(candQ[0]));
        }
    }
}

// W8A8: ranges calibrated on a separate uniform batch (seed + 1) of the inputs' shapes.
void w8a8Figures(const Comparison& c, const VerifyOptions& o, const std::vector<Tensor>& origRaw,
                 Verification& v) {
    std::vector<Tensor> calibration;
    std::string unused;
    for (size_t k = 0; k < c.inputs.size(); ++k) {
        VerifyOptions one;
        one.samples = int(v.count);
        one.seed = o.seed + 1;
        one.inputShape.assign(c.inputs[k].shape.begin() + 1, c.inputs[k].shape.end());
        calibration.push_back(std::move(verificationInputs(c.original, one, unused)[k]));
    }
    const auto ref = c.prepared(origRaw);
    RunOptions run = c.run;
    run.foldBatchNorms = true;
    run.weights = WeightQuantization::PerTensor;
    auto db = [&](const Network& net) {
        const ActivationRanges ranges = net.calibrate(calibration, run);
        RunOptions rounded = run;
        rounded.activations = &ranges;
        return sqnrDb(ref, c.prepared(net.run(c.inputs, rounded)));
    };
    v.w8a8OriginalDb = db(c.original);
    v.w8a8CandidateDb = db(c.candidate);
}

}  // namespace

Verification verifyNetworks(const Network& original, const Network* originalRelaxed,
                            const Network& candidate, const std::vector<std::string>& relaxed,
                            const VerifyOptions& o) {
    const auto start = std::chrono::steady_clock::now();
    Verification v;
    v.tolerance = o.tolerance;
    v.relaxed = relaxed;
    const auto inputs = verificationInputs(original, o, v.inputSource);
    if (o.openSize > 0 && o.inputsFile.empty())
        for (const auto& in : original.inputs())
            for (auto d : in.shape)
                if (d < 0) v.openSize = o.openSize;
    v.count = inputs.empty() ? 0 : inputs[0].shape[0];
    v.beforeSoftmax = original.endsInSoftmax() && candidate.endsInSoftmax();
    Comparison c{original,        candidate,
                 inputs,          {},
                 v.beforeSoftmax, originalRelaxed && !relaxed.empty() ? originalRelaxed : nullptr};
    c.run.beforeSoftmax = v.beforeSoftmax;
    c.run.threads = o.threads;
    c.run.cancel = o.cancel;

    const auto origRaw = original.run(inputs, c.run);
    const auto candOut = c.finished(candidate.run(inputs, c.run));
    try {
        checkShapes(origRaw, candOut);
    } catch (const Error& e) {
        throw Error(e.kind(), std::string(e.what()) + " ('" + original.path() + "' and '" +
                                  candidate.path() + "')");
    }
    v.maxRelativeChange = relativeChange(c.finished(origRaw), candOut);
    if (originalRelaxed && !relaxed.empty())
        v.relaxationMatchedChange =
            relativeChange(c.finished(originalRelaxed->run(inputs, c.run)), candOut);
    v.preserved = v.relaxationMatchedChange.value_or(v.maxRelativeChange) <= o.tolerance;
    int8Figures(c, origRaw, v);
    if (o.activations) w8a8Figures(c, o, origRaw, v);
    v.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return v;
}

namespace {

json modelConfig(const std::string& path) {
    h5::Silence quiet;
    h5::Handle f = h5::openExisting(path, false);
    std::string text = keras::readRootString(f.get(), "model_config");
    if (text.empty())
        throw inputError("'" + path + "' has no layer graph (model_config), so its network " +
                         "cannot be evaluated");
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded()) throw inputError("the model_config of '" + path + "' is not JSON");
    return j;
}

const json* layersOf(const json& model) {
    if (!model.is_object() || !model.contains("config")) return nullptr;
    const json& c = model["config"];
    if (c.is_array()) return &c;
    if (c.is_object() && c.contains("layers") && c["layers"].is_array()) return &c["layers"];
    return nullptr;
}

json relaxedCopy(json layer) {
    auto& cfg = layer["config"];
    if (layer.value("class_name", "") == "ReLU" && cfg.contains("max_value"))
        cfg["max_value"] = nullptr;
    if (cfg.contains("activation") && cfg["activation"] == "relu6") cfg["activation"] = "relu";
    return layer;
}

// The names of the layers the candidate relaxes from ReLU6 to ReLU; any other difference is an
// input Error naming the layer.
void relaxedLayers(const json& a, const json& b, std::vector<std::string>& names,
                   const std::string& candidate) {
    const json* la = layersOf(a);
    const json* lb = layersOf(b);
    if (!la || !lb || la->size() != lb->size())
        throw inputError("the layer graph of '" + candidate +
                         "' does not match the original's (different layers)");
    for (size_t i = 0; i < la->size(); ++i) {
        const json& x = (*la)[i];
        const json& y = (*lb)[i];
        if (x == y) continue;
        std::string name = x.contains("config") ? x["config"].value("name", x.value("name", ""))
                                                : x.value("name", "");
        if (layersOf(x) && layersOf(y)) {
            relaxedLayers(x, y, names, candidate);
            continue;
        }
        if (relaxedCopy(x) != y)
            throw inputError("the layer graph of '" + candidate +
                             "' does not match the original's at layer '" + name + "'");
        names.push_back(name);
    }
}

}  // namespace

Verification verifyFiles(const std::string& original, const std::string& candidate,
                         const VerifyOptions& options) {
    std::vector<std::string> relaxed;
    if (onnxfmt::isOnnxPath(original) || onnxfmt::isOnnxPath(candidate))
        relaxed = eval::onnxRelaxedNodes(original, candidate);
    else
        relaxedLayers(modelConfig(original), modelConfig(candidate), relaxed, candidate);
    Model origModel = loadModel(original);
    Network orig = Network::load(original, origModel);
    Network cand = Network::load(candidate, loadModel(candidate));
    std::optional<Network> origRelaxed;
    if (!relaxed.empty()) origRelaxed = Network::load(original, origModel, {{}, relaxed});
    return verifyNetworks(orig, origRelaxed ? &*origRelaxed : nullptr, cand, relaxed, options);
}

Verification verifyResult(const Network& original, const Model& loaded, const RunPlan& plan,
                          const std::vector<Layer>& equalized, const VerifyOptions& options) {
    NetworkOptions folded;
    for (const auto& bn : plan.batchNorms) folded.identityNorms.push_back(bn.name);
    folded.relaxedRelu6 = plan.relu6;
    // The values the output file will hold: rounded to a float16 or bfloat16 dataset's precision.
    std::vector<Layer> stored;
    if (!narrowStorage(equalized).empty()) {
        stored = equalized;
        roundToStorage(stored);
    }
    folded.layers = stored.empty() ? &equalized : &stored;
    const Network after = Network::load(loaded.info.path, loaded, folded);
    std::optional<Network> relaxed;
    if (!plan.relu6.empty()) relaxed = Network::load(loaded.info.path, loaded, {{}, plan.relu6});
    return verifyNetworks(original, relaxed ? &*relaxed : nullptr, after, plan.relu6, options);
}

namespace {

json finite(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

}  // namespace

std::string verificationJson(const Verification& v) {
    json j;
    j["inputs"] = {{"source", v.inputSource}, {"count", v.count}};
    j["function"] = {
        {"max_relative_change", finite(v.maxRelativeChange)},
        {"relaxation_matched_change",
         v.relaxationMatchedChange ? finite(*v.relaxationMatchedChange) : json(nullptr)},
        {"tolerance", v.tolerance},
        {"preserved", v.preserved}};
    j["int8"] = {{"per_tensor",
                  {{"original_db", finite(v.perTensorOriginalDb)},
                   {"candidate_db", finite(v.perTensorCandidateDb)}}},
                 {"per_channel",
                  {{"original_db", finite(v.perChannelOriginalDb)},
                   {"candidate_db", finite(v.perChannelCandidateDb)}}}};
    if (v.relaxedPerTensorOriginalDb)
        j["int8"]["per_tensor_relaxation_matched"] = {
            {"original_db", finite(*v.relaxedPerTensorOriginalDb)},
            {"candidate_db", finite(*v.relaxedPerTensorCandidateDb)}};
    if (v.w8a8OriginalDb)
        j["int8"]["w8a8"] = {{"original_db", finite(*v.w8a8OriginalDb)},
                             {"candidate_db", finite(*v.w8a8CandidateDb)}};
    // What equalization did to INT8 at the output (see int8Verdict); null when the function
    // changed.
    if (v.preserved) {
        const Int8Verdict verdict = int8Verdict(v);
        const char* change = verdict.change == Int8Change::Better  ? "better"
                             : verdict.change == Int8Change::Worse ? "worse"
                                                                   : "unchanged";
        j["int8_verdict"] = {{"change", change}, {"gain_db", finite(verdict.gainDb)}};
    } else {
        j["int8_verdict"] = nullptr;
    }
    j["top1_agreement"] = v.top1Original
                              ? json{{"original", *v.top1Original}, {"candidate", *v.top1Candidate}}
                              : json(nullptr);
    j["seconds"] = v.seconds;
    return j.dump(2);
}

}  // namespace cle::core
