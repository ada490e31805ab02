#include "cle/core/exporter.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "cle/core/error.h"
#include "export/direct_write.h"
#include "formats/keras_archive.h"
#include "formats/onnx/onnx_export.h"
#include "formats/onnx/onnx_file.h"
#include "formats/open_input.h"
#include "formats/sharded_weights.h"
#include "hdf5/dtype_io.h"
#include "hdf5/h5.h"
#include "support/temp_file.h"

namespace cle::core {

namespace fs = std::filesystem;

void checkOutputPath(const std::string& input, const std::string& output, bool force) {
    if (output.empty()) throw usageError("no output file given");
    std::error_code ec;
    fs::path out(output);
    fs::path dir = out.parent_path().empty() ? fs::path(".") : out.parent_path();
    if (!fs::is_directory(dir, ec))
        throw inputError("output directory '" + dir.string() + "' does not exist");
    if (!fs::exists(out, ec)) return;
    if (fs::equivalent(input, out, ec))
        throw inputError("refusing to write over the input file '" + input + "' (output '" +
                         output + "' is the same file)");
    if (fs::is_directory(out, ec)) throw inputError("output '" + output + "' is a directory");
    if (!force)
        throw inputError("output file '" + output + "' already exists (use --force to overwrite)");
}

namespace {

// The cause of a failed write: the system's reason when the I/O failed (disk full, file too
// large), else HDF5's deepest message, first line only.
[[noreturn]] void writeFailed(const std::string& output, int err) {
    bool io = err == ENOSPC || err == EDQUOT || err == EFBIG || err == EIO || err == EROFS;
    std::string cause = io ? std::strerror(err) : h5::lastError();
    throw inputError("cannot write '" + output + "': " + cause.substr(0, cause.find('\n')));
}

// Opens a dataset of the copy for writing: never through an external link (it would write into
// another file), never one already written through another path (shared storage).
h5::Handle openForWriting(hid_t file, const std::string& path, const std::string& output,
                          std::set<haddr_t>& written) {
    std::string where = output + ":" + path;
    bool external = false;
    h5::Handle d = h5::openLocalDataset(file, path, &external);
    if (external)
        throw inputError("refusing to write " + where +
                         ": it is an HDF5 external link to another file");
    if (!d) throw inputError("cannot open " + where + " for writing: " + h5::lastError());
    H5O_info_t info;
    if (H5Oget_info2(d.get(), &info, H5O_INFO_BASIC) < 0 || !written.insert(info.addr).second)
        throw inputError("refusing to write " + where +
                         ": it is the same HDF5 dataset as another one written (shared storage)");
    return d;
}

// `subject` names what is written as the user knows it (the layer and its dataset in the input),
// for a value the dataset's type cannot hold.
void writeDataset(hid_t file, const std::string& path, const Tensor& t, const std::string& output,
                  std::set<haddr_t>& written, const std::string& subject) {
    std::string where = output + ":" + path;
    h5::Handle d = openForWriting(file, path, output, written);
    if (h5::datasetShape(d.get()) != t.shape) throw inputError(where + " changed shape");
    auto dtype = io::floatType(d.get());
    if (!dtype) throw inputError(where + " is not a floating-point dataset");
    errno = 0;
    try {
        io::writeFloats(d.get(), *dtype, t.values, subject);
    } catch (const Error&) {
        if (errno == ENOSPC || errno == EDQUOT || errno == EFBIG) writeFailed(output, errno);
        throw;
    }
    // Chunked datasets are written from HDF5's chunk cache when closed.
    errno = 0;
    if (d.close() < 0) writeFailed(output, errno);
}

// Replaces the root attribute model_config, keeping its string type (fixed or variable length).
void writeModelConfig(hid_t file, const std::string& text, const std::string& output) {
    h5::Handle root(H5Gopen2(file, "/", H5P_DEFAULT));
    h5::Handle type;
    if (h5::hasAttribute(root.get(), "model_config")) {
        h5::Handle old(H5Aopen(root.get(), "model_config", H5P_DEFAULT));
        type = h5::Handle(H5Aget_type(old.get()));
        old.reset();
        H5Adelete(root.get(), "model_config");
    }
    bool variable = !type || H5Tis_variable_str(type.get()) > 0;
    h5::Handle mem(H5Tcopy(H5T_C_S1));
    H5Tset_size(mem.get(), variable ? H5T_VARIABLE : std::max<size_t>(1, text.size()));
    if (type) H5Tset_cset(mem.get(), H5Tget_cset(type.get()));
    h5::Handle space(H5Screate(H5S_SCALAR));
    h5::Handle attr(
        H5Acreate2(root.get(), "model_config", mem.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
    const char* ptr = text.c_str();
    herr_t status = attr ? (variable ? H5Awrite(attr.get(), mem.get(), &ptr)
                                     : H5Awrite(attr.get(), mem.get(), text.c_str()))
                         : -1;
    if (status < 0)
        throw inputError("cannot write model_config of '" + output + "': " + h5::lastError());
    errno = 0;
    if (attr.close() < 0) writeFailed(output, errno);
}

void checkCancel(const ExportOptions& o) {
    if (o.cancel && o.cancel->load()) throw Error(ErrorKind::Cancelled, "export cancelled");
}

}  // namespace

namespace {

// Closes a file whose writes failed. HDF5 cannot shut down once an H5Fclose has failed (it crashes
// at exit), so its descriptor first becomes an anonymous memory file where the remaining writes
// succeed; the temporary file on disk is removed by the caller.
void discard(h5::Handle& file) {
    void* handle = nullptr;
    if (H5Fget_vfd_handle(file.get(), H5P_DEFAULT, &handle) >= 0 && handle) {
        int memory = memfd_create("cle-discarded", MFD_CLOEXEC);
        if (memory >= 0) {
            dup2(memory, *static_cast<int*>(handle));
            ::close(memory);
        }
    }
    // A file size limit (with SIGXFSZ ignored) would stop the writes to memory as well.
    rlimit limit{};
    bool raised = getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != limit.rlim_max;
    rlimit unlimited{limit.rlim_max, limit.rlim_max};
    if (raised) setrlimit(RLIMIT_FSIZE, &unlimited);
    file.reset();
    if (raised) setrlimit(RLIMIT_FSIZE, &limit);
}

// Every dataset an export gives new values: the layers' weights and biases, then the folded
// batch-norm datasets.
std::vector<direct::DatasetChange> changesOf(const std::vector<Layer>& layers,
                                             const ExportOptions& options) {
    std::vector<direct::DatasetChange> changes;
    for (const auto& l : layers) {
        changes.push_back({l.info.weightPath, &l.weight,
                           "the equalized weights of layer '" + l.info.name + "' (dataset " +
                               l.info.weightPath + ")"});
        if (l.bias && l.info.hasBias())
            changes.push_back({l.info.biasPath, &*l.bias,
                               "the equalized bias of layer '" + l.info.name + "' (dataset " +
                                   l.info.biasPath + ")"});
    }
    for (const auto& [path, values] : options.extras.datasets)
        changes.push_back({path, &values, "the folded batch-norm dataset " + path});
    return changes;
}

// Rewrites `changes` in `files` (the shards of a set: each dataset in the first file that has
// it); the model_config attribute of the first too when `config`.
void writeChanges(const std::vector<hid_t>& files,
                  const std::vector<direct::DatasetChange>& changes, const std::string& output,
                  const ExportOptions& options, bool config) {
    std::map<hid_t, std::set<haddr_t>> written;
    for (const auto& c : changes) {
        checkCancel(options);
        // Never following an external link (a writable file would open its target writable).
        hid_t file = files.front();
        for (size_t i = 0; files.size() > 1 && i < files.size(); ++i)
            if (h5::openLocalDataset(files[i], c.path).valid()) {
                file = files[i];
                break;
            }
        writeDataset(file, c.path, *c.values, output, written[file], c.subject);
    }
    if (config && options.extras.modelConfig)
        writeModelConfig(files.front(), *options.extras.modelConfig, output);
}

// Rewrites the changed datasets in the copies at `temps`, checking every write, flush and close.
void editCopies(const std::vector<std::string>& temps,
                const std::vector<direct::DatasetChange>& changes, const std::string& output,
                const ExportOptions& options) {
    h5::Silence quiet;
    std::vector<h5::Handle> files;
    std::vector<hid_t> ids;
    for (const auto& t : temps) {
        files.push_back(h5::openExisting(t, true));
        ids.push_back(files.back().get());
    }
    try {
        writeChanges(ids, changes, output, options, true);
        for (auto& f : files) {
            errno = 0;
            if (H5Fflush(f.get(), H5F_SCOPE_GLOBAL) < 0) writeFailed(output, errno);
        }
    } catch (...) {
        for (auto& f : files) discard(f);
        throw;
    }
    for (auto& f : files) {
        errno = 0;
        if (f.close() < 0) writeFailed(output, errno);
    }
}

// The archive's weights edited in memory, and config.json replaced when ReLU6 was relaxed: the
// bytes of the new archive.
std::vector<char> editArchive(const std::string& input, const std::vector<Layer>& layers,
                              const std::string& output, const ExportOptions& options) {
    if (options.inputIdentity && fileIdentity(input) != options.inputIdentity)
        throw inputError("'" + input + "' changed while it was being equalized; nothing written");
    auto contents = archive::read(input);
    std::map<std::string, std::vector<char>> replaced;
    {
        h5::Handle file = archive::openImage(contents.weights, input, archive::kWeightsEntry, true);
        std::vector<char>().swap(contents.weights);  // HDF5 holds its own copy
        writeChanges({file.get()}, changesOf(layers, options), output, options, false);
        replaced[archive::kWeightsEntry] = archive::imageOf(file.get(), output);
    }
    if (options.extras.modelConfig)
        replaced[archive::kConfigEntry] = std::vector<char>(options.extras.modelConfig->begin(),
                                                            options.extras.modelConfig->end());
    return archive::rewrite(input, replaced, output);
}

// The shards of the set whose index is `input`, each copied to a temporary file beside its output
// shard and edited; `temp` (the output index) receives the index naming the output shards.
std::vector<std::unique_ptr<TempFile>> editShards(const std::string& input,
                                                  const std::vector<Layer>& layers,
                                                  const std::string& output, TempFile& temp,
                                                  const ExportOptions& options) {
    if (!output.ends_with(".json"))
        throw usageError("the weights of '" + input +
                         "' are sharded: name the output index "
                         "*.weights.json (its shards are written beside it)");
    auto inputs = sharded::shardsOf(input);
    auto outputs = sharded::outputShards(output, inputs.size());
    for (const auto& out : outputs)
        for (const auto& in : inputs) checkOutputPath(in, out, options.force);
    std::vector<std::unique_ptr<TempFile>> shards;
    std::vector<std::string> paths;
    for (size_t i = 0; i < inputs.size(); ++i) {
        shards.push_back(std::make_unique<TempFile>(outputs[i]));
        copyVerified(inputs[i], std::nullopt, *shards.back());
        paths.push_back(shards.back()->path());
    }
    if (options.inputIdentity && fileIdentity(input) != options.inputIdentity)
        throw inputError("'" + input + "' changed while it was being equalized; nothing written");
    checkCancel(options);
    editCopies(paths, changesOf(layers, options), output, options);
    std::string index = sharded::outputIndex(input, outputs);
    temp.write(index.data(), index.size(), 0644);
    return shards;
}

// The edited model in `temp` and its external data files, each in a temporary file beside its
// destination (committed before the model, as shards are).
std::vector<std::unique_ptr<TempFile>> editOnnx(const std::string& input,
                                                const std::vector<Layer>& layers,
                                                const std::string& output, TempFile& temp,
                                                const ExportOptions& options) {
    if (options.inputIdentity && fileIdentity(input) != options.inputIdentity)
        throw inputError("'" + input + "' changed while it was being equalized; nothing written");
    auto edited = onnxfmt::editModel(input, layers, options.extras, output);
    std::vector<std::unique_ptr<TempFile>> files;
    for (const auto& data : edited.dataFiles) {
        checkOutputPath(input, data.destination, options.force);
        for (const auto& other : edited.dataFiles)  // never over one of the input's data files
            checkOutputPath(other.source, data.destination, options.force);
        files.push_back(std::make_unique<TempFile>(data.destination));
        files.back()->write(data.bytes.data(), data.bytes.size(), 0644);
        checkCancel(options);
    }
    temp.write(edited.model.data(), edited.model.size(), 0644);
    return files;
}

}  // namespace

void exportWeights(const std::string& input, const std::vector<Layer>& layers,
                   const std::string& output, const ExportOptions& options) {
    checkOutputPath(input, output, options.force);
    if (!options.reportPath.empty()) checkOutputPath(input, options.reportPath, options.force);
    TempFile temp(output);
    std::vector<std::unique_ptr<TempFile>> shards;  // committed before the output (an index)
    if (onnxfmt::isOnnxPath(input)) {
        shards = editOnnx(input, layers, output, temp, options);
    } else if (sharded::isIndex(input)) {
        shards = editShards(input, layers, output, temp, options);
    } else if (archive::isZip(input)) {
        auto bytes = editArchive(input, layers, output, options);
        checkCancel(options);
        struct stat st {};
        temp.write(
            bytes.data(), bytes.size(),
            ::stat(input.c_str(), &st) == 0 ? ((st.st_mode & 07777) | S_IRUSR | S_IWUSR) : 0644);
    } else {
        // Copied from a descriptor checked to be the file that was loaded; the changed datasets
        // stored as plain blocks are written there at once, the others by HDF5.
        auto changes = changesOf(layers, options);
        if (options.directWrites) {
            changes = direct::copyWithChanges(input, options.inputIdentity, temp, changes, output,
                                              options.cancel);
        } else {
            copyVerified(input, options.inputIdentity, temp);
        }
        checkCancel(options);
        if (!changes.empty() || options.extras.modelConfig)
            editCopies({temp.path()}, changes, output, options);
    }
    // The report is complete before either file takes its name: both are written, or neither.
    std::optional<TempFile> report;
    if (!options.reportPath.empty()) {
        std::string text = options.reportText ? options.reportText() : std::string();
        report.emplace(options.reportPath);
        report->write(text.data(), text.size(), 0644);
    }
    checkCancel(options);
    CommitSection committing;  // a signal now lets every rename finish
    std::vector<std::string> committed;
    try {
        for (auto& s : shards) {
            s->commit(options.force);
            committed.push_back(s->destination());
        }
        temp.commit(options.force);
        committed.push_back(output);
        if (report) report->commit(options.force);
    } catch (...) {
        for (const auto& path : committed) std::remove(path.c_str());
        throw;
    }
}

}  // namespace cle::core
