#include "cle/core/weight_file.h"

#include <sys/stat.h>

#include "cle/core/error.h"
#include "formats/formats.h"
#include "formats/keras_archive.h"
#include "formats/onnx/onnx_file.h"
#include "formats/onnx/onnx_graph.h"
#include "formats/open_input.h"
#include "hdf5/dtype_io.h"
#include "hdf5/h5.h"

namespace cle::core {

std::string toString(Format f) {
    switch (f) {
        case Format::PyTorch:
            return "pytorch";
        case Format::Keras2:
            return "keras2";
        case Format::Keras3:
            return "keras3";
        case Format::Generic:
            return "generic";
        case Format::Onnx:
            return "onnx";
    }
    return "?";
}

std::string toString(Layout l) { return l == Layout::Torch ? "torch" : "keras"; }

std::string toString(DType d) {
    switch (d) {
        case DType::Float16:
            return "float16";
        case DType::BFloat16:
            return "bfloat16";
        case DType::Float32:
            return "float32";
        case DType::Float64:
            return "float64";
    }
    return "?";
}

Layout parseLayout(const std::string& s) {
    if (s == "torch") return Layout::Torch;
    if (s == "keras") return Layout::Keras;
    throw usageError("unknown layout '" + s + "' (use torch or keras)");
}

int LayerInfo::outAxis() const {
    if (layout == Layout::Torch) return 0;
    return depthwise ? rank() - 2 : rank() - 1;
}

int LayerInfo::inAxis() const {
    if (depthwise) return outAxis();
    return layout == Layout::Torch ? 1 : rank() - 2;
}

std::ptrdiff_t ModelInfo::position(const std::string& name) const {
    if (auto it = byName.find(name);
        it != byName.end() && it->second < layers.size() && layers[it->second].name == name)
        return std::ptrdiff_t(it->second);
    // A miss is trusted while the index covers every layer; otherwise `layers` was not indexed
    // or changed since: the first layer of that name.
    if (!byName.empty() && byName.size() == layers.size() && !byName.contains(name)) return -1;
    for (size_t i = 0; i < layers.size(); ++i)
        if (layers[i].name == name) return std::ptrdiff_t(i);
    return -1;
}

const LayerInfo* ModelInfo::find(const std::string& name) const {
    std::ptrdiff_t i = position(name);
    return i < 0 ? nullptr : &layers[size_t(i)];
}

void ModelInfo::indexLayers() {
    byName.clear();
    byName.reserve(layers.size());
    for (size_t i = 0; i < layers.size(); ++i) byName.emplace(layers[i].name, i);
}

ModelInfo inspectFile(const std::string& path, std::optional<Layout> layout) {
    if (onnxfmt::isOnnxPath(path)) return onnxfmt::inspect(path);  // each layer has its layout
    h5::Silence quiet;
    const auto identity = fileIdentity(path);
    h5::Handle file = h5::openExisting(path, false);
    ModelInfo info = formats::inspectOpen(file.get(), path, layout);
    info.identity = identity;
    return info;
}

ModelInfo formats::inspectOpen(hid_t file, const std::string& path, std::optional<Layout> layout,
                               const KerasConfig* config) {
    h5::Silence quiet;
    ModelInfo info;
    info.path = path;
    info.identity = fileIdentity(path);
    if (archive::isZip(path)) {
        info.kerasArchive = true;
        info.subclassed = !archive::cachedRead(path)->hasGraph;
    }

    std::string& kerasRoot = info.kerasRoot;
    info.format = formats::detect(file, kerasRoot);
    switch (info.format) {
        case Format::PyTorch:
            info.layers = formats::listPyTorch(file);
            break;
        case Format::Keras2: {
            std::shared_ptr<const KerasConfig> own;
            if (!config) own = formats::readKerasConfig(file, path);
            info.layers = formats::listKeras2(file, kerasRoot, config ? config : own.get());
            break;
        }
        case Format::Keras3:
            info.layers = formats::listKeras3(file);
            break;
        case Format::Generic:
            info.layers = formats::listGeneric(file);
            break;
        case Format::Onnx:  // an ONNX model is not an HDF5 file: detect never says so here
            throw inputError("'" + path + "' is an ONNX model, not an HDF5 weight file");
    }
    bool keras = info.format == Format::Keras2 || info.format == Format::Keras3;
    info.layout = layout.value_or(keras ? Layout::Keras : Layout::Torch);
    for (auto& l : info.layers) {
        l.layout = info.layout;
        formats::finishLayer(l, path);
    }
    formats::markUnsafeStorage(file, info.layers);
    info.indexLayers();
    return info;
}

void muteHdf5Diagnostics() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

Tensor readDataset(const std::string& file, const std::string& dataset) {
    if (onnxfmt::isOnnxPath(file)) return onnxfmt::OnnxFile::open(file)->read(dataset);
    h5::Silence quiet;
    h5::Handle f = h5::openExisting(file, false);
    return io::readTensor(f.get(), dataset, file);
}

}  // namespace cle::core
