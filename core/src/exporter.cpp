#include "cle/core/exporter.h"

#include <unistd.h>

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
    checkCancel(options);
    {
        h5::Silence quiet;
        h5::Handle file = h5::openExisting(temp.path(), true);
        for (const auto& l : layers) {
            checkCancel(options);
            writeDataset(file.get(), l.info.weightPath, l.weight, output);
            if (l.bias && l.info.hasBias()) writeDataset(file.get(), l.info.biasPath, *l.bias, output);
        }
        if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0)
            throw inputError("cannot write '" + output + "': " + h5::lastError());
    }
    checkCancel(options);
    temp.commit();
}

}  // namespace cle::core
