// The compiler's questions to a Keras file, answered by the file or by what the load recorded.
#include "eval/storage.h"

#include "cle/core/error.h"
#include "formats/formats.h"
#include "formats/open_input.h"
#include "hdf5/dtype_io.h"
#include "hdf5/h5.h"

namespace cle::core::eval {

namespace {

std::string key(const std::string& a, const std::string& b) { return a + '\n' + b; }

// The file itself, opened when first asked (or already open at load).
class FileStorage : public Storage {
public:
    FileStorage(const std::string& path, const Model& model, hid_t open = H5I_INVALID_HID)
        : path_(path), model_(model), open_(open) {}

    const std::string& root() override {
        if (!root_) {
            // Detected with the format when `model` was listed from this file.
            std::string root = model_.info.path == path_ ? model_.info.kerasRoot : "";
            if (root.empty() && model_.info.format == Format::Keras2) formats::detect(file(), root);
            root_ = root.empty() ? "/" : root;
        }
        return *root_;
    }
    const std::string& container() override {
        if (!container_)
            container_ =
                model_.info.format == Format::Keras3 ? formats::keras3Container(file()) : "";
        return *container_;
    }
    std::map<std::string, keras::Keras3Place> places(const keras::Graph& graph,
                                                     const std::string& groups,
                                                     const std::string& nested) override {
        return keras::keras3Places(file(), graph, groups, nested);
    }
    std::optional<BatchNormRef> batchNorm(const std::string& group, const keras::Node& bn,
                                          std::string* problem) override {
        return keras::batchNormRef(file(), root(), group, model_.info.format == Format::Keras3, bn,
                                   problem);
    }
    std::map<std::string, std::string> variables(const std::string& group,
                                                 const keras::Node& layer) override {
        return keras::layerVariables(file(), root(), group, layer);
    }
    bool isDataset(const std::string& path) override { return h5::isDataset(file(), path); }
    Tensor read(const std::string& path) override {
        if (const Tensor* t = model_.parameter(path)) return *t;
        return io::readTensor(file(), path, path_);
    }

private:
    hid_t file() {
        if (open_ < 0) {
            handle_ = h5::openExisting(path_, false);
            open_ = handle_.get();
        }
        return open_;
    }

    const std::string& path_;
    const Model& model_;
    hid_t open_;
    h5::Handle handle_;
    std::optional<std::string> root_, container_;
};

// The answers the load recorded; the file (opened only then) for what it did not reach.
class RecordedStorage : public Storage {
public:
    RecordedStorage(const KerasStorage& record, const std::string& path, const Model& model)
        : record_(record), model_(model), file_(path, model) {}

    const std::string& root() override { return record_.root; }
    const std::string& container() override { return record_.container; }
    std::map<std::string, keras::Keras3Place> places(const keras::Graph& graph,
                                                     const std::string& groups,
                                                     const std::string& nested) override {
        auto it = record_.places.find(key(groups, nested));
        return it != record_.places.end() ? it->second : file_.places(graph, groups, nested);
    }
    std::optional<BatchNormRef> batchNorm(const std::string& group, const keras::Node& bn,
                                          std::string* problem) override {
        auto it = record_.batchNorms.find(key(group, bn.name));
        if (it == record_.batchNorms.end()) return file_.batchNorm(group, bn, problem);
        if (problem) *problem = it->second.second;
        return it->second.first;
    }
    std::map<std::string, std::string> variables(const std::string& group,
                                                 const keras::Node& layer) override {
        auto it = record_.variables.find(key(group, layer.name));
        return it != record_.variables.end() ? it->second : file_.variables(group, layer);
    }
    bool isDataset(const std::string& path) override {
        auto it = record_.datasets.find(path);
        return it != record_.datasets.end() ? it->second : file_.isDataset(path);
    }
    Tensor read(const std::string& path) override {
        if (const Tensor* t = model_.parameter(path)) return *t;
        auto it = record_.tensors.find(path);
        return it != record_.tensors.end() ? it->second : file_.read(path);
    }

private:
    const KerasStorage& record_;
    const Model& model_;
    FileStorage file_;
};

// Asks the open file and writes every answer down.
class RecordingStorage : public FileStorage {
public:
    RecordingStorage(hid_t file, const Model& model, KerasStorage& out)
        : FileStorage(model.info.path, model, file), model_(model), out_(out) {}

    std::map<std::string, keras::Keras3Place> places(const keras::Graph& graph,
                                                     const std::string& groups,
                                                     const std::string& nested) override {
        return out_.places[key(groups, nested)] = FileStorage::places(graph, groups, nested);
    }
    std::optional<BatchNormRef> batchNorm(const std::string& group, const keras::Node& bn,
                                          std::string* problem) override {
        std::string why;
        auto ref = FileStorage::batchNorm(group, bn, &why);
        out_.batchNorms[key(group, bn.name)] = {ref, why};
        if (problem) *problem = why;
        return ref;
    }
    std::map<std::string, std::string> variables(const std::string& group,
                                                 const keras::Node& layer) override {
        return out_.variables[key(group, layer.name)] = FileStorage::variables(group, layer);
    }
    bool isDataset(const std::string& path) override {
        return out_.datasets[path] = FileStorage::isDataset(path);
    }
    Tensor read(const std::string& path) override {
        if (const Tensor* t = model_.parameter(path)) return *t;
        return out_.tensors[path] = FileStorage::read(path);
    }

private:
    const Model& model_;
    KerasStorage& out_;
};

}  // namespace

std::unique_ptr<Storage> recordingStorage(hid_t file, const Model& model, KerasStorage& out) {
    return std::make_unique<RecordingStorage>(file, model, out);
}

std::unique_ptr<Storage> storageFor(const std::string& path, const Model& model, hid_t open) {
    if (model.storage && model.info.path == path && open < 0)
        return std::make_unique<RecordedStorage>(*model.storage, path, model);
    return std::make_unique<FileStorage>(path, model, open);
}

}  // namespace cle::core::eval
