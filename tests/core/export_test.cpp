// Export: only the equalized datasets change, types are kept, failures leave nothing behind.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cle/core/equalizer.h"
#include "cle/core/error.h"
#include "cle/core/exporter.h"
#include "hdf5/h5.h"
#include "test_util.h"

using namespace cle;

namespace {

std::string keras() { return test::samplePath("tiny_face_detector_keras.h5"); }

std::vector<std::string> rootStrings(const std::string& file, const std::string& attr) {
    auto f = core::h5::openFile(file, false);
    core::h5::Handle root(H5Gopen2(f.get(), "/", H5P_DEFAULT));
    return core::h5::readStringsAttribute(root.get(), attr);
}

TEST(Export, KerasFileDiffersOnlyInEqualizedDatasets) {
    test::TempDir dir;
    auto model = core::loadModel(keras());
    auto result = core::equalize(
        model,
        core::expandGroups({{"conv0", "conv1/depthwise", "conv1/pointwise", "conv2/depthwise"}}));
    ASSERT_TRUE(result.summary.converged);
    std::string out = dir.file("equalized.h5");
    core::exportWeights(keras(), result.layers, out);

    std::set<std::string> changed;
    for (const auto& l : result.layers) {
        changed.insert(l.info.weightPath);
        if (l.info.hasBias()) changed.insert(l.info.biasPath);
        EXPECT_EQ(test::readFloats(out, l.info.weightPath), l.weight.values);
    }
    auto f = core::h5::openFile(keras(), false);
    auto all = core::h5::listDatasets(f.get());
    ASSERT_EQ(all.size(), 2 * 12u - 5u);  // 12 kernels, 7 biases
    int differing = 0;
    for (const auto& d : all) {
        bool same = test::rawBytes(keras(), d) == test::rawBytes(out, d);
        if (!same) ++differing;
        EXPECT_EQ(same, !changed.count(d)) << d;
    }
    EXPECT_EQ(differing, int(changed.size()));
    EXPECT_EQ(rootStrings(out, "model_config"), rootStrings(keras(), "model_config"));
    EXPECT_EQ(rootStrings(out, "keras_version"), rootStrings(keras(), "keras_version"));
    // The exported file reads back as the same kind of file with the same layers.
    auto back = core::inspectFile(out);
    EXPECT_EQ(back.format, core::Format::Keras2);
    EXPECT_EQ(back.layers.size(), 12u);
    EXPECT_EQ(dir.entries().size(), 1u);  // no temporary file left
}

TEST(Export, Float16IsWrittenRoundToNearestEvenAndOverflowIsAnError) {
    test::TempDir dir;
    std::string in = dir.file("half.h5");
    hid_t half = test::halfType();
    {
        test::H5Writer w(in);
        w.dataset("/a.weight", {2, 2}, {1, 1, 1, 1}, half);
        w.dataset("/b.weight", {2, 2}, {1, 1, 1, 1}, half);
    }
    H5Tclose(half);
    auto model = core::loadModel(in);
    std::vector<core::Layer> layers = {model.layers[0]};
    // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: even rounding gives 1.
    layers[0].weight.values = {1.0f + 0x1p-11f, 1.0f + 3 * 0x1p-11f, -2.0f, 0.5f};
    core::exportWeights(in, layers, dir.file("out.h5"));
    auto back = test::readFloats(dir.file("out.h5"), "/a.weight");
    EXPECT_EQ(back, (std::vector<float>{1.0f, 1.0f + 4 * 0x1p-11f, -2.0f, 0.5f}));

    layers[0].weight.values[2] = 70000.f;
    try {
        core::exportWeights(in, layers, dir.file("overflow.h5"));
        FAIL() << "overflow accepted";
    } catch (const core::Error& e) {
        // Named as the user knows it: the input's layer and dataset, not the output path.
        const std::string why = e.what();
        EXPECT_NE(why.find("does not fit in float16"), std::string::npos) << why;
        EXPECT_NE(why.find("layer 'a' (dataset /a.weight)"), std::string::npos) << why;
        EXPECT_EQ(why.find("overflow.h5"), std::string::npos) << why;
    }
    EXPECT_FALSE(std::filesystem::exists(dir.file("overflow.h5")));
    EXPECT_EQ(dir.entries().size(), 2u);  // half.h5, out.h5: no temporary file
}

TEST(Export, RefusesInputOutputExistingAndMissingDirectory) {
    test::TempDir dir;
    std::string in = dir.file("in.h5");
    std::filesystem::copy_file(keras(), in);
    auto refuse = [&](const std::string& out, bool force, const std::string& words) {
        try {
            core::checkOutputPath(in, out, force);
            ADD_FAILURE() << out << " accepted";
        } catch (const core::Error& e) {
            EXPECT_NE(std::string(e.what()).find(words), std::string::npos) << e.what();
        }
    };
    refuse(in, true, "input file");
    std::filesystem::create_symlink(in, dir.file("link.h5"));
    refuse(dir.file("link.h5"), true, "input file");
    refuse(dir.path() + "/./in.h5", true, "input file");
    std::ofstream(dir.file("exists.h5")) << "x";
    refuse(dir.file("exists.h5"), false, "already exists");
    EXPECT_NO_THROW(core::checkOutputPath(in, dir.file("exists.h5"), true));
    refuse(dir.file("no/such/dir/out.h5"), true, "does not exist");
}

TEST(Export, CancelLeavesNoFile) {
    test::TempDir dir;
    auto model = core::loadModel(keras());
    std::atomic<bool> cancel{true};
    EXPECT_THROW(
        core::exportWeights(keras(), {model.layers[0]}, dir.file("out.h5"), {false, &cancel}),
        core::Error);
    EXPECT_TRUE(dir.entries().empty());
}

}  // namespace
