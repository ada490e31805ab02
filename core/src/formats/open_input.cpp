#include "formats/open_input.h"

#include <filesystem>
#include <fstream>

#include "cle/core/error.h"
#include "formats/keras_archive.h"
#include "formats/sharded_weights.h"

namespace cle::core::h5 {

[[noreturn]] static void explainUnopenable(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(path, ec)) throw inputError("cannot open '" + path + "': no such file");
    if (fs::is_directory(path, ec))
        throw inputError("cannot open '" + path + "': it is a directory, not a weight file");
    std::ifstream in(path, std::ios::binary);
    if (!in) throw inputError("cannot open '" + path + "': permission denied or unreadable");
    std::string head(256, '\0');
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    head.resize(static_cast<size_t>(in.gcount()));
    if (head.starts_with("version https://git-lfs"))
        throw inputError("'" + path +
                         "' is a Git LFS pointer, not the weights themselves; fetch them with "
                         "'git lfs pull'");
    if (head.starts_with("\x89HDF"))
        throw inputError("cannot open '" + path + "' as HDF5; the file is truncated or damaged (" +
                         lastError() + ")");
    throw inputError("'" + path + "' is not an HDF5 file");
}

Handle openExisting(const std::string& path, bool writable) {
    Silence quiet;
    // A Keras archive reads as its weights with its graph; it is written only by the exporter.
    if (!writable && archive::isZip(path)) return archive::openWeights(path);
    if (!writable && !isHdf5File(path) && sharded::isIndex(path)) return sharded::openSet(path);
    Handle file;
    if (isHdf5File(path)) file = openFile(path, writable);
    if (!file) explainUnopenable(path);
    return file;
}

}  // namespace cle::core::h5
