// Variants of Keras 3 `.weights.h5` files: real layer names (Keras >= 3.6), bfloat16 stored as
// opaque bytes, tf.keras 2.13-2.15's `_layer_checkpoint_dependencies`, and sharded weights.
#include <gtest/gtest.h>

#include <Eigen/Core>
#include <algorithm>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>
#include "cle/core/error.h"
#include "cle/core/topology.h"
#include "cle/core/weight_file.h"
#include "cli_runner.h"
#include "hdf5/h5.h"
#include "test_util.h"

namespace {

using namespace cle;
using Names = std::vector<std::string>;

bool has(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

void put(test::H5Writer& w, const std::string& group, std::vector<std::int64_t> kernel,
         unsigned seed, const std::string& name = "") {
    std::int64_t n = 1;
    for (auto d : kernel) n *= d;
    w.dataset(group + "/vars/0", kernel, test::randomValues(size_t(n), 1, seed));
    w.dataset(group + "/vars/1", {kernel.back()},
              test::randomValues(size_t(kernel.back()), 1, seed + 100));
    if (!name.empty()) w.strings(group + "/vars", "name", {name}, true, true);
}

TEST(KerasWeights, RealNamesComeFromTheVarsGroups) {
    test::TempDir dir;
    std::string path = dir.file("m.weights.h5");
    {
        test::H5Writer w(path);
        put(w, "/layers/dense", {3, 8}, 1, "fc1");
        put(w, "/layers/dense_1", {8, 8}, 2);  // written without a name: its group names it
        w.group("/layers/functional/vars");
        w.strings("/layers/functional/vars", "name", {"sub"}, true, true);
        put(w, "/layers/functional/layers/dense", {8, 2}, 3, "inner");
    }
    auto info = core::inspectFile(path);
    Names names;
    for (const auto& l : info.layers) names.push_back(l.name);
    EXPECT_EQ(names, (Names{"fc1", "dense_1", "sub/inner"}));
    EXPECT_EQ(info.find("fc1")->weightPath, "/layers/dense/vars/0");
}

// A dataset of bfloat16 values the way Keras 3 writes them: 2 opaque bytes and dtype="bfloat16".
void writeBfloat16(const std::string& file, const std::string& path,
                   const std::vector<hsize_t>& shape, const std::vector<float>& values) {
    hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t type = H5Tcreate(H5T_OPAQUE, 2);
    H5Tset_tag(type, "NUMPY:V2");
    hid_t space = H5Screate_simple(int(shape.size()), shape.data(), nullptr);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(f, path.c_str(), type, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    std::vector<std::uint16_t> bits;
    for (float v : values)
        bits.push_back(Eigen::numext::bit_cast<std::uint16_t>(Eigen::bfloat16(v)));
    H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, bits.data());
    hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, H5T_VARIABLE);
    hid_t scalar = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(d, "dtype", str, scalar, H5P_DEFAULT, H5P_DEFAULT);
    const char* tag = "bfloat16";
    H5Awrite(a, str, &tag);
    for (hid_t id : {a}) H5Aclose(id);
    H5Sclose(scalar);
    H5Tclose(str);
    H5Dclose(d);
    H5Pclose(lcpl);
    H5Sclose(space);
    H5Tclose(type);
    H5Fclose(f);
}

H5T_class_t classOf(const std::string& file, const std::string& path) {
    hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, path.c_str(), H5P_DEFAULT);
    hid_t t = H5Dget_type(d);
    H5T_class_t c = H5Tget_class(t);
    H5Tclose(t);
    H5Dclose(d);
    H5Fclose(f);
    return c;
}

TEST(KerasWeights, Bfloat16StoredAsOpaqueBytesIsReadAndWrittenBackAsSuch) {
    test::TempDir dir;
    std::string in = dir.file("bf.weights.h5"), out = dir.file("out.weights.h5");
    auto w1 = test::randomValues(3 * 8, 1, 1), w2 = test::randomValues(8 * 2, 1, 2);
    { test::H5Writer w(in); }
    writeBfloat16(in, "/layers/dense/vars/0", {3, 8}, std::vector<float>(w1.begin(), w1.end()));
    writeBfloat16(in, "/layers/dense/vars/1", {8}, std::vector<float>(8, 0.25f));
    writeBfloat16(in, "/layers/dense_1/vars/0", {8, 2}, std::vector<float>(w2.begin(), w2.end()));
    auto info = core::inspectFile(in);
    ASSERT_EQ(info.layers.size(), 2u);
    EXPECT_TRUE(info.layers[0].supported) << info.layers[0].unsupportedReason;
    EXPECT_EQ(info.layers[0].dtype, core::DType::BFloat16);
    auto read = core::readDataset(in, "/layers/dense/vars/0");
    EXPECT_EQ(read.values[0], float(Eigen::bfloat16(float(w1[0]))));

    auto run = test::runCle({"equalize", in, "-o", out, "--pairs", "dense,dense_1", "-q"});
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_EQ(classOf(out, "/layers/dense/vars/0"), H5T_OPAQUE);
    EXPECT_EQ(core::inspectFile(out).layers[0].dtype, core::DType::BFloat16);
    auto before = core::readDataset(in, "/layers/dense/vars/0").values;
    auto after = core::readDataset(out, "/layers/dense/vars/0").values;
    EXPECT_NE(before, after);
}

