#include "formats/keras_archive.h"

#include <zip.h>

#include <fstream>
#include <memory>
#include <mutex>
#include <optional>

#include "cle/core/error.h"
#include "cle/core/model.h"
#include "cle/core/weight_file.h"
#include "support/json_text.h"

namespace cle::core::archive {

namespace {

struct ZipCloser {
    void operator()(zip_t* z) const { zip_discard(z); }
};
using Zip = std::unique_ptr<zip_t, ZipCloser>;

std::string zipError(int code) {
    zip_error_t e;
    zip_error_init_with_code(&e, code);
    std::string s = zip_error_strerror(&e);
    zip_error_fini(&e);
    return s;
}

Zip openZip(const std::string& path) {
    int code = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
    if (!z)
        throw inputError("cannot read the archive '" + path + "': " + zipError(code) +
                         " (a damaged or truncated zip file)");
    return Zip(z);
}

std::optional<zip_uint64_t> locate(zip_t* z, const char* name) {
    zip_int64_t i = zip_name_locate(z, name, 0);
    if (i < 0) return std::nullopt;
    return zip_uint64_t(i);
}

// The uncompressed bytes of entry `index`, after checking that they fit in memory.
std::vector<char> readEntry(zip_t* z, zip_uint64_t index, const std::string& path) {
    zip_stat_t st;
    zip_stat_init(&st);
    std::string name = zip_get_name(z, index, 0) ? zip_get_name(z, index, 0) : "?";
    if (zip_stat_index(z, index, 0, &st) != 0 || !(st.valid & ZIP_STAT_SIZE))
        throw inputError("cannot read " + name + " in '" + path + "': " + zip_strerror(z));
    std::int64_t available = availableMemory();
    if (available > 0 && st.size > zip_uint64_t(available))
        throw inputError(name + " in '" + path + "' claims " + std::to_string(st.size >> 20) +
                         " MB uncompressed, more than the memory available");
    std::unique_ptr<zip_file_t, int (*)(zip_file_t*)> f(zip_fopen_index(z, index, 0), zip_fclose);
    if (!f) throw inputError("cannot read " + name + " in '" + path + "': " + zip_strerror(z));
    std::vector<char> bytes(st.size);
    zip_int64_t n = bytes.empty() ? 0 : zip_fread(f.get(), bytes.data(), bytes.size());
    if (n < 0 || zip_uint64_t(n) != st.size)
        throw inputError("cannot read " + name + " in '" + path + "': " +
                         (n < 0 ? zip_file_strerror(f.get()) : "it is shorter than recorded") +
                         " (a damaged archive)");
    return bytes;
}

bool describesGraph(const nlohmann::json& j) {
    if (!j.is_object() || !j.contains("config") || !j["config"].is_object()) return false;
    return j["config"].contains("layers") && j["config"]["layers"].is_array();
}

}  // namespace

bool isZip(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char head[4] = {};
    if (!in.read(head, 4)) return false;
    return head[0] == 'P' && head[1] == 'K' &&
           ((head[2] == 3 && head[3] == 4) || (head[2] == 5 && head[3] == 6));
}

Contents read(const std::string& path) {
    Zip z = openZip(path);
    auto config = locate(z.get(), kConfigEntry);
    auto weights = locate(z.get(), kWeightsEntry);
    if (!config && !locate(z.get(), "metadata.json"))
        throw inputError("'" + path +
                         "' is a zip archive but not a Keras model archive (it has "
                         "no config.json nor metadata.json)");
    if (!weights) {
        bool sharded = locate(z.get(), "model.weights.json").has_value();
        bool npz = locate(z.get(), "model.weights.npz").has_value();
        throw inputError("the Keras archive '" + path + "' has no model.weights.h5" +
                         (sharded ? " (its weights are sharded inside the archive, which is not "
                                    "supported)"
                          : npz   ? " (its weights are stored as .npz, which is not supported)"
                                  : ""));
    }
    if (!config) throw inputError("the Keras archive '" + path + "' has no config.json");
    Contents c;
    auto text = readEntry(z.get(), *config, path);
    c.config.assign(text.begin(), text.end());
    auto j = json_text::parseModelConfig(c.config, path);
    if (j.is_discarded())
        throw inputError("cannot read config.json in '" + path + "': it is not valid JSON");
    c.hasGraph = describesGraph(j);
    if (auto metadata = locate(z.get(), "metadata.json")) {
        auto m = readEntry(z.get(), *metadata, path);
        try {  // a damaged metadata.json only leaves the version unsaid
            auto meta = json_text::parseModelConfig(std::string(m.begin(), m.end()), path);
            if (meta.is_object() && meta["keras_version"].is_string())
                c.kerasVersion = meta["keras_version"].get<std::string>();
        } catch (const Error&) {
        }
    }
    c.weights = readEntry(z.get(), *weights, path);
    return c;
}

h5::Handle openImage(const std::vector<char>& image, const std::string& label,
                     const std::string& entry, bool writable) {
    h5::Silence quiet;
    h5::Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
    if (H5Pset_fapl_core(fapl.get(), 1 << 20, 0) < 0 ||
        H5Pset_file_image(fapl.get(), const_cast<char*>(image.data()), image.size()) < 0)
        throw inputError("cannot open the weights of '" + label + "': " + h5::lastError());
    // Named after the entry inside the archive: a name that cannot be a file on disk, which the
    // memory driver would otherwise look at.
    std::string name = label + "/" + entry;
    h5::Handle file(H5Fopen(name.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, fapl.get()));
    if (!file)
        throw inputError("cannot open " + entry + " in '" + label +
                         "' as HDF5: it is truncated or damaged (" + h5::lastError() + ")");
    return file;
}

namespace {

// Read-only images are shared with HDF5, not copied: each property list and file holds a
// reference to the bytes (the udata), and every "allocation" is the shared buffer itself.
using SharedBytes = std::shared_ptr<const std::vector<char>>;

void* sharedMalloc(size_t size, H5FD_file_image_op_t, void* udata) {
    const auto& bytes = **static_cast<SharedBytes*>(udata);
    return size <= bytes.size() ? const_cast<char*>(bytes.data()) : nullptr;
}
void* sharedMemcpy(void* dest, const void* src, size_t, H5FD_file_image_op_t, void*) {
    return dest == src ? dest : nullptr;  // the one buffer is never copied into
}
void* sharedRealloc(void*, size_t, H5FD_file_image_op_t, void*) { return nullptr; }
herr_t sharedFree(void*, H5FD_file_image_op_t, void*) { return 0; }
void* sharedCopy(void* udata) { return new SharedBytes(*static_cast<SharedBytes*>(udata)); }
herr_t sharedRelease(void* udata) {
    delete static_cast<SharedBytes*>(udata);
    return 0;
}

}  // namespace

h5::Handle openShared(const std::shared_ptr<const std::vector<char>>& image,
                      const std::string& label, const std::string& entry) {
    h5::Silence quiet;
    h5::Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
    SharedBytes bytes = image;
    H5FD_file_image_callbacks_t callbacks = {sharedMalloc, sharedMemcpy,  sharedRealloc, sharedFree,
                                             sharedCopy,   sharedRelease, &bytes};
    if (H5Pset_fapl_core(fapl.get(), 1 << 20, 0) < 0 ||
        H5Pset_file_image_callbacks(fapl.get(), &callbacks) < 0 ||
        H5Pset_file_image(fapl.get(), const_cast<char*>(image->data()), image->size()) < 0)
        throw inputError("cannot open the weights of '" + label + "': " + h5::lastError());
    std::string name = label + "/" + entry;
    h5::Handle file(H5Fopen(name.c_str(), H5F_ACC_RDONLY, fapl.get()));
    if (!file)
        throw inputError("cannot open " + entry + " in '" + label +
                         "' as HDF5: it is truncated or damaged (" + h5::lastError() + ")");
    return file;
}

namespace {
// The archive read last: loading a model opens its weights many times.
struct Cached {
    std::string path;
    std::optional<FileIdentity> identity;
    std::shared_ptr<const Contents> contents;
};
std::mutex g_cacheMutex;
Cached g_cache;

}  // namespace

namespace {
void setRootString(hid_t root, const char* name, const std::string& value,
                   const std::string& path) {
    if (h5::hasAttribute(root, name)) H5Adelete(root, name);
    h5::Handle type(H5Tcopy(H5T_C_S1));
    H5Tset_size(type.get(), H5T_VARIABLE);
    H5Tset_cset(type.get(), H5T_CSET_UTF8);
    h5::Handle space(H5Screate(H5S_SCALAR));
    h5::Handle attr(H5Acreate2(root, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
    const char* text = value.c_str();
    if (!attr || H5Awrite(attr.get(), type.get(), &text) < 0)
        throw inputError("cannot read the graph of '" + path + "': " + h5::lastError());
}

// The weights with config.json as their root attribute model_config (and metadata.json's
// keras_version as keras_version, as a Keras .h5 file keeps them).
std::vector<char> withGraph(const Contents& contents, const std::string& path) {
    h5::Handle file = openImage(contents.weights, path, kWeightsEntry, true);
    h5::Silence quiet;
    {
        h5::Handle root(H5Gopen2(file.get(), "/", H5P_DEFAULT));
        setRootString(root.get(), "model_config", contents.config, path);
        if (!contents.kerasVersion.empty())
            setRootString(root.get(), "keras_version", contents.kerasVersion, path);
    }
    return imageOf(file.get(), path);
}
}  // namespace

std::shared_ptr<const Contents> cachedRead(const std::string& path) {
    auto identity = fileIdentity(path);
    {
        std::lock_guard lock(g_cacheMutex);
        if (g_cache.contents && g_cache.path == path && identity && g_cache.identity == identity)
            return g_cache.contents;
    }
    auto contents = std::make_shared<Contents>(read(path));
    if (contents->hasGraph) contents->weights = withGraph(*contents, path);
    std::lock_guard lock(g_cacheMutex);
    g_cache = {path, identity, contents};
    return contents;
}

h5::Handle openWeights(const std::string& path) {
    // Read-only: an external link in the weights is never followed into a writable file.
    auto contents = cachedRead(path);
    return openShared(SharedBytes(contents, &contents->weights), path, kWeightsEntry);
}

std::vector<char> imageOf(hid_t file, const std::string& label) {
    h5::Silence quiet;
    if (H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
        throw inputError("cannot write the weights of '" + label + "': " + h5::lastError());
    ssize_t size = H5Fget_file_image(file, nullptr, 0);
    std::vector<char> bytes(size > 0 ? size_t(size) : 0);
    if (size <= 0 || H5Fget_file_image(file, bytes.data(), bytes.size()) != size)
        throw inputError("cannot write the weights of '" + label + "': " + h5::lastError());
    return bytes;
}

namespace {

struct SourceFree {
    void operator()(zip_source_t* s) const { zip_source_free(s); }
};

// Copies entry `i` of `in` into `out`: the same name, data, compression and time.
void copyEntry(zip_t* in, zip_t* out, zip_uint64_t i, const std::vector<char>* data,
               const std::string& output) {
    zip_stat_t st;
    zip_stat_init(&st);
    zip_stat_index(in, i, 0, &st);
    const char* name = zip_get_name(in, i, ZIP_FL_ENC_RAW);
    zip_source_t* src = data ? zip_source_buffer(out, data->data(), data->size(), 0)
                             : zip_source_zip(out, in, i, 0, 0, -1);
    zip_int64_t at = src ? zip_file_add(out, name, src, ZIP_FL_ENC_GUESS) : -1;
    if (at < 0) {
        if (src) zip_source_free(src);
        throw inputError("cannot write '" + output + "': " + zip_strerror(out));
    }
    if (st.valid & ZIP_STAT_COMP_METHOD)
        zip_set_file_compression(out, zip_uint64_t(at), zip_int32_t(st.comp_method), 0);
    if (st.valid & ZIP_STAT_MTIME) zip_file_set_mtime(out, zip_uint64_t(at), st.mtime, 0);
}

std::vector<char> drain(zip_source_t* src, const std::string& output) {
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_source_open(src) < 0 || zip_source_stat(src, &st) < 0)
        throw inputError("cannot write '" + output + "': the archive could not be assembled");
    std::vector<char> bytes(st.size);
    zip_int64_t n = bytes.empty() ? 0 : zip_source_read(src, bytes.data(), bytes.size());
    zip_source_close(src);
    if (n < 0 || zip_uint64_t(n) != st.size)
        throw inputError("cannot write '" + output + "': the archive could not be assembled");
    return bytes;
}

}  // namespace

std::vector<char> rewrite(const std::string& path,
                          const std::map<std::string, std::vector<char>>& replaced,
                          const std::string& output) {
    Zip in = openZip(path);
    zip_error_t err;
    zip_error_init(&err);
    std::unique_ptr<zip_source_t, SourceFree> buffer(zip_source_buffer_create(nullptr, 0, 0, &err));
    if (!buffer) throw inputError("cannot write '" + output + "': out of memory");
    zip_source_keep(buffer.get());  // it outlives the archive written into it
    zip_t* out = zip_open_from_source(buffer.get(), ZIP_TRUNCATE, &err);
    if (!out) {
        zip_source_free(buffer.get());  // the reference taken for the archive
        throw inputError("cannot write '" + output + "': " + std::string(zip_error_strerror(&err)));
    }
    Zip guard(out);
    zip_int64_t n = zip_get_num_entries(in.get(), 0);
    for (zip_int64_t i = 0; i < n; ++i) {
        const char* name = zip_get_name(in.get(), zip_uint64_t(i), 0);
        auto it = name ? replaced.find(name) : replaced.end();
        copyEntry(in.get(), out, zip_uint64_t(i), it == replaced.end() ? nullptr : &it->second,
                  output);
    }
    if (zip_close(guard.get()) < 0)
        throw inputError("cannot write '" + output + "': " + zip_strerror(guard.get()));
    guard.release();
    return drain(buffer.get(), output);
}

}  // namespace cle::core::archive
