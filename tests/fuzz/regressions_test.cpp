// Every fuzz target over its seed corpus and over every input that once made it fail
// (tests/fuzz/regressions/<target>/): each must return normally.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include "targets.h"

namespace fs = std::filesystem;

namespace {

using Target = std::function<void(const std::uint8_t*, std::size_t)>;

std::vector<fs::path> filesUnder(const std::vector<std::string>& dirs, const std::string& ext) {
    std::vector<fs::path> files;
    for (const auto& d : dirs) {
        if (!fs::is_directory(d)) continue;
        for (const auto& e : fs::recursive_directory_iterator(d))
            if (e.is_regular_file() && (ext.empty() || e.path().extension() == ext))
                files.push_back(e.path());
    }
    return files;
}

void replay(const Target& target, const std::vector<fs::path>& files) {
    ASSERT_FALSE(files.empty());
    for (const auto& f : files) {
        SCOPED_TRACE(f.string());
        std::ifstream in(f, std::ios::binary);
        std::vector<char> bytes((std::istreambuf_iterator<char>(in)), {});
        EXPECT_NO_THROW(target(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    }
}

const std::string kFuzz = CLE_FUZZ_DIR;

TEST(FuzzRegressions, WeightFile) {
    auto files = filesUnder({CLE_TEST_DATA_DIR, CLE_SAMPLE_DIR}, ".h5");
    auto found = filesUnder({kFuzz + "/regressions/weight_file"}, "");
    files.insert(files.end(), found.begin(), found.end());
    replay(cle::fuzz::weightFile, files);
}

TEST(FuzzRegressions, OnnxFile) {
    auto files = filesUnder({std::string(CLE_TEST_DATA_DIR) + "/onnx"}, ".onnx");
    for (const auto& dir : {"/corpus/onnx_file", "/regressions/onnx_file"}) {
        auto found = filesUnder({kFuzz + dir}, "");
        files.insert(files.end(), found.begin(), found.end());
    }
    replay(cle::fuzz::onnxFile, files);
}

TEST(FuzzRegressions, KerasConfig) {
    replay(cle::fuzz::kerasConfig,
           filesUnder({kFuzz + "/corpus/keras_config", kFuzz + "/regressions/keras_config"}, ""));
}

TEST(FuzzRegressions, PairsFile) {
    replay(cle::fuzz::pairsFile,
           filesUnder({kFuzz + "/corpus/pairs_file", kFuzz + "/regressions/pairs_file"}, ""));
}

TEST(FuzzRegressions, Report) {
    replay(cle::fuzz::report,
           filesUnder({kFuzz + "/corpus/report", kFuzz + "/regressions/report"}, ""));
}

}  // namespace