TEST(KerasWeights, TfKeras213LayerCheckpointDependenciesUseTheKerasLayout) {
    test::TempDir dir;
    std::string path = dir.file("old.weights.h5");
    {
        test::H5Writer w(path);
        put(w, "/_layer_checkpoint_dependencies/conv2d", {3, 3, 3, 8}, 1);
        put(w, "/_layer_checkpoint_dependencies/conv2d_1", {3, 3, 8, 4}, 2);
    }
    auto info = core::inspectFile(path);
    EXPECT_EQ(info.format, core::Format::Keras3);
    EXPECT_EQ(info.layout, core::Layout::Keras);
    ASSERT_EQ(info.layers.size(), 2u);
    EXPECT_EQ(info.layers[0].name, "conv2d");
    EXPECT_EQ(info.layers[0].outChannels(), 8);
    EXPECT_EQ(info.layers[1].inChannels(), 8);
    auto pairs = test::runCle({"pairs", path});
    EXPECT_TRUE(has(pairs.out, "conv2d -> conv2d_1   [guessed]")) << pairs.out;
}

// A set the way Keras >= 3.10 shards it: model.weights.json and model_0000N.weights.h5, with one
// layer's variables split over two shards.
std::string writeShardedSet(const test::TempDir& dir) {
    {
        test::H5Writer a(dir.file("model_00000.weights.h5"));
        a.dataset("/layers/conv2d/vars/0", {3, 3, 3, 8}, test::randomValues(216, 1, 1));
        a.strings("/layers/conv2d/vars", "name", {"c1"}, true, true);
        put(a, "/layers/conv2d_1", {3, 3, 8, 4}, 2, "c2");
        test::H5Writer b(dir.file("model_00001.weights.h5"));
        b.dataset("/layers/conv2d/vars/1", {8}, test::randomValues(8, 1, 3));
    }
    std::string index = dir.file("model.weights.json");
    std::ofstream(index) << R"({"metadata": {"total_size": 1300}, "weight_map": {)"
                         << R"("/layers/conv2d/vars": ["model_00000.weights.h5", )"
                         << R"("model_00001.weights.h5"], )"
                         << R"("/layers/conv2d_1/vars": "model_00000.weights.h5"}})";
    return index;
}

TEST(KerasWeights, ShardedSetOpensFromItsIndexAndExportsAsASet) {
    test::TempDir dir;
    std::string index = writeShardedSet(dir);
    auto info = core::inspectFile(index);
    EXPECT_EQ(info.format, core::Format::Keras3);
    ASSERT_EQ(info.layers.size(), 2u);
    EXPECT_EQ(info.layers[0].name, "c1");
    EXPECT_EQ(info.layers[0].biasPath, "/layers/conv2d/vars/1");

    test::TempDir outDir;
    std::string out = outDir.file("eq.weights.json");
    auto run = test::runCle({"equalize", index, "-o", out, "--pairs", "c1,c2", "-q"});
    ASSERT_EQ(run.code, 0) << run.err;
    auto entries = outDir.entries();
    std::sort(entries.begin(), entries.end());
    EXPECT_EQ(entries, (Names{"eq.weights.json", "eq_00000.weights.h5", "eq_00001.weights.h5"}));
    std::ifstream in(out);
    auto j = nlohmann::json::parse(in);
    EXPECT_EQ(j["weight_map"]["/layers/conv2d/vars"][1], "eq_00001.weights.h5");
    // Every dataset stays in its shard; the layers were equalized.
    auto bias = [](const std::string& file) {
        return core::readDataset(file, "/layers/conv2d/vars/1").values;
    };
    EXPECT_NE(bias(outDir.file("eq_00001.weights.h5")), bias(dir.file("model_00001.weights.h5")));
    EXPECT_NE(core::readDataset(out, "/layers/conv2d/vars/0").values,
              core::readDataset(index, "/layers/conv2d/vars/0").values);

    auto badName =
        test::runCle({"equalize", index, "-o", outDir.file("eq.h5"), "--pairs", "c1,c2"});
    EXPECT_EQ(badName.code, 2) << badName.err;
    EXPECT_TRUE(has(badName.err, "*.weights.json")) << badName.err;
}

