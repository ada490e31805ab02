// The network check of a loaded model runs from what the load read: the file is not opened
// again (here it is gone by then), and the figures are those of a check that reads the file.
// Errors of the evaluator name the file they concern.
#include <gtest/gtest.h>

#include <filesystem>

#include "cle/core/error.h"
#include "cle/core/evaluator.h"
#include "cle/core/pipeline.h"
#include "cle/core/verification.h"
#include "keras_model.h"
#include "test_util.h"

using namespace cle;

namespace {

struct Checked {
    core::Verification fromLoad, fromFile;
};

// Equalizes `path` with the suggested pairs, removes the file, and checks the result from the
// loaded model; then puts the file back and checks again from a model read without loadInput.
Checked checkWithoutTheFile(const std::string& path, std::vector<std::int64_t> inputShape = {}) {
    core::Feedback feedback;
    const core::LoadedInput input = core::loadInput({path}, feedback);
    core::RunRequest run;
    run.model = input.model;
    run.plan = core::planRun(input, {{}, true});
    const core::RunOutcome out = core::runEqualization(run, feedback);
    EXPECT_TRUE(out.completed());
    const std::string away = path + ".away";
    std::filesystem::rename(path, away);
    core::VerifyOptions o;
    o.samples = 2;
    o.openSize = 16;
    o.inputShape = std::move(inputShape);
    Checked c;
    const core::Network original = core::Network::load(path, *input.model);
    c.fromLoad = core::verifyResult(original, *input.model, out.plan, out.layers, o);
    std::filesystem::rename(away, path);
    const core::Model read = core::loadModel(path);  // nothing recorded: the file is read
    const core::Network again = core::Network::load(path, read);
    c.fromFile = core::verifyResult(again, read, out.plan, out.layers, o);
    return c;
}

void expectSame(const Checked& c) {
    EXPECT_TRUE(c.fromLoad.preserved);
    EXPECT_EQ(c.fromLoad.maxRelativeChange, c.fromFile.maxRelativeChange);
    EXPECT_EQ(c.fromLoad.perTensorOriginalDb, c.fromFile.perTensorOriginalDb);
    EXPECT_EQ(c.fromLoad.perTensorCandidateDb, c.fromFile.perTensorCandidateDb);
    EXPECT_EQ(c.fromLoad.perChannelCandidateDb, c.fromFile.perChannelCandidateDb);
}

}  // namespace

TEST(VerifyLoaded, Keras2SampleWithBatchNormsIsCheckedWithoutItsFile) {
    test::TempDir dir;
    const std::string path = dir.file("sample.h5");
    std::filesystem::copy_file(test::samplePath("tiny_face_detector_keras.h5"), path);
    expectSame(checkWithoutTheFile(path));
}

TEST(VerifyLoaded, Keras3BatchNormAndPReluAreCheckedWithoutTheFile) {
    test::TempDir dir;
    test::KerasModel m;
    m.conv("a", 3, 8, {{"padding", "same"}}).batchNorm("bn", 8);
    m.layer("PReLU", "p", {{"shared_axes", {1, 2}}}).weights({{"alpha", {1, 1, 8}}});
    m.conv("b", 8, 4, {{"padding", "same"}});
    const std::string path = dir.file("k3.weights.h5");
    m.write(path, test::KerasModel::Style::Keras3);
    expectSame(checkWithoutTheFile(path, {12, 12, 3}));
}

TEST(VerifyLoaded, EvaluatorErrorsNameTheFile) {
    test::TempDir dir;
    test::KerasModel m;
    m.conv("c1", 2, 3, {{"padding", "same"}});
    m.layer("LayerNormalization", "ln");
    const std::string path = dir.file("ln.h5");
    m.write(path);
    try {
        core::Network::load(path, core::loadModel(path));
        FAIL() << "no error";
    } catch (const core::Error& e) {
        EXPECT_NE(std::string(e.what()).find("'" + path + "'"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("'ln'"), std::string::npos) << e.what();
    }
    const std::string sample = test::samplePath("tiny_face_detector_keras.h5");
    const core::Network net = core::Network::load(sample, core::loadModel(sample));
    core::Tensor wrong{{1, 3}, std::vector<float>(3, 0.f)};
    try {
        net.run({wrong}, {});
        FAIL() << "no error";
    } catch (const core::Error& e) {
        EXPECT_NE(std::string(e.what()).find("'" + sample + "'"), std::string::npos) << e.what();
    }
}

TEST(VerifyLoaded, LayersThatCannotBeEqualizedAreCheckedWithoutTheFile) {
    test::TempDir dir;
    const std::string path = dir.file("depthwise.h5");  // a depth multiplier of 2: not equalized
    std::filesystem::copy_file(test::dataPath("eval/depthwise.h5"), path);
    expectSame(checkWithoutTheFile(path));
}
