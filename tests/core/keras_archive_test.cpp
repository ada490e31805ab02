// Keras 3 `.keras` archives (config.json + model.weights.h5 in a zip) read with their graph and
// exported as a new archive, and the variants of `.weights.h5` files.
#include <gtest/gtest.h>
#include <zip.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <map>

#include "cle/core/error.h"
#include "cle/core/topology.h"
#include "cle/core/weight_file.h"
#include "cli_runner.h"
#include "keras_forward.h"
#include "keras_model.h"

namespace {

using namespace cle;
using test::KerasModel;
using test::Names;
using Entries = std::vector<std::pair<std::string, std::string>>;

bool has(const std::string& s, const std::string& part) {
    return s.find(part) != std::string::npos;
}

std::string fileBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void writeZip(const std::string& path, const Entries& entries) {
    int err = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
    ASSERT_NE(z, nullptr);
    for (const auto& [name, data] : entries) {
        if (name.ends_with("/")) {
            ASSERT_GE(zip_dir_add(z, name.c_str(), ZIP_FL_ENC_UTF_8), 0);
            continue;
        }
        zip_source_t* s = zip_source_buffer(z, data.data(), data.size(), 0);
        ASSERT_GE(zip_file_add(z, name.c_str(), s, ZIP_FL_ENC_UTF_8), 0);
    }
    ASSERT_EQ(zip_close(z), 0);
}

Entries readZip(const std::string& path) {
    Entries out;
    int err = 0;
    zip_t* z = zip_open(path.c_str(), ZIP_RDONLY, &err);
    if (!z) return out;
    for (zip_int64_t i = 0; i < zip_get_num_entries(z, 0); ++i) {
        zip_stat_t st;
        zip_stat_index(z, zip_uint64_t(i), 0, &st);
        std::string data(st.size, '\0');
        zip_file_t* f = zip_fopen_index(z, zip_uint64_t(i), 0);
        zip_fread(f, data.data(), data.size());
        zip_fclose(f);
        out.emplace_back(st.name, data);
    }
    zip_discard(z);
    return out;
}

const std::string kMetadata = R"({"keras_version": "3.8.0", "date_saved": "2026-01-01@00:00:00"})";

// A Keras 3 archive of `config` whose weights are the Keras 2 file `k2`'s, stored the Keras 3
// way: layer `name` of `k2` -> group `group` (vars/0, vars/1, ... in the Keras 2 order), with the
// layer's real name on its vars group when `names`.
class ArchiveBuilder {
public:
    ArchiveBuilder(const test::TempDir& dir, std::string k2) : dir_(dir), k2_(std::move(k2)) {}
    void map(const std::string& layer, const std::string& group, const Names& weights) {
        layers_.push_back({layer, group, weights});
    }
    void write(const std::string& path, const std::string& config, bool names = true) {
        std::string h5 = dir_.file("weights.tmp.h5");
        {
            test::H5Writer w(h5);
            for (const auto& l : layers_) {
                for (size_t i = 0; i < l.weights.size(); ++i) {
                    std::string from =
                        "/model_weights/" + l.name + "/" + l.name + "/" + l.weights[i] + ":0";
                    auto t = core::readDataset(k2_, from);
                    std::vector<double> v(t.values.begin(), t.values.end());
                    if (l.weights[i] == "moving_variance")
                        for (auto& x : v) x = std::abs(x) + 0.5;
                    w.dataset("/layers/" + l.group + "/vars/" + std::to_string(i), t.shape, v);
                }
                if (names)
                    w.strings("/layers/" + l.group + "/vars", "name",
                              {l.name.substr(l.name.find_last_of('/') + 1)}, true, true);
            }
        }
        writeZip(path, {{"metadata.json", kMetadata},
                        {"config.json", config},
                        {"model.weights.h5", fileBytes(h5)},
                        {"assets/", ""},
                        {"assets/vocabulary.txt", "a\nb\n"}});
        std::remove(h5.c_str());
    }

private:
    struct Entry {
        std::string name, group;
        Names weights;
    };
    const test::TempDir& dir_;
    std::string k2_;
    std::vector<Entry> layers_;
};

// Copies the weights of archive `keras` back into a copy of the Keras 2 file `k2` (the inverse of
// ArchiveBuilder's mapping), for the Keras 2 forward pass of the tests.
std::string backToKeras2(const test::TempDir& dir, const std::string& k2, const std::string& keras,
                         const std::vector<std::tuple<std::string, std::string, Names>>& map) {
    std::string out = dir.file("back-" + std::to_string(std::rand()) + ".h5");
    std::ofstream(out, std::ios::binary) << fileBytes(k2);
    hid_t f = H5Fopen(out.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    for (const auto& [name, group, weights] : map)
        for (size_t i = 0; i < weights.size(); ++i) {
            auto t = core::readDataset(keras, "/layers/" + group + "/vars/" + std::to_string(i));
            std::string to = "/model_weights/" + name + "/" + name + "/" + weights[i] + ":0";
            hid_t d = H5Dopen2(f, to.c_str(), H5P_DEFAULT);
            H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t.values.data());
            H5Dclose(d);
        }
    H5Fclose(f);
    return out;
}

class KerasArchive : public ::testing::Test {
protected:
    test::TempDir dir_;
};

// c1 -> bn -> relu -> dw -> c2 on a 6x6x3 input.
KerasModel functionalModel() {
    KerasModel m;
    m.conv("c1", 3, 8).batchNorm("bn", 8).layer("ReLU", "relu");
    m.layer("DepthwiseConv2D", "dw", {{"activation", "linear"}})
        .weights({{"depthwise_kernel", {3, 3, 8, 1}}, {"bias", {8}}});
    m.conv("c2", 8, 4);
    return m;
}

const std::vector<std::tuple<std::string, std::string, Names>> kFunctionalMap = {
    {"c1", "conv2d", {"kernel", "bias"}},
    {"bn", "batch_normalization", {"gamma", "beta", "moving_mean", "moving_variance"}},
    {"dw", "depthwise_conv2d", {"depthwise_kernel", "bias"}},
    {"c2", "conv2d_1", {"kernel", "bias"}}};

std::string buildFunctional(const test::TempDir& dir, const std::string& k2, bool names) {
    auto m = functionalModel();
    m.write(k2);
    ArchiveBuilder b(dir, k2);
    for (const auto& [name, group, weights] : kFunctionalMap) b.map(name, group, weights);
    std::string path = dir.file(names ? "model.keras" : "model-3.5.keras");
    b.write(path, m.config(KerasModel::Style::Keras3).dump(), names);
    return path;
}

TEST_F(KerasArchive, FunctionalArchiveGivesPairsFromItsGraphWithRealNames) {
    std::string path = buildFunctional(dir_, dir_.file("k2.h5"), true);
    auto info = core::inspectFile(path);
    EXPECT_EQ(info.format, core::Format::Keras3);
    EXPECT_EQ(info.layout, core::Layout::Keras);
    ASSERT_EQ(info.layers.size(), 3u);
    EXPECT_EQ(info.layers[0].name, "c1");
    ASSERT_NE(info.find("dw"), nullptr);
    EXPECT_TRUE(info.find("dw")->depthwise);
    auto t = core::Topology::build(info);
    EXPECT_TRUE(t.known());
    auto plan = t.suggest(false);
    ASSERT_EQ(plan.suggested.size(), 1u);
    EXPECT_EQ(plan.suggested[0].layers, (Names{"c1", "dw", "c2"}));
    ASSERT_NE(t.batchNormAfter("c1"), nullptr);
    EXPECT_EQ(t.batchNormAfter("c1")->meanPath, "/layers/batch_normalization/vars/2");
}

TEST_F(KerasArchive, WithoutNameAttributesLayersAreNamedLikeTheirGroups) {
    std::string path = buildFunctional(dir_, dir_.file("k2.h5"), false);
    auto info = core::inspectFile(path);
    auto plan = core::Topology::build(info).suggest(false);
    ASSERT_EQ(plan.suggested.size(), 1u);
    EXPECT_EQ(plan.suggested[0].layers, (Names{"conv2d", "depthwise_conv2d", "conv2d_1"}));
}

TEST_F(KerasArchive, ExportChangesOnlyTheWeightsAndKeepsTheFunction) {
    std::string k2 = dir_.file("k2.h5");
    std::string in = buildFunctional(dir_, k2, true), out = dir_.file("out.keras");
    auto run = test::runCle({"equalize", in, "-o", out, "--auto", "-q"});
    ASSERT_EQ(run.code, 0) << run.err;
    auto before = readZip(in), after = readZip(out);
    ASSERT_EQ(before.size(), after.size());
    for (size_t i = 0; i < before.size(); ++i) {
        EXPECT_EQ(before[i].first, after[i].first);
        if (before[i].first == "model.weights.h5")
            EXPECT_NE(before[i].second, after[i].second);
        else
            EXPECT_EQ(before[i].second, after[i].second) << before[i].first;
    }
    // The batch norm is folded: the identity but for its shift.
    for (float v : core::readDataset(out, "/layers/batch_normalization/vars/0").values)
        EXPECT_FLOAT_EQ(v, 1.f);
    for (float v : core::readDataset(out, "/layers/batch_normalization/vars/2").values)
        EXPECT_FLOAT_EQ(v, 0.f);
    EXPECT_EQ(core::inspectFile(out).layers[0].name, "c1");
    test::Image x{6, 6, 3, test::randomValues(6 * 6 * 3, 1.0, 5)};
    auto want = test::kerasForward(backToKeras2(dir_, k2, in, kFunctionalMap), x);
    auto got = test::kerasForward(backToKeras2(dir_, k2, out, kFunctionalMap), x);
    EXPECT_LT(test::relativeDifference(want, got), 1e-4);

    // The evaluator reads the archive's graph and Keras 3 storage the same way.
    auto verify = test::runCle({"verify", in, out, "--input-shape", "8,8,3", "--json"});
    ASSERT_EQ(verify.code, 0) << verify.err << verify.out;
    auto function = nlohmann::json::parse(verify.out)["function"];
    EXPECT_TRUE(function["preserved"].get<bool>()) << verify.out;
    EXPECT_GT(function["max_relative_change"].get<double>(), 0.0) << verify.out;
}

TEST_F(KerasArchive, RelaxedRelu6ChangesConfigJson) {
    KerasModel m;
    m.conv("a", 3, 8).layer("ReLU", "r6", {{"max_value", 6.0}}).conv("b", 8, 4);
    std::string k2 = dir_.file("k2.h5");
    m.write(k2);
    ArchiveBuilder b(dir_, k2);
    b.map("a", "conv2d", {"kernel", "bias"});
    b.map("b", "conv2d_1", {"kernel", "bias"});
    std::string in = dir_.file("r6.keras"), out = dir_.file("r6-out.keras");
    b.write(in, m.config(KerasModel::Style::Keras3).dump());
    auto run = test::runCle({"equalize", in, "-o", out, "--auto", "--allow-relu6", "-q"});
    ASSERT_EQ(run.code, 0) << run.err;
    auto after = readZip(out);
    ASSERT_EQ(after.size(), 5u);
    EXPECT_EQ(after[0].second, kMetadata);
    EXPECT_EQ(after[3].first, "assets/");
    EXPECT_EQ(after[4].second, "a\nb\n");
    auto config = nlohmann::json::parse(after[1].second);
    EXPECT_TRUE(config["config"]["layers"][2]["config"]["max_value"].is_null()) << after[1].second;
    // Nothing else changed, not even the order of the keys.
    auto before = nlohmann::ordered_json::parse(readZip(in)[1].second);
    before["config"]["layers"][2]["config"]["max_value"] = nullptr;
    EXPECT_EQ(nlohmann::ordered_json::parse(after[1].second).dump(), before.dump());
}

TEST_F(KerasArchive, NestedModelIsAnalysedInside) {
    KerasModel inner;
    inner.conv("c1", 3, 8).activation("act", "relu").conv("c2", 8, 8);
    auto innerConfig = inner.config(KerasModel::Style::Keras3);
    KerasModel outer;
    outer.layer("Functional", "sub").conv("c3", 8, 4);
    auto config = outer.config(KerasModel::Style::Keras3);
    config["config"]["layers"][1]["config"] = innerConfig["config"];
    config["config"]["layers"][1]["config"]["name"] = "sub";
    std::string h5 = dir_.file("w.h5");
    {
        test::H5Writer w(h5);
        unsigned seed = 1;
        auto put = [&](const std::string& g, const std::string& name, test::Shape k) {
            w.dataset(g + "/vars/0", k, test::randomValues(size_t(test::count(k)), 1, seed++));
            w.dataset(g + "/vars/1", {k.back()}, test::randomValues(size_t(k.back()), 1, seed++));
            w.strings(g + "/vars", "name", {name}, true, true);
        };
        put("/layers/functional/layers/conv2d", "c1", {3, 3, 3, 8});
        put("/layers/functional/layers/conv2d_1", "c2", {3, 3, 8, 8});
        w.group("/layers/functional/vars");
        w.strings("/layers/functional/vars", "name", {"sub"}, true, true);
        put("/layers/conv2d", "c3", {3, 3, 8, 4});
    }
    std::string path = dir_.file("nested.keras");
    writeZip(path, {{"metadata.json", kMetadata},
                    {"config.json", config.dump()},
                    {"model.weights.h5", fileBytes(h5)}});
    auto info = core::inspectFile(path);
    ASSERT_EQ(info.layers.size(), 3u);
    auto t = core::Topology::build(info);
    auto plan = t.suggest(false);
    ASSERT_EQ(plan.suggested.size(), 1u);
    EXPECT_EQ(plan.suggested[0].layers, (Names{"sub/c1", "sub/c2"}));
    std::string why;
    EXPECT_FALSE(t.link("sub/c2", "c3", false, &why));
    EXPECT_TRUE(has(why, "nested model 'sub'")) << why;
    std::string out = dir_.file("nested-out.keras");
    auto run = test::runCle({"equalize", path, "-o", out, "--auto", "-q"});
    ASSERT_EQ(run.code, 0) << run.err;
    auto verify = test::runCle({"verify", path, out, "--input-shape", "9,9,3", "--json"});
    ASSERT_EQ(verify.code, 0) << verify.err << verify.out;
    EXPECT_TRUE(nlohmann::json::parse(verify.out)["function"]["preserved"].get<bool>());
}

TEST_F(KerasArchive, SequentialArchive) {
    KerasModel m;
    m.dense("d1", 3, 8, {{"activation", "relu"}}).dense("d2", 8, 2);
    std::string k2 = dir_.file("k2.h5");
    m.write(k2);
    ArchiveBuilder b(dir_, k2);
    b.map("d1", "dense", {"kernel", "bias"});
    b.map("d2", "dense_1", {"kernel", "bias"});
    std::string path = dir_.file("seq.keras");
    b.write(path, m.config(KerasModel::Style::Sequential).dump(), false);
    auto plan = core::Topology::build(core::inspectFile(path)).suggest(false);
    ASSERT_EQ(plan.suggested.size(), 1u);
    EXPECT_EQ(plan.suggested[0].layers, (Names{"dense", "dense_1"}));
}

TEST_F(KerasArchive, SubclassedModelHasNoGraphAndSaysSo) {
    std::string h5 = dir_.file("w.h5");
    {
        test::H5Writer w(h5);
        w.dataset("/layers/dense/vars/0", {3, 8}, test::randomValues(24, 1, 1));
        w.dataset("/layers/dense_1/vars/0", {8, 2}, test::randomValues(16, 1, 2));
    }
    // Recognised by its content, whatever its name.
    std::string path = dir_.file("subclassed.bin");
    writeZip(path, {{"metadata.json", kMetadata},
                    {"config.json", R"({"module": null, "class_name": "MyModel", "config": )"
                                    R"({"name": "my_model", "trainable": true}})"},
                    {"model.weights.h5", fileBytes(h5)}});
    auto info = core::inspectFile(path);
    EXPECT_TRUE(info.kerasArchive);
    EXPECT_TRUE(info.subclassed);
    EXPECT_EQ(info.layers.size(), 2u);
    auto pairs = test::runCle({"pairs", path});
    EXPECT_EQ(pairs.code, 0) << pairs.err;
    EXPECT_TRUE(has(pairs.out, "config.json describes a subclassed model")) << pairs.out;
    EXPECT_TRUE(has(pairs.out, "dense -> dense_1   [guessed]")) << pairs.out;
}

TEST_F(KerasArchive, ExternalLinkInTheWeightsIsNeverFollowedIntoAWritableFile) {
    std::string victim = dir_.file("victim.h5");
    {
        test::H5Writer v(victim);
        v.dataset("/w", {3, 8}, test::randomValues(24, 1, 1));
    }
    std::string h5 = dir_.file("w.h5");
    {
        test::H5Writer w(h5);
        w.dataset("/layers/dense/vars/1", {8}, test::randomValues(8, 1, 2));
        H5Lcreate_external(victim.c_str(), "/w", w.id(), "/layers/dense/vars/0", H5P_DEFAULT,
                           H5P_DEFAULT);
        w.dataset("/layers/dense_1/vars/0", {8, 2}, test::randomValues(16, 1, 3));
    }
    KerasModel m;
    m.dense("d1", 3, 8).dense("d2", 8, 2);
    std::string path = dir_.file("linked.keras");
    writeZip(path, {{"metadata.json", kMetadata},
                    {"config.json", m.config(KerasModel::Style::Keras3).dump()},
                    {"model.weights.h5", fileBytes(h5)}});
    const std::string before = fileBytes(victim);
    auto info = core::inspectFile(path);
    ASSERT_NE(info.find("dense"), nullptr);
    EXPECT_FALSE(info.find("dense")->supported);
    EXPECT_TRUE(has(info.find("dense")->unsupportedReason, "external link"));
    test::runCle({"pairs", path});
    test::runCle({"equalize", path, "-o", dir_.file("o.keras"), "--auto", "-q"});
    EXPECT_EQ(fileBytes(victim), before);
}

// The error of `cle equalize` on `in`; nothing may be written.
std::string refusal(const test::TempDir& dir, const std::string& in) {
    auto before = dir.entries();
    auto r = test::runCle({"equalize", in, "-o", dir.file("out.keras"), "--auto", "-q"});
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(dir.entries(), before);
    return r.err;
}

TEST_F(KerasArchive, BadArchivesAreClearErrorsAndWriteNothing) {
    std::string notKeras = dir_.file("photos.keras");
    writeZip(notKeras, {{"a.jpg", "xx"}});
    EXPECT_TRUE(
        has(refusal(dir_, notKeras), "'" + notKeras + "' is a zip archive but not a Keras"));
    std::string noWeights = dir_.file("noweights.keras");
    writeZip(noWeights, {{"metadata.json", kMetadata}, {"config.json", "{}"}});
    EXPECT_TRUE(has(refusal(dir_, noWeights), "'" + noWeights + "' has no model.weights.h5"));
    std::string badJson = dir_.file("badjson.keras");
    writeZip(badJson,
             {{"metadata.json", kMetadata}, {"config.json", "{nope"}, {"model.weights.h5", "x"}});
    EXPECT_TRUE(has(refusal(dir_, badJson), "config.json in '" + badJson + "': it is not valid"));
    std::string truncated = dir_.file("cut.keras");
    std::string bytes = fileBytes(buildFunctional(dir_, dir_.file("k2.h5"), true));
    std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    EXPECT_TRUE(has(refusal(dir_, truncated), truncated));
}

}  // namespace
