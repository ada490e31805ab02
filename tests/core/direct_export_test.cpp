// Export writing changed datasets stored as plain blocks straight at their offsets: the same
// bytes as writing every dataset through HDF5, with the other layouts left to HDF5.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <set>

#include "cle/core/equalizer.h"
#include "cle/core/error.h"
#include "cle/core/exporter.h"
#include "export/direct_write.h"
#include "test_util.h"

using namespace cle;

namespace {

std::vector<char> bytesOf(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

hid_t space(const std::vector<std::int64_t>& shape) {
    std::vector<hsize_t> dims(shape.begin(), shape.end());
    return H5Screate_simple(int(dims.size()), dims.data(), nullptr);
}

// A float32 dataset with the given creation properties, filled unless `empty`.
void create(hid_t file, const std::string& path, const std::vector<std::int64_t>& shape, hid_t dcpl,
            bool empty = false) {
    hid_t s = space(shape);
    hid_t d = H5Dcreate2(file, path.c_str(), H5T_IEEE_F32LE, s, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ASSERT_GE(d, 0) << path;
    auto values = test::randomValues(size_t(H5Sget_simple_extent_npoints(s)), 1.0, 7);
    if (!empty) H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    H5Dclose(d);
    H5Sclose(s);
}

// Keras 3's bfloat16: two opaque bytes per value with a dtype attribute.
void bfloat16Dataset(test::H5Writer& w, const std::string& path, std::int64_t n) {
    hid_t type = H5Tcreate(H5T_OPAQUE, 2);
    hid_t s = space({n});
    hid_t d = H5Dcreate2(w.id(), path.c_str(), type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    std::vector<std::uint16_t> bits(size_t(n), 0x3f80);  // 1.0
    H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, bits.data());
    H5Dclose(d);
    H5Sclose(s);
    H5Tclose(type);
    w.strings(path, "dtype", {"bfloat16"}, true, true);
}

// Every layout and stored type the exporter writes: contiguous (float32, float64, float16,
// bfloat16, both byte orders), chunked, compressed, compact, and contiguous with no space
// allocated yet.
void writeMixed(const std::string& path) {
    test::H5Writer w(path);
    w.group("/a");
    w.group("/b");
    w.dataset("/a/f32", {16, 8}, test::randomValues(128, 1.0, 1));
    w.dataset("/a/f32be", {8, 4}, test::randomValues(32, 1.0, 2), H5T_IEEE_F32BE);
    w.dataset("/a/f64", {4, 3, 3}, test::randomValues(36, 1.0, 3), H5T_IEEE_F64LE);
    w.dataset("/a/f64be", {6}, test::randomValues(6, 1.0, 4), H5T_IEEE_F64BE);
    hid_t half = test::halfType();
    w.dataset("/a/f16", {10}, test::randomValues(10, 1.0, 5), half);
    H5Tset_order(half, H5T_ORDER_BE);
    w.dataset("/a/f16be", {3, 3}, test::randomValues(9, 1.0, 6), half);
    H5Tclose(half);
    bfloat16Dataset(w, "/a/bf16", 12);
    w.dataset("/a/untouched", {32}, test::randomValues(32, 1.0, 8));
    w.dataset("/b/compressed", {16, 8}, test::randomValues(128, 1.0, 9), H5T_IEEE_F32LE, true);
    hid_t chunked = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk[2] = {4, 8};
    H5Pset_chunk(chunked, 2, chunk);
    create(w.id(), "/b/chunked", {16, 8}, chunked);
    H5Pclose(chunked);
    hid_t compact = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_layout(compact, H5D_COMPACT);
    create(w.id(), "/b/compact", {5}, compact);
    H5Pclose(compact);
    hid_t late = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_alloc_time(late, H5D_ALLOC_TIME_LATE);
    create(w.id(), "/b/unallocated", {7}, late, true);
    H5Pclose(late);
}

const std::vector<std::pair<std::string, std::vector<std::int64_t>>> kMixed = {
    {"/a/f32", {16, 8}}, {"/a/f32be", {8, 4}},       {"/a/f64", {4, 3, 3}},
    {"/a/f64be", {6}},   {"/a/f16", {10}},           {"/a/f16be", {3, 3}},
    {"/a/bf16", {12}},   {"/b/compressed", {16, 8}}, {"/b/chunked", {16, 8}},
    {"/b/compact", {5}}, {"/b/unallocated", {7}}};

core::ExportOptions mixedChanges() {
    core::ExportOptions o;
    unsigned seed = 100;
    for (const auto& [path, shape] : kMixed) {
        core::Tensor t;
        t.shape = shape;
        for (double v : test::randomValues(size_t(t.size()), 2.0, seed++))
            t.values.push_back(float(v));
        // A float16 tie (1 + 2^-11 rounds to even, 1.0) and a NaN on the direct path.
        if (path == "/a/f16") t.values[0] = 1.0f + 1.0f / 2048.0f, t.values[1] = NAN;
        o.extras.datasets.emplace_back(path, std::move(t));
    }
    return o;
}

// Exports `layers` and `options` from `input` both ways; the two files' bytes.
std::pair<std::vector<char>, std::vector<char>> bothWays(const std::string& input,
                                                         const std::vector<core::Layer>& layers,
                                                         core::ExportOptions options) {
    test::TempDir dir;
    options.directWrites = true;
    core::exportWeights(input, layers, dir.file("direct.h5"), options);
    options.directWrites = false;
    core::exportWeights(input, layers, dir.file("hdf5.h5"), options);
    EXPECT_EQ(dir.entries().size(), 2u);
    return {bytesOf(dir.file("direct.h5")), bytesOf(dir.file("hdf5.h5"))};
}

TEST(DirectExport, OnlyPlainContiguousBlocksAreWrittenDirectly) {
    test::TempDir dir;
    std::string input = dir.file("mixed.h5");
    writeMixed(input);
    auto options = mixedChanges();
    std::vector<core::direct::DatasetChange> changes;
    for (const auto& [path, t] : options.extras.datasets) changes.push_back({path, &t, path});
    core::TempFile temp(dir.file("out.h5"));
    auto rest = core::direct::copyWithChanges(input, std::nullopt, temp, changes,
                                              dir.file("out.h5"), nullptr);
    std::set<std::string> left;
    for (const auto& c : rest) left.insert(c.path);
    EXPECT_EQ(left, (std::set<std::string>{"/b/compressed", "/b/chunked", "/b/compact",
                                           "/b/unallocated"}));
    // The blocks written hold the new values; everything else is the input's.
    EXPECT_EQ(test::readFloats(temp.path(), "/a/f32"), options.extras.datasets[0].second.values);
    EXPECT_EQ(test::rawBytes(temp.path(), "/a/untouched"), test::rawBytes(input, "/a/untouched"));
    EXPECT_EQ(test::rawBytes(temp.path(), "/b/chunked"), test::rawBytes(input, "/b/chunked"));
    EXPECT_EQ(bytesOf(temp.path()).size(), bytesOf(input).size());
}

TEST(DirectExport, MixedLayoutsAndTypesGiveTheSameBytesAsHdf5) {
    test::TempDir dir;
    std::string input = dir.file("mixed.h5");
    writeMixed(input);
    auto [direct, hdf5] = bothWays(input, {}, mixedChanges());
    ASSERT_FALSE(direct.empty());
    EXPECT_TRUE(direct == hdf5);
    EXPECT_NE(direct, bytesOf(input));
}

TEST(DirectExport, SampleModelsGiveTheSameBytesAsHdf5) {
    for (const char* name : {"tiny_face_detector_keras.h5", "tiny_face_detector_torch.h5"}) {
        std::string input = test::samplePath(name);
        auto model = core::loadModel(input);
        ASSERT_FALSE(model.layers.empty());
        auto layers = model.layers;  // every layer changed
        for (auto& l : layers) {
            for (auto& v : l.weight.values) v *= 1.7f;
            if (l.bias)
                for (auto& v : l.bias->values) v -= 0.3f;
        }
        auto [direct, hdf5] = bothWays(input, layers, {});
        ASSERT_FALSE(direct.empty()) << name;
        EXPECT_TRUE(direct == hdf5) << name;
        if (model.modelConfig.empty()) continue;
        // The graph rewritten as well (ReLU6 relaxed): HDF5 writes the attribute after the blocks.
        core::ExportOptions withConfig;
        withConfig.extras.modelConfig = model.modelConfig + " ";
        auto [direct2, hdf52] = bothWays(input, layers, withConfig);
        EXPECT_TRUE(direct2 == hdf52) << name;
        EXPECT_NE(direct2, direct) << name;
    }
}

TEST(DirectExport, TwoPathsToOneContiguousDatasetAreRefused) {
    test::TempDir dir;
    std::string input = dir.file("shared.h5");
    {
        test::H5Writer w(input);
        w.dataset("/w", {4}, test::randomValues(4, 1.0, 1));
        H5Lcreate_hard(w.id(), "/w", w.id(), "/same", H5P_DEFAULT, H5P_DEFAULT);
    }
    core::ExportOptions o;
    core::Tensor t{{4}, {1, 2, 3, 4}};
    o.extras.datasets = {{"/w", t}, {"/same", t}};
    try {
        core::exportWeights(input, {}, dir.file("out.h5"), o);
        FAIL() << "exported a dataset written through two paths";
    } catch (const core::Error& e) {
        EXPECT_NE(std::string(e.what()).find("shared storage"), std::string::npos) << e.what();
    }
    EXPECT_EQ(dir.entries().size(), 1u);
}

TEST(DirectExport, AValueTooLargeForFloat16LeavesNothing) {
    test::TempDir dir;
    std::string input = dir.file("half.h5");
    {
        test::H5Writer w(input);
        hid_t half = test::halfType();
        w.dataset("/h", {3}, {0.5, 0.25, 1.0}, half);
        H5Tclose(half);
    }
    core::ExportOptions o;
    o.extras.datasets = {{"/h", core::Tensor{{3}, {1.0f, 70000.0f, 2.0f}}}};
    try {
        core::exportWeights(input, {}, dir.file("out.h5"), o);
        FAIL() << "wrote 70000 as float16";
    } catch (const core::Error& e) {
        EXPECT_NE(std::string(e.what()).find("does not fit in float16"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(dir.entries().size(), 1u);
}

}  // namespace
