// Weight files are untrusted input: links out of the file, shared datasets, absurd shapes and
// nesting, huge claimed sizes and names that are not UTF-8 never give a crash, a write outside the
// output, or a wrong output with exit 0.
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "cle/core/error.h"
#include "cle/core/exporter.h"
#include "cli_runner.h"
#include "hdf5/h5.h"
#include "hostile_files.h"
#include "keras_model.h"

using namespace cle;
using test::bytes;
using test::contains;
using test::Hostile;
using test::layer;
using test::torchPair;

namespace {

TEST_F(Hostile, ExternalLinksAreRefusedAndNeitherInputNorLinkTargetIsWritten) {
    std::string victim = dir.file("victim.h5");
    {
        test::H5Writer v(victim);
        v.dataset("/store/b", {4}, {1, 2, 3, 4});
    }
    {
        test::H5Writer w(in);
        w.dataset("/store/b", {4}, {1, 2, 3, 4});
        w.dataset("/fc1.weight", {4, 3}, test::randomValues(12, 1.0, 1));
        w.dataset("/fc2.weight", {2, 4}, test::randomValues(8, 1.0, 2));
        w.dataset("/fc3.weight", {4, 3}, test::randomValues(12, 1.0, 3));
        w.dataset("/fc4.weight", {4, 4}, test::randomValues(16, 1.0, 4));
        // fc1's bias lives in another file; fc3's bias links back into the input itself.
        H5Lcreate_external(victim.c_str(), "/store/b", w.id(), "fc1.bias", H5P_DEFAULT,
                           H5P_DEFAULT);
        H5Lcreate_external(in.c_str(), "/store/b", w.id(), "fc3.bias", H5P_DEFAULT, H5P_DEFAULT);
        H5Lcreate_soft("/fc3.bias", w.id(), "fc4.bias", H5P_DEFAULT, H5P_DEFAULT);
    }
    const std::string inBefore = bytes(in), victimBefore = bytes(victim);

    auto info = core::inspectFile(in);
    for (const char* name : {"fc1", "fc3", "fc4"}) {  // fc4: a soft link to an external one
        EXPECT_FALSE(layer(info, name).supported) << name;
        EXPECT_TRUE(contains(layer(info, name).unsupportedReason, "external link"))
            << layer(info, name).unsupportedReason;
    }
    auto r = test::runCle({"equalize", in, "-o", out, "--pairs", "fc1,fc2;fc3,fc4"});
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_TRUE(contains(r.err, "external link")) << r.err;

    // The export itself never writes through a link, whatever layer list it is given.
    auto model = core::loadModel(in);
    for (const char* name : {"fc1", "fc3"}) {
        core::Layer l = *model.find(name);
        l.info.biasPath = std::string("/") + name + ".bias";
        l.weight = core::Tensor{l.info.shape, test::readFloats(in, l.info.weightPath)};
        l.bias = core::Tensor{{4}, {9, 9, 9, 9}};
        try {
            core::exportWeights(in, {l}, out);
            ADD_FAILURE() << "wrote through the external link of " << name;
        } catch (const core::Error& e) {
            EXPECT_TRUE(contains(e.what(), "external link")) << e.what();
        }
    }
    EXPECT_EQ(bytes(in), inBefore);
    EXPECT_EQ(bytes(victim), victimBefore);
    EXPECT_FALSE(std::filesystem::exists(out));
    EXPECT_EQ(dir.entries().size(), 2u);
}

TEST_F(Hostile, LayersSharingOneDatasetAreRefused) {
    // Keras 2: d1's kernel is a hard link to d0's; PyTorch: fc4's bias is fc3's bias.
    test::KerasModel m;
    m.dense("d0", 4, 4).dense("d1", 4, 4).dense("d2", 4, 4);
    m.write(in);
    {
        core::h5::Handle f = core::h5::openFile(in, true);
        H5Ldelete(f.get(), "/model_weights/d1/d1/kernel:0", H5P_DEFAULT);
        H5Lcreate_hard(f.get(), "/model_weights/d0/d0/kernel:0", f.get(),
                       "/model_weights/d1/d1/kernel:0", H5P_DEFAULT, H5P_DEFAULT);
    }
    std::string torch = dir.file("torch.h5");
    {
        test::H5Writer w(torch);
        w.dataset("/fc3.weight", {4, 4}, test::randomValues(16, 1.0, 3));
        w.dataset("/fc3.bias", {4}, {1, 2, 3, 4});
        w.dataset("/fc4.weight", {4, 4}, test::randomValues(16, 1.0, 4));
        H5Lcreate_hard(w.id(), "/fc3.bias", w.id(), "/fc4.bias", H5P_DEFAULT, H5P_DEFAULT);
    }
    auto info = core::inspectFile(in);
    auto torchInfo = core::inspectFile(torch);
    for (const auto* l : {&layer(info, "d0"), &layer(info, "d1"), &layer(torchInfo, "fc3"),
                          &layer(torchInfo, "fc4")}) {
        EXPECT_FALSE(l->supported) << l->name;
        EXPECT_TRUE(contains(l->unsupportedReason, "shared storage")) << l->name;
    }
    EXPECT_TRUE(layer(info, "d2").supported);
    EXPECT_TRUE(contains(layer(torchInfo, "fc4").unsupportedReason, "bias of 'fc3'"));
    for (auto args : std::vector<std::vector<std::string>>{
             {"equalize", in, "-o", out, "--pairs", "d0,d1"},
             {"equalize", torch, "-o", out, "--pairs", "fc3,fc4"}}) {
        auto r = test::runCle(args);
        EXPECT_EQ(r.code, 1) << r.err;
        EXPECT_TRUE(contains(r.err, "shared storage")) << r.err;
    }
    auto r = test::runCle({"equalize", in, "-o", out, "--auto"});
    EXPECT_EQ(r.code, 1) << r.err;  // nothing left to equalize

    // Given both layers anyway, the export refuses to write one dataset twice.
    core::Layer a{layer(info, "d0"), {{4, 4}, std::vector<float>(16, 1.f)}, {}};
    core::Layer b{layer(info, "d1"), {{4, 4}, std::vector<float>(16, 2.f)}, {}};
    EXPECT_THROW(core::exportWeights(in, {a, b}, out), core::Error);
    EXPECT_EQ(dir.entries().size(), 2u);
}

TEST_F(Hostile, ALayerDepthwiseInOnePairAndOrdinaryInAnotherIsRefused) {
    {
        test::H5Writer w(in);
        w.dataset("/a.weight", {4, 2, 3, 3}, test::randomValues(72, 1.0, 1));
        w.dataset("/x.weight", {1, 2, 3, 3}, test::randomValues(18, 1.0, 2));
        w.dataset("/b.weight", {4, 1, 3, 3}, test::randomValues(36, 1.0, 3));
    }
    for (const char* pairs : {"a,b;x,b", "x,b;a,b"}) {
        auto r = test::runCle({"equalize", in, "-o", out, "--pairs", pairs});
        EXPECT_EQ(r.code, 1) << pairs << ": " << r.err;
        EXPECT_TRUE(contains(r.err, "layer 'b'") && contains(r.err, "depthwise")) << r.err;
        EXPECT_FALSE(std::filesystem::exists(out));
    }
}

TEST_F(Hostile, ALongChainOfLayersWithoutWeightsIsWalkedWithoutRecursion) {
    test::KerasModel m;
    m.dense("d0", 4, 4);
    for (int i = 0; i < 70000; ++i) m.layer("Dropout", "drop" + std::to_string(i));
    m.dense("d1", 4, 4);
    m.write(in);
    auto r = test::runCle({"pairs", in});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "d0 -> d1")) << r.out.substr(0, 400);
}

