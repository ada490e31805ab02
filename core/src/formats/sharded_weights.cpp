#include "formats/sharded_weights.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>

#include "cle/core/error.h"
#include "cle/core/weight_file.h"
#include "formats/keras_archive.h"
#include "hdf5/attribute_copy.h"
#include "hdf5/global_heap.h"
#include "support/json_text.h"

namespace cle::core::sharded {

namespace fs = std::filesystem;

namespace {

constexpr std::uintmax_t kMaxIndexBytes = 64 << 20;  // an index lists names, not weights
constexpr int kMaxDepth = 64;
constexpr const char* kSetEntry = "shards";

std::vector<char> assemble(const std::string& path);

std::optional<nlohmann::json> readJson(const std::string& path) {
    std::error_code ec;
    auto size = fs::file_size(path, ec);
    if (ec || size > kMaxIndexBytes) return std::nullopt;
    std::ifstream in(path, std::ios::binary);
    // Read whole only when it starts as a JSON object: a weight file is never read into memory.
    char c = 0;
    while (in.get(c) && (c == ' ' || c == '\t' || c == '\r' || c == '\n')) {
    }
    if (!in || c != '{') return std::nullopt;
    in.seekg(0);
    std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || text[first] != '{') return std::nullopt;
    auto j = json_text::parseModelConfig(text, path);
    if (j.is_discarded()) return std::nullopt;
    return j;
}

std::string dirOf(const std::string& path) {
    fs::path dir = fs::path(path).parent_path();
    return dir.empty() ? "." : dir.string();
}

// Copies what `src` holds below `path` into `dst`: a group `dst` lacks is copied whole (with its
// attributes, such as the layer name on a vars group); one it has is merged child by child.
void merge(hid_t src, hid_t dst, const std::string& path, int depth, const std::string& shard) {
    if (depth > kMaxDepth)
        throw inputError("cannot read the shard '" + shard + "': its groups are nested more than " +
                         std::to_string(kMaxDepth) + " levels deep");
    for (const auto& child : h5::listChildren(src, path.empty() ? "/" : path)) {
        std::string at = path + "/" + child;
        // Links in the (writable) set are looked at, never followed.
        if (H5Lexists(dst, at.c_str(), H5P_DEFAULT) > 0) {
            H5L_info_t link;
            bool hard =
                H5Lget_info(dst, at.c_str(), &link, H5P_DEFAULT) >= 0 && link.type == H5L_TYPE_HARD;
            if (hard && h5::isGroup(src, at) && h5::isGroup(dst, at))
                merge(src, dst, at, depth + 1, shard);
            continue;  // a dataset in two shards: the first one's
        }
        h5::checkBeforeCopy(src, at, kMaxDepth - depth, shard);
        h5::copyObject(src, dst, at, shard);
    }
}

}  // namespace

bool isIndex(const std::string& path) {
    auto j = readJson(path);
    return j && j->is_object() && j->contains("weight_map");
}

std::vector<std::string> shardsOf(const std::string& path) {
    auto j = readJson(path);
    if (!j || !j->is_object() || !j->contains("weight_map") || !(*j)["weight_map"].is_object())
        throw inputError("cannot read the shard index '" + path + "': it has no weight_map");
    std::vector<std::string> names;
    auto add = [&](const nlohmann::json& v) {
        if (!v.is_string())
            throw inputError("cannot read the shard index '" + path +
                             "': a weight_map entry is not a file name");
        std::string name = v.get<std::string>();
        if (name.empty() || name.find('/') != std::string::npos || name == "." || name == "..")
            throw inputError("the shard index '" + path + "' names the shard '" + name +
                             "', which is not a file in its directory");
        if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    };
    for (const auto& [key, value] : (*j)["weight_map"].items()) {
        if (value.is_array())
            for (const auto& v : value) add(v);
        else
            add(value);
    }
    if (names.empty()) throw inputError("the shard index '" + path + "' lists no shards");
    std::vector<std::string> paths;
    for (const auto& n : names) paths.push_back((fs::path(dirOf(path)) / n).string());
    return paths;
}

namespace {
// The set assembled last, as an HDF5 image: loading a model opens its weights many times.
std::mutex g_cacheMutex;
std::string g_cachePath;
std::vector<std::optional<FileIdentity>> g_cacheIdentity;  ///< of the index and its shards
std::shared_ptr<const std::vector<char>> g_cacheImage;
}  // namespace

h5::Handle openSet(const std::string& path) {
    std::vector<std::optional<FileIdentity>> identity{fileIdentity(path)};
    for (const auto& shard : shardsOf(path)) identity.push_back(fileIdentity(shard));
    {
        std::lock_guard lock(g_cacheMutex);
        if (g_cacheImage && g_cachePath == path && g_cacheIdentity == identity)
            return archive::openShared(g_cacheImage, path, kSetEntry);
    }
    auto image = std::make_shared<const std::vector<char>>(assemble(path));
    std::lock_guard lock(g_cacheMutex);
    g_cachePath = path;
    g_cacheIdentity = identity;
    g_cacheImage = image;
    return archive::openShared(image, path, kSetEntry);
}

namespace {
std::vector<char> assemble(const std::string& path) {
    auto shards = shardsOf(path);
    h5::Silence quiet;
    h5::Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
    H5Pset_fapl_core(fapl.get(), 1 << 20, 0);
    // Named so that it cannot be a file on disk.
    std::string name = path + "/" + kSetEntry;
    h5::Handle set(H5Fcreate(name.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, fapl.get()));
    if (!set) throw inputError("cannot assemble the shards of '" + path + "': " + h5::lastError());
    for (const auto& shard : shards) {
        std::error_code ec;
        if (!fs::exists(shard, ec))
            throw inputError("the shard '" + shard + "' of '" + path + "' does not exist");
        // Never an index or an archive again: a set that names itself is refused here.
        h5::Handle file = h5::isHdf5File(shard) ? h5::openFile(shard, false) : h5::Handle();
        if (!file)
            throw inputError("the shard '" + shard + "' of '" + path +
                             "' is not a readable HDF5 file");
        merge(file.get(), set.get(), "", 0, shard);
    }
    return archive::imageOf(set.get(), path);
}
}  // namespace

std::vector<std::string> outputShards(const std::string& output, size_t count) {
    std::string stem = fs::path(output).stem().string();  // "out.weights"
    if (auto pos = stem.find(".weights"); pos != std::string::npos) stem.erase(pos, 8);
    std::vector<std::string> paths;
    for (size_t i = 0; i < count; ++i) {
        char index[32];
        std::snprintf(index, sizeof index, "_%05zu", i);
        paths.push_back((fs::path(dirOf(output)) / (stem + index + ".weights.h5")).string());
    }
    return paths;
}

std::string outputIndex(const std::string& input, const std::vector<std::string>& outputs) {
    auto j = readJson(input);
    auto inputs = shardsOf(input);
    auto rename = [&](nlohmann::json& v) {
        std::string full = (fs::path(dirOf(input)) / v.get<std::string>()).string();
        auto it = std::find(inputs.begin(), inputs.end(), full);
        v = fs::path(outputs.at(size_t(it - inputs.begin()))).filename().string();
    };
    for (auto& [key, value] : (*j)["weight_map"].items()) {
        if (value.is_array())
            for (auto& v : value) rename(v);
        else
            rename(value);
    }
    return json_text::dump(*j, 4);
}

}  // namespace cle::core::sharded
