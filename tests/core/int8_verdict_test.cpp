// The verdict on INT8 at the network's output, and how the command line states it.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "cle/core/int8_verdict.h"
#include "cli_runner.h"

namespace cle::core {
namespace {

Verification checked(double original, double candidate) {
    Verification v;
    v.inputSource = "uniform";
    v.count = 8;
    v.preserved = true;
    v.perTensorOriginalDb = original;
    v.perTensorCandidateDb = candidate;
    return v;
}

TEST(Int8Verdict, BetterWorseOrUnchangedBeyondTheMargin) {
    EXPECT_EQ(int8Verdict(checked(30.4, 35.3)).change, Int8Change::Better);
    EXPECT_NEAR(int8Verdict(checked(30.4, 35.3)).gainDb, 4.9, 1e-9);
    EXPECT_EQ(int8Verdict(checked(30.4, 30.0)).change, Int8Change::Worse);
    EXPECT_EQ(int8Verdict(checked(30.4, 30.45)).change, Int8Change::Unchanged);
    EXPECT_EQ(int8Verdict(checked(30.4, 30.35)).change, Int8Change::Unchanged);
}

TEST(Int8Verdict, WithRelu6RelaxedItJudgesWhatEqualizationChanged) {
    // Against the clipping original the candidate loses; relaxed on both sides it gains.
    Verification v = checked(30.0, 20.0);
    v.relaxedPerTensorOriginalDb = 28.0;
    v.relaxedPerTensorCandidateDb = 31.0;
    EXPECT_EQ(int8Verdict(v).change, Int8Change::Better);
    EXPECT_NEAR(int8Verdict(v).gainDb, 3.0, 1e-9);
}

TEST(Int8Verdict, ExactAndMissingFigures) {
    const double inf = std::numeric_limits<double>::infinity();
    EXPECT_EQ(int8Verdict(checked(30, inf)).change, Int8Change::Better);
    EXPECT_EQ(int8Verdict(checked(inf, 30)).change, Int8Change::Worse);
    EXPECT_EQ(int8Verdict(checked(inf, inf)).change, Int8Change::Unchanged);
    EXPECT_EQ(int8Verdict(checked(std::nan(""), 30)).change, Int8Change::Unchanged);
}

TEST(Int8Verdict, TheSentenceSaysWhichWeightsToDeploy) {
    const std::string worse = int8VerdictText(checked(30.4, 30.0));
    EXPECT_NE(worse.find("0.4 dB further from the float network"), std::string::npos) << worse;
    EXPECT_NE(worse.find("the original weights quantize better"), std::string::npos) << worse;
    EXPECT_NE(worse.find("representative inputs"), std::string::npos) << worse;
    Verification fromFile = checked(30.4, 30.0);
    fromFile.inputSource = "file";
    EXPECT_EQ(int8VerdictText(fromFile).find("representative"), std::string::npos);
    EXPECT_NE(int8VerdictText(checked(30.4, 35.3)).find("4.9 dB closer"), std::string::npos);
    EXPECT_NE(int8VerdictText(checked(30.4, 30.4)).find("gains nothing"), std::string::npos);
}

TEST(Int8Verdict, TheCommandLineStatesItAfterTheFigures) {
    const std::string sample = std::string(CLE_SAMPLE_DIR) + "/tiny_face_detector_keras.h5";
    const auto same = test::runCle({"verify", sample, sample});
    ASSERT_EQ(same.code, 0) << same.err;
    EXPECT_NE(same.out.find("\nverdict: INT8 output as close to the float network as the "
                            "original's"),
              std::string::npos)
        << same.out;
    EXPECT_EQ(same.out.find("warning:"), std::string::npos) << same.out;
    const auto json = test::runCle({"verify", sample, sample, "--json"});
    ASSERT_EQ(json.code, 0) << json.err;
    EXPECT_NE(json.out.find("\"int8_verdict\": {\n    \"change\": \"unchanged\""),
              std::string::npos)
        << json.out;
}

}  // namespace
}  // namespace cle::core
