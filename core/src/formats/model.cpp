#include "cle/core/model.h"

#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <limits>
#include <set>
#include <utility>

#include "cle/core/error.h"
#include "formats/formats.h"
#include "formats/onnx/onnx_file.h"
#include "formats/open_input.h"
#include "hdf5/dtype_io.h"
#include "hdf5/global_heap.h"
#include "hdf5/h5.h"

namespace cle::core {

const Layer* Model::find(const std::string& name) const {
    // `layers` follows info.layers: its index finds the position.
    std::ptrdiff_t i = info.position(name);
    if (i >= 0 && size_t(i) < layers.size() && layers[size_t(i)].info.name == name)
        return &layers[size_t(i)];
    for (const auto& l : layers)
        if (l.info.name == name) return &l;
    return nullptr;
}

Layer* Model::find(const std::string& name) {
    return const_cast<Layer*>(std::as_const(*this).find(name));
}

std::int64_t availableMemory() {
    std::ifstream in("/proc/meminfo");
    std::string key;
    std::int64_t kb = 0;
    while (in >> key >> kb) {
        if (key == "MemAvailable:") return kb * 1024;
        in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
    }
    long pages = sysconf(_SC_AVPHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? std::int64_t(pages) * size : 0;
}

namespace {

std::string megabytes(std::int64_t bytes) {
    return std::to_string(bytes / (1 << 20) + (bytes % (1 << 20) != 0)) + " MB";  // rounded up
}

// Compares the memory the supported layers claim with the limit before any of them is read.
void checkClaimedSize(const ModelInfo& info, std::int64_t maxBytes) {
    std::int64_t limit = maxBytes > 0 ? maxBytes : availableMemory();
    if (limit <= 0) return;
    std::int64_t total = 0, largest = 0;
    const LayerInfo* big = nullptr;
    for (const auto& l : info.layers) {
        if (!l.supported) continue;
        std::int64_t bytes = 4;
        for (auto d : l.shape)  // finishLayer has refused counts that overflow
            bytes = d > 0 && bytes > INT64_MAX / d ? INT64_MAX : bytes * d;
        if (bytes > largest) largest = bytes, big = &l;
        std::int64_t bias = 0, layer = 0;
        if (__builtin_mul_overflow(std::int64_t(4), l.biasSize, &bias) ||
            __builtin_add_overflow(bytes, bias, &layer) ||
            __builtin_add_overflow(total, layer, &total))
            total = INT64_MAX;
    }
    if (total <= limit) return;
    throw inputError("the weights of '" + info.path + "' need " + megabytes(total) +
                     " of memory, more than the " + megabytes(limit) +
                     (maxBytes > 0 ? " allowed" : " available") + " (largest: dataset " +
                     big->weightPath + " of layer '" + big->name + "', " + megabytes(largest) +
                     "); --max-memory sets the limit");
}

}  // namespace

Model loadModel(const std::string& path, std::optional<Layout> layout, std::int64_t maxBytes) {
    if (onnxfmt::isOnnxPath(path)) {
        Model model;
        model.info = inspectFile(path, layout);
        checkClaimedSize(model.info, maxBytes);
        for (const auto& info : model.info.layers) {
            Layer layer;
            layer.info = info;
            if (info.supported) {
                layer.weight = readDataset(path, info.weightPath);
                if (info.hasBias()) layer.bias = readDataset(path, info.biasPath);
            } else {
                layer.weight.shape = info.shape;
            }
            model.layers.push_back(std::move(layer));
        }
        if (fileIdentity(path) != model.info.identity)
            throw inputError("'" + path + "' changed while it was being read");
        return model;
    }
    h5::Silence quiet;
    const auto identity = fileIdentity(path);
    h5::Handle file = h5::openExisting(path, false);  // the only time the input is opened
    auto config = formats::readKerasConfig(file.get(), path);
    ModelInfo info = formats::inspectOpen(file.get(), path, layout, config.get());
    info.identity = identity;
    Model model = formats::readModel(file.get(), std::move(info), maxBytes, std::move(config));
    if (fileIdentity(path) != model.info.identity)
        throw inputError("'" + path + "' changed while it was being read");
    return model;
}

namespace {

// 1-D floating-point datasets of the file that no layer reads: the batch norms' vectors.
void readParameters(hid_t file, Model& model) {
    std::set<std::string> owned;
    for (const auto& l : model.info.layers) owned.insert({l.weightPath, l.biasPath});
    // A vector claiming more values than the file has bytes is no batch norm's (a damaged or
    // never-written dataset): reading it would allocate what the claim says.
    const std::uint64_t fileBytes = h5::storedBytes(file);
    for (const auto& path : h5::listDatasets(file)) {
        if (owned.count(path)) continue;
        h5::Handle d = h5::openLocalDataset(file, path);
        if (!d) continue;
        const auto shape = h5::datasetShape(d.get());
        if (shape.size() != 1 || shape[0] < 0 || std::uint64_t(shape[0]) > fileBytes) continue;
        h5::Handle type(H5Dget_type(d.get()));
        if (H5Tget_class(type.get()) != H5T_FLOAT) continue;
        model.parameters.emplace(path, io::readTensor(file, path, model.info.path));
    }
}

}  // namespace

Model formats::readModel(hid_t file, ModelInfo info, std::int64_t maxBytes,
                         std::shared_ptr<const KerasConfig> config) {
    checkClaimedSize(info, maxBytes);
    Model model;
    model.info = std::move(info);
    const std::string& path = model.info.path;
    model.layers.reserve(model.info.layers.size());
    for (const auto& info : model.info.layers) {
        Layer layer;
        layer.info = info;
        // Layers that can never be equalized (integer weights) are listed without their data.
        if (info.supported) {
            layer.weight = io::readTensor(file, info.weightPath, path);
            if (info.hasBias()) layer.bias = io::readTensor(file, info.biasPath, path);
        } else {
            layer.weight.shape = info.shape;
        }
        model.layers.push_back(std::move(layer));
    }
    readParameters(file, model);
    if (config) model.modelConfig = config->text;
    model.config = std::move(config);
    model.parametersLoaded = true;
    return model;
}

const Tensor* Model::parameter(const std::string& path) const {
    auto it = parameters.find(path);
    return it == parameters.end() ? nullptr : &it->second;
}

void applyLayers(Model& model, const std::vector<Layer>& changed) {
    for (const auto& c : changed) {
        Layer* target = model.find(c.info.name);
        if (!target) throw inputError("layer '" + c.info.name + "' is not in the model");
        target->weight = c.weight;
        target->bias = c.bias;
    }
}

}  // namespace cle::core