TEST_F(Hostile, ADeeplyNestedModelConfigIsAnErrorNamingTheFile) {
    test::KerasModel m;
    m.dense("d0", 4, 4).dense("d1", 4, 4);
    std::string config = m.config(test::KerasModel::Style::Keras2).dump();
    const int depth = 200000;
    config.insert(config.size() - 1,
                  ", \"deep\": " + std::string(depth, '[') + std::string(depth, ']'));
    m.writeWith(in, config);
    for (auto args : std::vector<std::vector<std::string>>{
             {"inspect", in}, {"pairs", in, "--json"}, {"equalize", in, "-o", out, "--auto"}}) {
        auto r = test::runCle(args);
        EXPECT_EQ(r.code, 1) << args[0] << ": " << r.err;
        EXPECT_TRUE(contains(r.err, "nested too deeply") && contains(r.err, in)) << r.err;
    }
}

TEST_F(Hostile, AShapeWhoseElementCountOverflowsIsRefusedWithTheTrueReason) {
    {
        test::H5Writer w(in);
        std::vector<hsize_t> dims = {hsize_t(1) << 32, hsize_t(1) << 32, 4}, chunk = {1, 1, 4};
        hid_t space = H5Screate_simple(3, dims.data(), nullptr);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, 3, chunk.data());
        H5Dclose(H5Dcreate2(w.id(), "/fc1.weight", H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl,
                            H5P_DEFAULT));
        H5Pclose(dcpl);
        H5Sclose(space);
    }
    auto info = core::inspectFile(in);
    ASSERT_EQ(info.layers.size(), 1u);
    EXPECT_FALSE(info.layers[0].supported);
    EXPECT_TRUE(contains(info.layers[0].unsupportedReason, "2^63"))
        << info.layers[0].unsupportedReason;
}

