#include "formats/onnx/onnx_file.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "cle/core/error.h"

namespace cle::core::onnxfmt {

namespace fs = std::filesystem;
using onnx::TensorProto;

bool isOnnxPath(const std::string& path) {
    if (path.size() < 5) return false;
    std::string tail = path.substr(path.size() - 5);
    std::transform(tail.begin(), tail.end(), tail.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    return tail == ".onnx";
}

int elementSize(int type) {
    switch (type) {
        case TensorProto::FLOAT:
        case TensorProto::INT32:
        case TensorProto::UINT32:
            return 4;
        case TensorProto::DOUBLE:
        case TensorProto::INT64:
        case TensorProto::UINT64:
            return 8;
        case TensorProto::FLOAT16:
        case TensorProto::BFLOAT16:
        case TensorProto::INT16:
        case TensorProto::UINT16:
            return 2;
        case TensorProto::INT8:
        case TensorProto::UINT8:
        case TensorProto::BOOL:
            return 1;
        default:
            return 0;
    }
}

namespace {

float halfToFloat(std::uint16_t h) {
    const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    float v;
    if (exponent == 0)
        v = std::ldexp(float(mantissa), -24);
    else if (exponent == 31)
        v = mantissa ? NAN : INFINITY;
    else
        v = std::ldexp(float(mantissa | 0x400), exponent - 25);
    return (h & 0x8000) ? -v : v;
}

float bfloatToFloat(std::uint16_t b) {
    std::uint32_t bits = std::uint32_t(b) << 16;
    float v;
    std::memcpy(&v, &bits, 4);
    return v;
}

// Little-endian bytes (raw_data and external data, whatever the machine) to an unsigned value.
std::uint64_t littleEndian(const unsigned char* p, int size) {
    std::uint64_t v = 0;
    for (int i = size - 1; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

double decode(int type, const unsigned char* p) {
    const int size = elementSize(type);
    const std::uint64_t u = littleEndian(p, size);
    switch (type) {
        case TensorProto::FLOAT: {
            float f;
            std::uint32_t b = std::uint32_t(u);
            std::memcpy(&f, &b, 4);
            return f;
        }
        case TensorProto::DOUBLE: {
            double d;
            std::memcpy(&d, &u, 8);
            return d;
        }
        case TensorProto::FLOAT16:
            return halfToFloat(std::uint16_t(u));
        case TensorProto::BFLOAT16:
            return bfloatToFloat(std::uint16_t(u));
        case TensorProto::INT8:
            return double(std::int8_t(u));
        case TensorProto::INT16:
            return double(std::int16_t(u));
        case TensorProto::INT32:
            return double(std::int32_t(u));
        case TensorProto::INT64:
            return double(std::int64_t(u));
        default:
            return double(u);  // unsigned, bool
    }
}

std::string fileOf(const std::string& path) { return "'" + path + "'"; }

}  // namespace

OnnxFile::OnnxFile(const std::string& path) : path_(path), model_(new onnx::ModelProto) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw inputError("cannot open " + fileOf(path));
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    if (in.bad()) throw inputError("cannot read " + fileOf(path));
    if (bytes.size() > size_t(INT32_MAX))
        throw inputError(fileOf(path) +
                         " is larger than 2 GB; such models keep their weights "
                         "in external data files");
    if (!model_->ParseFromArray(bytes.data(), int(bytes.size())) || !model_->has_graph())
        throw inputError(fileOf(path) + " is not an ONNX model (it cannot be parsed as one)");
    const auto& g = model_->graph();
    for (const auto& t : g.initializer()) tensors_.emplace(t.name(), &t);
    for (const auto& n : g.node()) {
        if (n.op_type() != "Constant" || !n.domain().empty() || n.output_size() != 1) continue;
        for (const auto& a : n.attribute())
            if (a.name() == "value" && a.has_t()) {
                tensors_.emplace(n.output(0), &a.t());
                constants_.emplace(n.output(0), &n);
            }
    }
}

OnnxFile::~OnnxFile() = default;

std::shared_ptr<const OnnxFile> OnnxFile::open(const std::string& path) {
    static std::mutex mutex;
    static std::map<std::string,
                    std::pair<std::optional<FileIdentity>, std::shared_ptr<const OnnxFile>>>
        cache;
    auto identity = fileIdentity(path);
    {
        std::lock_guard lock(mutex);
        auto it = cache.find(path);
        if (it != cache.end() && identity && it->second.first == identity) return it->second.second;
    }
    auto file = std::make_shared<const OnnxFile>(path);
    std::lock_guard lock(mutex);
    if (cache.size() > 8) cache.clear();
    cache[path] = {identity, file};
    return file;
}

const TensorProto* OnnxFile::tensor(const std::string& name) const {
    auto it = tensors_.find(name);
    return it == tensors_.end() ? nullptr : it->second;
}

const onnx::NodeProto* OnnxFile::constantNode(const std::string& name) const {
    auto it = constants_.find(name);
    return it == constants_.end() ? nullptr : it->second;
}

std::optional<DType> OnnxFile::floatType(const TensorProto& t) {
    switch (t.data_type()) {
        case TensorProto::FLOAT:
            return DType::Float32;
        case TensorProto::FLOAT16:
            return DType::Float16;
        case TensorProto::BFLOAT16:
            return DType::BFloat16;
        case TensorProto::DOUBLE:
            return DType::Float64;
        default:
            return std::nullopt;
    }
}

std::vector<std::int64_t> OnnxFile::dims(const TensorProto& t) const {
    std::vector<std::int64_t> d(t.dims().begin(), t.dims().end());
    std::int64_t count = 1;
    for (auto v : d)
        if (v < 0 || __builtin_mul_overflow(count, v, &count) || count > (std::int64_t(1) << 62))
            throw inputError("tensor '" + t.name() + "' of " + fileOf(path_) +
                             " has impossible dimensions");
    return d;
}

std::string OnnxFile::externalPath(const TensorProto& t) const {
    std::string location;
    for (const auto& e : t.external_data())
        if (e.key() == "location") location = e.value();
    const std::string what = "tensor '" + t.name() + "' of " + fileOf(path_);
    fs::path rel(location);
    if (location.empty()) throw inputError(what + " names no external data file");
    if (rel.is_absolute() || rel.has_root_name() || rel.has_root_directory())
        throw inputError(what + " names its external data by an absolute path ('" + location +
                         "'); only files in the model's folder are read");
    for (const auto& part : rel)
        if (part == "..")
            throw inputError(what + " names external data outside the model's folder ('" +
                             location + "')");
    std::error_code ec;
    fs::path dir = fs::path(path_).parent_path();
    fs::path base = fs::weakly_canonical(dir.empty() ? fs::path(".") : dir, ec);
    fs::path full = fs::weakly_canonical(base / rel, ec);
    auto [end, _] = std::mismatch(base.begin(), base.end(), full.begin(), full.end());
    if (ec || end != base.end())
        throw inputError(what + " names external data that leads outside the model's folder ('" +
                         location + "')");
    return full.string();
}

std::pair<std::int64_t, std::int64_t> OnnxFile::externalRange(const TensorProto& t) const {
    std::int64_t offset = 0, length = -1;
    for (const auto& e : t.external_data()) {
        if (e.key() != "offset" && e.key() != "length") continue;
        std::int64_t v = -1;
        try {
            size_t used = 0;
            v = std::stoll(e.value(), &used);
            if (used != e.value().size()) v = -1;
        } catch (const std::exception&) {
        }
        if (v < 0)
            throw inputError("tensor '" + t.name() + "' of " + fileOf(path_) + " has an invalid " +
                             e.key() + " '" + e.value() + "'");
        (e.key() == "offset" ? offset : length) = v;
    }
    return {offset, length};
}

// The tensor's bytes in raw little-endian form, from raw_data or its external file.
std::string OnnxFile::bytesOf(const TensorProto& t, std::int64_t expected) const {
    const std::string what = "tensor '" + t.name() + "' of " + fileOf(path_);
    if (t.data_location() != TensorProto::EXTERNAL) {
        if (std::int64_t(t.raw_data().size()) != expected)
            throw inputError(what + " claims " + std::to_string(expected) + " bytes but stores " +
                             std::to_string(t.raw_data().size()));
        return t.raw_data();
    }
    std::string file = externalPath(t);
    auto [offset, length] = externalRange(t);
    if (length >= 0 && length != expected)
        throw inputError(what + " claims " + std::to_string(expected) +
                         " bytes but its external data has length " + std::to_string(length));
    std::error_code ec;
    auto size = fs::file_size(file, ec);
    if (ec) throw inputError(what + ": cannot read its external data file '" + file + "'");
    if (offset > std::int64_t(size) || expected > std::int64_t(size) - offset)
        throw inputError(what + " lies beyond the end of its external data file '" + file + "'");
    std::ifstream in(file, std::ios::binary);
    std::string bytes(size_t(expected), '\0');
    in.seekg(offset);
    in.read(bytes.data(), expected);
    if (!in) throw inputError(what + ": cannot read its external data file '" + file + "'");
    return bytes;
}

std::optional<std::string> OnnxFile::storageProblem(const TensorProto& t) const {
    try {
        const auto d = dims(t);
        std::int64_t count = 1;
        for (auto v : d) count *= v;
        const int size = elementSize(t.data_type());
        if (size == 0)
            return "its element type (" + std::to_string(t.data_type()) + ") is not a number type";
        if (t.data_location() == TensorProto::EXTERNAL) {
            externalPath(t);
            auto [offset, length] = externalRange(t);
            if (length >= 0 && length != count * size)
                return "it claims " + std::to_string(count * size) +
                       " bytes but its external data has length " + std::to_string(length);
            std::error_code ec;
            auto fileSize = fs::file_size(externalPath(t), ec);
            if (ec) return "its external data file cannot be read";
            if (offset > std::int64_t(fileSize) || count * size > std::int64_t(fileSize) - offset)
                return "it lies beyond the end of its external data file";
            return std::nullopt;
        }
        if (t.has_raw_data()) {
            if (std::int64_t(t.raw_data().size()) != count * size)
                return "it claims " + std::to_string(count) + " values but stores " +
                       std::to_string(t.raw_data().size()) + " bytes";
            return std::nullopt;
        }
        std::int64_t stored = 0;
        switch (t.data_type()) {
            case TensorProto::FLOAT:
                stored = t.float_data_size();
                break;
            case TensorProto::DOUBLE:
                stored = t.double_data_size();
                break;
            case TensorProto::INT64:
                stored = t.int64_data_size();
                break;
            case TensorProto::UINT32:
            case TensorProto::UINT64:
                stored = t.uint64_data_size();
                break;
            default:
                stored = t.int32_data_size();
                break;
        }
        if (stored != count)
            return "it claims " + std::to_string(count) + " values but stores " +
                   std::to_string(stored);
    } catch (const Error& e) {
        return std::string(e.what());
    }
    return std::nullopt;
}

std::vector<double> OnnxFile::numbers(const TensorProto& t) const {
    if (auto problem = storageProblem(t))
        throw inputError("cannot read tensor '" + t.name() + "' of " + fileOf(path_) + ": " +
                         *problem);
    std::int64_t count = 1;
    for (auto v : dims(t)) count *= v;
    const int type = t.data_type(), size = elementSize(type);
    std::vector<double> out;
    out.reserve(size_t(count));
    if (t.has_raw_data() || t.data_location() == TensorProto::EXTERNAL) {
        std::string bytes = bytesOf(t, count * size);
        auto p = reinterpret_cast<const unsigned char*>(bytes.data());
        for (std::int64_t i = 0; i < count; ++i) out.push_back(decode(type, p + i * size));
        return out;
    }
    switch (type) {
        case TensorProto::FLOAT:
            out.assign(t.float_data().begin(), t.float_data().end());
            break;
        case TensorProto::DOUBLE:
            out.assign(t.double_data().begin(), t.double_data().end());
            break;
        case TensorProto::INT64:
            out.assign(t.int64_data().begin(), t.int64_data().end());
            break;
        case TensorProto::UINT32:
        case TensorProto::UINT64:
            out.assign(t.uint64_data().begin(), t.uint64_data().end());
            break;
        case TensorProto::FLOAT16:
            for (auto v : t.int32_data()) out.push_back(halfToFloat(std::uint16_t(v)));
            break;
        case TensorProto::BFLOAT16:
            for (auto v : t.int32_data()) out.push_back(bfloatToFloat(std::uint16_t(v)));
            break;
        default:
            out.assign(t.int32_data().begin(), t.int32_data().end());
            break;
    }
    return out;
}

Tensor OnnxFile::read(const TensorProto& t) const {
    Tensor out;
    out.shape = dims(t);
    auto values = numbers(t);
    out.values.reserve(values.size());
    for (double v : values) {
        if (std::isfinite(v) && std::fabs(v) > 3.4028234663852886e38)
            throw inputError("tensor '" + t.name() + "' of " + fileOf(path_) +
                             " holds a value beyond the float32 range");
        out.values.push_back(float(v));
    }
    return out;
}

Tensor OnnxFile::read(const std::string& name) const {
    const TensorProto* t = tensor(name);
    if (!t) throw inputError(fileOf(path_) + " has no tensor '" + name + "'");
    return read(*t);
}

}  // namespace cle::core::onnxfmt
