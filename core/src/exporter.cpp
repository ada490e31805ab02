#include "cle/core/exporter.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>

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

void writeDataset(hid_t file, const std::string& path, const Tensor& t, const std::string& output) {
    std::string where = output + ":" + path;
    h5::Handle d(H5Dopen2(file, path.c_str(), H5P_DEFAULT));
    if (!d) throw inputError("cannot open " + where + " for writing: " + h5::lastError());
    if (h5::datasetShape(d.get()) != t.shape) throw inputError(where + " changed shape");
    auto dtype = io::floatType(d.get());
    if (!dtype) throw inputError(where + " is not a floating-point dataset");
    io::writeFloats(d.get(), *dtype, t.values, where);
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
}

void checkCancel(const ExportOptions& o) {
    if (o.cancel && o.cancel->load()) throw Error(ErrorKind::Cancelled, "export cancelled");
}

}  // namespace

void exportWeights(const std::string& input, const std::vector<Layer>& layers,
                   const std::string& output, const ExportOptions& options) {
    checkOutputPath(input, output, options.force);
    TempFile temp(output);
    std::error_code ec;
    fs::copy_file(input, temp.path(), fs::copy_options::overwrite_existing, ec);
    if (ec) throw inputError("cannot copy '" + input + "' to '" + temp.path() + "': " + ec.message());
    // The copy takes the input's permissions; a read-only input must still give a writable copy.
    fs::permissions(temp.path(), fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::add, ec);
    checkCancel(options);
    {
        h5::Silence quiet;
        h5::Handle file = h5::openExisting(temp.path(), true);
        for (const auto& l : layers) {
            checkCancel(options);
            writeDataset(file.get(), l.info.weightPath, l.weight, output);
            if (l.bias && l.info.hasBias()) writeDataset(file.get(), l.info.biasPath, *l.bias, output);
        }
        for (const auto& [path, values] : options.extras.datasets) {
            checkCancel(options);
            writeDataset(file.get(), path, values, output);
        }
        if (options.extras.modelConfig) writeModelConfig(file.get(), *options.extras.modelConfig, output);
        if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0)
            throw inputError("cannot write '" + output + "': " + h5::lastError());
    }
    checkCancel(options);
    temp.commit();
}

}  // namespace cle::core