TEST_F(Hostile, NamesThatAreNotUtf8GiveValidJsonEverywhere) {
    const std::string name = "caf\xe9";
    {
        test::H5Writer w(in);
        w.dataset("/" + name + ".weight", {4, 3}, test::randomValues(12, 1.0, 1));
        w.dataset("/" + name + ".bias", {4}, {1, 2, 3, 4});
        w.dataset("/fc2.weight", {2, 4}, test::randomValues(8, 1.0, 2));
    }
    for (auto args : std::vector<std::vector<std::string>>{{"inspect", in, "--json"},
                                                           {"pairs", in, "--json"}}) {
        auto r = test::runCle(args);
        EXPECT_EQ(r.code, 0) << r.err;
        EXPECT_FALSE(nlohmann::json::parse(r.out, nullptr, false).is_discarded()) << r.out;
    }
    std::string report = dir.file("r.json");
    auto r =
        test::runCle({"equalize", in, "-o", out, "--pairs", name + ",fc2", "--report", report});
    EXPECT_TRUE(r.code == 0 || r.code == 3) << r.err;
    EXPECT_TRUE(std::filesystem::exists(out));
    EXPECT_FALSE(nlohmann::json::parse(bytes(report), nullptr, false).is_discarded());
}

TEST_F(Hostile, ALayerNameThatIsANumberIsNoLibraryError) {
    test::KerasModel m;
    m.dense("d0", 4, 4, {{"activation", "relu6"}}).dense("d1", 4, 4);
    auto config = m.config(test::KerasModel::Style::Keras2);
    config["config"]["layers"].push_back(
        {{"class_name", "Dropout"},
         {"name", "x"},
         {"config", {{"name", 5}}},
         {"inbound_nodes", {{{"d1", 0, 0, nlohmann::json::object()}}}}});
    m.writeWith(in, config.dump());
    auto r = test::runCle({"equalize", in, "-o", out, "--auto", "--allow-relu6"});
    EXPECT_FALSE(contains(r.err, "json.exception")) << r.err;
    EXPECT_TRUE(r.code == 0 || r.code == 3 || (r.code == 1 && contains(r.err, in))) << r.err;
}

TEST_F(Hostile, AKeras3GroupThatContainsItselfIsReadOnce) {
    {
        test::H5Writer w(in);
        w.dataset("/layers/dense/vars/0", {3, 4}, test::randomValues(12, 1.0, 1));
        w.dataset("/layers/dense_1/vars/0", {4, 5}, test::randomValues(20, 1.0, 2));
        H5Lcreate_hard(w.id(), "/layers/dense", w.id(), "/layers/dense/loop", H5P_DEFAULT,
                       H5P_DEFAULT);
    }
    auto info = core::inspectFile(in);
    EXPECT_EQ(info.format, core::Format::Keras3);
    EXPECT_EQ(info.layers.size(), 2u);
    // Pairing also looks for batch norms among the groups: it too reads each group once.
    auto r = test::runCle({"pairs", in});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "dense -> dense_1")) << r.out;
}

TEST_F(Hostile, Keras3GroupsNestedTooDeeplyAreAnErrorNamingTheFile) {
    {
        test::H5Writer w(in);
        std::string path = "/layers";
        for (int i = 0; i < 100; ++i) path += "/g";
        w.dataset(path + "/vars/0", {3, 4}, test::randomValues(12, 1.0, 1));
    }
    try {
        core::inspectFile(in);
        ADD_FAILURE() << "100 nested groups accepted";
    } catch (const core::Error& e) {
        EXPECT_TRUE(contains(e.what(), "nested") && contains(e.what(), in)) << e.what();
    }
}

// A chunked float32 dataset of `dims` whose chunks are never written (the file stays tiny).
void claimDataset(hid_t file, const std::string& path, std::vector<hsize_t> dims) {
    std::vector<hsize_t> chunk(dims.size(), 1);
    chunk.back() = dims.back();
    hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_chunk(dcpl, int(dims.size()), chunk.data());
    H5Dclose(H5Dcreate2(file, path.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT));
    H5Pclose(dcpl);
    H5Sclose(space);
}

TEST_F(Hostile, ATinyFileClaimingGigabytesIsNotRead) {
    {
        test::H5Writer w(in);
        claimDataset(w.id(), "/big.weight", {31250, 32000});
        w.dataset("/fc.weight", {4, 4}, test::randomValues(16, 1.0, 1));
    }
    auto r = test::runCle({"inspect", in});
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(contains(r.out, "never written")) << r.out;
}

