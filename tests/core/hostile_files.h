#pragma once
// Shared by the tests of hostile weight files: a scratch directory with an input and an output
// path, and small helpers.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "cle/core/weight_file.h"
#include "test_util.h"

namespace cle::test {

inline std::string bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

inline bool contains(const std::string& text, const std::string& words) {
    return text.find(words) != std::string::npos;
}

// fc1 -> fc2 (PyTorch names), 64 x 64 each: small integers times a power of two per channel.
// The values compress well; equalized (factors that are no powers of two) they do not.
inline void torchPair(const std::string& path, bool chunked = false) {
    auto values = [](unsigned seed, bool rows) {
        auto v = randomValues(64 * 64, 8.0, seed);
        for (size_t i = 0; i < v.size(); ++i)
            v[i] = std::round(v[i]) * std::ldexp(1.0, int((rows ? i / 64 : i % 64) % 8));
        return v;
    };
    H5Writer w(path);
    w.dataset("/fc1.weight", {64, 64}, values(1, true), H5T_IEEE_F32LE, chunked);
    w.dataset("/fc2.weight", {64, 64}, values(2, false), H5T_IEEE_F32LE, chunked);
}

inline const core::LayerInfo& layer(const core::ModelInfo& info, const std::string& name) {
    const auto* l = info.find(name);
    if (!l) throw std::runtime_error("no layer " + name);
    return *l;
}

class Hostile : public ::testing::Test {
protected:
    TempDir dir;
    std::string in = dir.file("in.h5");
    std::string out = dir.file("out.h5");
};

}  // namespace cle::test
