#include "cle/core/exporter.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <optional>
#include <set>

#include "cle/core/error.h"
#include "dtype_io.h"
#include "h5.h"
#include "temp_file.h"

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

[[noreturn]] void hdf5Failed(const std::string& output, const std::string& what) {
    std::string msg = h5::lastError();
    throw inputError("cannot write " + what + " of '" + output + "': " + msg.substr(0, msg.find('\n')));
}

// Opens a dataset of the copy for writing: never through an external link (it would write into
// another file), never one already written through another path (shared storage).
h5::Handle openForWriting(hid_t file, const std::string& path, const std::string& output,
                          std::set<haddr_t>& written) {
    std::string where = output + ":" + path;
    if (h5::crossesExternalLink(file, path))
        throw inputError("refusing to write " + where +
                         ": it is an HDF5 external link to another file");
    h5::Handle d = h5::openLocalDataset(file, path);
    if (!d) throw inputError("cannot open " + where + " for writing: " + h5::lastError());
    H5O_info_t info;
    if (H5Oget_info2(d.get(), &info, H5O_INFO_BASIC) < 0 || !written.insert(info.addr).second)
        throw inputError("refusing to write " + where +
                         ": it is the same HDF5 dataset as another one written (shared storage)");
    return d;
}

void writeDataset(hid_t file, const std::string& path, const Tensor& t, const std::string& output,
                  std::set<haddr_t>& written) {
    std::string where = output + ":" + path;
    h5::Handle d = openForWriting(file, path, output, written);
    if (h5::datasetShape(d.get()) != t.shape) throw inputError(where + " changed shape");
    auto dtype = io::floatType(d.get());
    if (!dtype) throw inputError(where + " is not a floating-point dataset");
    io::writeFloats(d.get(), *dtype, t.values, where);
    // Chunked datasets are written from HDF5's chunk cache when closed.
    if (d.close() < 0) hdf5Failed(output, path);
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
    h5::Handle attr(H5Acreate2(root.get(), "model_config", mem.get(), space.get(), H5P_DEFAULT,
                               H5P_DEFAULT));
    const char* ptr = text.c_str();
    herr_t status = attr ? (variable ? H5Awrite(attr.get(), mem.get(), &ptr)
                                     : H5Awrite(attr.get(), mem.get(), text.c_str()))
                         : -1;
    if (status < 0)
        throw inputError("cannot write model_config of '" + output + "': " + h5::lastError());
    if (attr.close() < 0) hdf5Failed(output, "model_config");
}

void checkCancel(const ExportOptions& o) {
    if (o.cancel && o.cancel->load()) throw Error(ErrorKind::Cancelled, "export cancelled");
}

}  // namespace

namespace {

// The input's bytes, edited in memory: HDF5 (core driver, no backing store) never writes to disk
// here, so a full disk cannot leave it with a file it fails to close. Returns the new image.
std::vector<char> editImage(std::vector<char> bytes, const std::string& name,
                            const std::vector<Layer>& layers, const std::string& output,
                            const ExportOptions& options) {
    h5::Silence quiet;
    h5::Handle file;
    {
        h5::Handle access(H5Pcreate(H5P_FILE_ACCESS));
        H5Pset_fapl_core(access.get(), size_t(1) << 20, false);
        H5Pset_file_image(access.get(), bytes.data(), bytes.size());
        bytes = {};
        file = h5::Handle(H5Fopen(name.c_str(), H5F_ACC_RDWR, access.get()));
    }
    if (!file) hdf5Failed(output, "a copy");
    std::set<haddr_t> written;
    for (const auto& l : layers) {
        checkCancel(options);
        writeDataset(file.get(), l.info.weightPath, l.weight, output, written);
        if (l.bias && l.info.hasBias())
            writeDataset(file.get(), l.info.biasPath, *l.bias, output, written);
    }
    for (const auto& [path, values] : options.extras.datasets) {
        checkCancel(options);
        writeDataset(file.get(), path, values, output, written);
    }
    if (options.extras.modelConfig) writeModelConfig(file.get(), *options.extras.modelConfig, output);
    if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) hdf5Failed(output, "the datasets");
    ssize_t size = H5Fget_file_image(file.get(), nullptr, 0);
    std::vector<char> image(size > 0 ? size_t(size) : 0);
    if (size <= 0 || H5Fget_file_image(file.get(), image.data(), image.size()) != size)
        hdf5Failed(output, "the file image");
    if (file.close() < 0) hdf5Failed(output, "the file");
    return image;
}

}  // namespace

void exportWeights(const std::string& input, const std::vector<Layer>& layers,
                   const std::string& output, const ExportOptions& options) {
    checkOutputPath(input, output, options.force);
    if (!options.reportPath.empty()) checkOutputPath(input, options.reportPath, options.force);
    // One read of the input, from a descriptor checked to be the file that was loaded.
    auto [bytes, mode] = readVerified(input, options.inputIdentity);
    checkCancel(options);
    TempFile temp(output);
    // The in-memory file needs a name that is no file on disk.
    std::vector<char> image =
        editImage(std::move(bytes), temp.path() + "-image", layers, output, options);
    // A read-only input must still give a writable output.
    temp.write(image.data(), image.size(), mode | S_IRUSR | S_IWUSR);
    image = {};
    // The report is complete before either file takes its name: both are written, or neither.
    std::optional<TempFile> report;
    if (!options.reportPath.empty()) {
        std::string text = options.reportText ? options.reportText() : std::string();
        report.emplace(options.reportPath);
        report->write(text.data(), text.size(), 0644);
    }
    checkCancel(options);
    temp.commit(options.force);
    if (report) {
        try {
            report->commit(options.force);
        } catch (...) {
            std::remove(output.c_str());
            throw;
        }
    }
}

}  // namespace cle::core