TEST_F(Hostile, WeightsNeedingMoreThanTheMemoryLimitAreRefusedBeforeReading) {
    {
        test::H5Writer w(in);
        w.dataset("/fc1.weight", {512, 512}, std::vector<double>(512 * 512, 1.0), H5T_IEEE_F32LE,
                  true);
        w.dataset("/fc2.weight", {8, 512}, test::randomValues(8 * 512, 1.0, 2));
    }
    // 1 MB of weights and more: refused under a 1 MB limit, naming the largest dataset.
    for (auto args : std::vector<std::vector<std::string>>{
             {"inspect", in, "--max-memory", "1"},
             {"equalize", in, "-o", out, "--pairs", "fc1,fc2", "--max-memory", "1"}}) {
        auto r = test::runCle(args);
        EXPECT_EQ(r.code, 1) << r.err;
        EXPECT_TRUE(contains(r.err, "/fc1.weight") && contains(r.err, "1 MB allowed")) << r.err;
    }
    EXPECT_FALSE(std::filesystem::exists(out));
    EXPECT_EQ(test::runCle({"inspect", in, "--max-memory", "2"}).code, 0);
}

TEST_F(Hostile, ABiasThatIsNoFloatVectorMakesItsLayerUnsupported) {
    // Equalized without its bias, the layer would compute something else: it is refused. (A
    // damaged float type, e.g. 32 bits with 34 bits of precision, made HDF5 crash converting it.)
    {
        test::H5Writer w(in);
        w.dataset("/fc1.weight", {4, 4}, test::randomValues(16, 1.0, 1));
        w.intDataset("/fc1.bias", {4});
        w.dataset("/fc2.weight", {4, 4}, test::randomValues(16, 1.0, 2));
    }
    auto info = core::inspectFile(in);
    const auto& fc1 = layer(info, "fc1");
    EXPECT_FALSE(fc1.supported);
    EXPECT_TRUE(contains(fc1.unsupportedReason,
                         "its bias (/fc1.bias) is not a vector of "
                         "floating-point numbers"))
        << fc1.unsupportedReason;
    EXPECT_TRUE(layer(info, "fc2").supported);
}

TEST_F(Hostile, AClaimBeyondTheLargestByteCountIsSaidWithoutOverflow) {
    // A chunked kernel of 2^31 x 2^31 float32 with one chunk written claims 2^64 bytes: the sum of
    // the claims and the megabytes in the message saturate, never wrap to a negative size.
    {
        test::H5Writer w(in);
        hsize_t dims[2] = {hsize_t(1) << 31, hsize_t(1) << 31}, chunk[2] = {4, 4};
        hid_t space = H5Screate_simple(2, dims, nullptr);
        hid_t plist = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(plist, 2, chunk);
        hid_t d = H5Dcreate2(w.id(), "/fc1.weight", H5T_IEEE_F32LE, space, H5P_DEFAULT, plist,
                             H5P_DEFAULT);
        ASSERT_GE(d, 0);
        hsize_t start[2] = {0, 0};
        H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, chunk, nullptr);
        hid_t memory = H5Screate_simple(2, chunk, nullptr);
        std::vector<float> ones(16, 1.0f);
        H5Dwrite(d, H5T_NATIVE_FLOAT, memory, space, H5P_DEFAULT, ones.data());
        for (hid_t id : {memory, space}) H5Sclose(id);
        H5Pclose(plist);
        H5Dclose(d);
        w.dataset("/fc2.weight", {4, 4}, test::randomValues(16, 1.0, 2));
    }
    try {
        core::loadModel(in);
        FAIL() << "loaded";
    } catch (const core::Error& e) {
        EXPECT_TRUE(contains(e.what(), "need 8796093022208 MB of memory")) << e.what();
        EXPECT_TRUE(contains(e.what(), "layer 'fc1', 8796093022208 MB")) << e.what();
    }
}

TEST_F(Hostile, AShapeBeyondWhatTheFileStoresIsNotSupported) {
    // Found by fuzzing: a contiguous Keras kernel whose shape claims 1.2 GB while its storage is
    // 864 bytes of a 19 KB file. Loading allocated the 1.2 GB, then HDF5 failed ("addr overflow").
    auto info = core::inspectFile(test::dataPath("damaged/shape-beyond-storage.h5"));
    const auto& conv = layer(info, "conv_a");
    EXPECT_FALSE(conv.supported);
    EXPECT_TRUE(contains(conv.unsupportedReason,
                         "need 1207960416 bytes but the file stores 864 "
                         "for them (a damaged file)"))
        << conv.unsupportedReason;
    EXPECT_TRUE(layer(info, "conv_b").supported);
}

}  // namespace