TEST(KerasWeights, BrokenShardedSetsAreClearErrors) {
    test::TempDir dir;
    std::string index = writeShardedSet(dir);
    std::remove(dir.file("model_00001.weights.h5").c_str());
    EXPECT_TRUE(has(test::runCle({"inspect", index}).err,
                    "model_00001.weights.h5' of '" + index + "' does not exist"));
    std::ofstream(index) << R"({"weight_map": {"/layers/x/vars": "../elsewhere.h5"}})";
    EXPECT_TRUE(has(test::runCle({"inspect", index}).err, "not a file in its directory"));
    std::ofstream(index) << R"({"weight_map": {"/layers/x/vars": "model.weights.json"}})";
    EXPECT_TRUE(has(test::runCle({"inspect", index}).err, "is not a readable HDF5 file"));
}

// Merging shards copies their objects with H5Ocopy, which copies variable-length strings through
// HDF5's global heap: a damaged heap record is refused first (HDF5 copied what it claimed).
TEST(KerasWeights, AShardWithADamagedGlobalHeapIsAClearError) {
    test::TempDir dir;
    std::string index = writeShardedSet(dir);
    const std::string shard = dir.file("model_00000.weights.h5");
    std::string bytes;
    {
        std::ifstream in(shard, std::ios::binary);
        bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    size_t heap = bytes.find("GCOL");
    ASSERT_NE(heap, std::string::npos);
    for (size_t i = 0; i < 8; ++i)  // the first record's size: terabytes
        bytes[heap + 24 + i] = char((0x13e100005e514ull >> (8 * i)) & 0xff);
    std::ofstream(shard, std::ios::binary | std::ios::trunc) << bytes;
    auto r = test::runCle({"inspect", index});
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_TRUE(has(r.err, "model_00000.weights.h5")) << r.err;
    EXPECT_TRUE(has(r.err, "damaged")) << r.err;
}

TEST(KerasWeights, AShardDatasetOfVariableLengthDataIsRefused) {
    test::TempDir dir;
    std::string index = writeShardedSet(dir);
    {
        hid_t file = H5Fopen(dir.file("model_00001.weights.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        hid_t type = H5Tvlen_create(H5T_NATIVE_FLOAT);
        hsize_t n = 1;
        hid_t space = H5Screate_simple(1, &n, nullptr);
        hid_t d = H5Dcreate2(file, "/layers/conv2d/vars/2", type, space, H5P_DEFAULT, H5P_DEFAULT,
                             H5P_DEFAULT);
        float v = 1.f;
        hvl_t value{1, &v};
        H5Dwrite(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value);
        H5Dclose(d);
        H5Sclose(space);
        H5Tclose(type);
        H5Fclose(file);
    }
    auto r = test::runCle({"inspect", index});
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_TRUE(has(r.err, "holds variable-length data, not weights")) << r.err;
}

// HDF5 1.10's H5Ocopy crashed on a group whose attributes are in dense storage (here: 10, with
// their creation order tracked) and hold variable-length strings: such a group is copied without
// them and they are written one by one.
TEST(KerasWeights, AShardGroupWithManyStringAttributesIsMergedWithThem) {
    test::TempDir dir;
    std::string index = writeShardedSet(dir);
    const int count = 10;
    {
        hid_t file = H5Fopen(dir.file("model_00000.weights.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
        hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
        H5Pset_attr_creation_order(gcpl, H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
        hid_t group = H5Gcreate2(file, "/extra", H5P_DEFAULT, gcpl, H5P_DEFAULT);
        hid_t type = H5Tcopy(H5T_C_S1);
        H5Tset_size(type, H5T_VARIABLE);
        H5Tset_cset(type, H5T_CSET_UTF8);
        hid_t space = H5Screate(H5S_SCALAR);
        for (int i = 0; i < count; ++i) {
            std::string name = "note" + std::to_string(i), value = "v\u00e9" + std::to_string(i);
            const char* p = value.c_str();
            hid_t a = H5Acreate2(group, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
            H5Awrite(a, type, &p);
            H5Aclose(a);
        }
        H5O_info_t info;
        H5Oget_info2(group, &info, H5O_INFO_META_SIZE);
        EXPECT_GT(info.meta_size.attr.heap_size, 0u);  // dense storage
        H5Sclose(space);
        H5Tclose(type);
        H5Gclose(group);
        H5Pclose(gcpl);
        H5Fclose(file);
    }
    auto r = test::runCle({"inspect", index});
    ASSERT_EQ(r.code, 0) << r.err;
    test::TempDir outDir;
    std::string out = outDir.file("eq.weights.json");
    auto run = test::runCle({"equalize", index, "-o", out, "--pairs", "c1,c2", "-q"});
    ASSERT_EQ(run.code, 0) << run.err;
    hid_t file = H5Fopen(outDir.file("eq_00000.weights.h5").c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    hid_t group = H5Gopen2(file, "/extra", H5P_DEFAULT);
    for (int i = 0; i < count; ++i) {
        auto v = core::h5::readStringsAttribute(group, "note" + std::to_string(i));
        EXPECT_EQ(v, (Names{"v\u00e9" + std::to_string(i)}));
    }
    H5Gclose(group);
    H5Fclose(file);
}

}  // namespace
