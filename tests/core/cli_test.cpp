// The `cle` command: exit codes, clear messages, and no output or temporary file on failure.
#include <hdf5.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_runner.h"
#include "test_util.h"

using namespace cle;

namespace {

test::Outcome cle(const std::vector<std::string>& args) { return test::runCle(args); }

std::string golden(const std::string& name) { return test::dataPath("golden/" + name); }

class Cli : public ::testing::Test {
protected:
    test::TempDir dir;
    std::string out = dir.file("out.h5");

    // Runs `cle equalize IN -o OUT ...` and checks that it fails with `code`, says `words`,
    // and leaves the scratch directory as it was.
    void fails(const std::string& in, std::vector<std::string> extra, int code,
               const std::string& words) {
        auto before = dir.entries();
        std::vector<std::string> args = {"equalize", in, "-o", out};
        args.insert(args.end(), extra.begin(), extra.end());
        auto r = cle(args);
        EXPECT_EQ(r.code, code) << r.err;
        EXPECT_NE(r.err.find(words), std::string::npos) << "stderr: " << r.err;
        EXPECT_EQ(dir.entries(), before);
    }
    std::string file(const std::string& name, const std::string& content) {
        std::ofstream(dir.file(name), std::ios::binary) << content;
        return dir.file(name);
    }
};

TEST_F(Cli, EqualizesAndWritesTheReport) {
    std::string report = dir.file("report.json");
    auto r = cle({"equalize", golden("linear_chain.h5"), "-o", out, "--pairs",
                  "linear1,linear2,linear3", "--threshold", "1e-6", "--report", report, "--quiet"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("converged after 11 sweeps"), std::string::npos) << r.out;
    EXPECT_TRUE(r.err.empty());
    std::ifstream in(report);
    auto j = nlohmann::json::parse(in);
    EXPECT_EQ(j["format"], "pytorch");
    EXPECT_EQ(j["sweeps"], 11);
    EXPECT_EQ(j["converged"], true);
    EXPECT_EQ(j["deltas"].size(), 11u);
    EXPECT_EQ(j["pairs"],
              nlohmann::json::parse(R"([["linear1","linear2"],["linear2","linear3"]])"));
    EXPECT_EQ(j["dead_channels"].size(), 2u);
    EXPECT_EQ(j["scales"][0].size(), 4u);
    EXPECT_EQ(j["ranges"][1]["before"]["out"].size(), 5u);
    EXPECT_EQ(j["ranges"][1]["after"]["in"].size(), 5u);
    EXPECT_TRUE(j["seconds"].contains("load") && j["seconds"].contains("save"));
}

TEST_F(Cli, ProgressOnStderrAndPairsFile) {
    std::string pairs =
        file("pairs.json", R"({"groups": [["stem.conv", "stem.proj"], ["head.fc1", "head.fc2"]]})");
    auto r = cle({"equalize", golden("two_groups.h5"), "-o", out, "--pairs-file", pairs,
                  "--threshold", "1e-5"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("sweep 2: delta"), std::string::npos) << r.err;
}

TEST_F(Cli, NotConvergedIsExitThreeAndStillWritten) {
    auto r = cle({"equalize", golden("linear_chain.h5"), "-o", out, "--pairs",
                  "linear1,linear2,linear3", "--threshold", "1e-6", "--max-sweeps", "3", "-q"});
    EXPECT_EQ(r.code, 3);
    EXPECT_NE(r.out.find("NOT converged"), std::string::npos);
    EXPECT_TRUE(std::filesystem::exists(out));
}

TEST_F(Cli, InspectPrintsLayersAndJson) {
    auto r = cle({"inspect", test::samplePath("tiny_face_detector_keras.h5")});
    ASSERT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("keras2"), std::string::npos);
    EXPECT_NE(r.out.find("conv5/pointwise"), std::string::npos);
    auto j = cle({"inspect", golden("two_groups.h5"), "--json"});
    auto parsed = nlohmann::json::parse(j.out);
    EXPECT_EQ(parsed["layers"].size(), 4u);
    EXPECT_EQ(parsed["layers"][3]["name"], "stem.proj");
    EXPECT_EQ(parsed["layers"][3]["bias"], false);
}

TEST_F(Cli, CheckReadsTheWholeFileAndSaysWhatARunWouldSee) {
    std::string keras = test::samplePath("tiny_face_detector_keras.h5");
    auto r = cle({"check", keras});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, keras + ": 12 layers, 192288 weights; layer graph: read\n");
    std::string torch = test::samplePath("tiny_face_detector_torch.h5");
    r = cle({"check", torch});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.out, torch +
                         ": 12 layers, 192288 weights; layer graph: guessed from names and "
                         "shapes\n");
    // An inputs file claiming 10^12 values (chunks never written) is refused before any is read.
    std::string huge = dir.file("huge_inputs.h5");
    {
        hid_t f = H5Fcreate(huge.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        hsize_t dims[3] = {100000, 100000, 100}, chunk[3] = {1, 100, 100};
        hid_t space = H5Screate_simple(3, dims, nullptr), plist = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(plist, 3, chunk);
        H5Dclose(H5Dcreate2(f, "input_1", H5T_IEEE_F32LE, space, H5P_DEFAULT, plist, H5P_DEFAULT));
        H5Pclose(plist), H5Sclose(space), H5Fclose(f);
    }
    r = cle({"check", "--inputs", huge});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("claims 1000000000000 values"), std::string::npos) << r.err;
    r = cle({"check", file("garbage.h5", "not an HDF5 file")});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("garbage.h5"), std::string::npos) << r.err;
}

TEST_F(Cli, HelpAndVersion) {
    EXPECT_EQ(cle({"--help"}).code, 0);
    auto v = cle({"--version"});
    EXPECT_EQ(v.code, 0);
    EXPECT_NE((v.out + v.err).find("cle "), std::string::npos);
    EXPECT_EQ(cle({}).code, 2);
}

TEST_F(Cli, BadInputsFailClearlyAndLeaveNothing) {
    std::string lc = golden("linear_chain.h5");
    std::vector<std::string> chain = {"--pairs", "linear1,linear2,linear3", "-q"};
    fails(dir.file("missing.h5"), chain, 1, "no such file");
    fails(file("text.h5", "just some text\n"), chain, 1, "is not an HDF5 file");
    fails(file("lfs.h5", "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n"),
          chain, 1, "Git LFS pointer");
    {
        std::ifstream in(test::samplePath("tiny_face_detector_keras.h5"), std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), {});
        fails(file("truncated.h5", bytes.substr(0, bytes.size() / 3)),
              {"--pairs", "conv0,conv1/depthwise", "-q"}, 1, "truncated");
    }
    fails(lc, {"--pairs", "linear1,nope", "-q"}, 1, "unknown layer 'nope'");
    fails(lc, {"--pairs", "linear1,linear2;linear3", "-q"}, 2, "at least two layers");
    fails(lc, {"--pairs", "linear1,linear3", "-q"}, 1, "channel mismatch");
    fails(lc, {"--pairs", "linear1,linear2", "--threshold", "0"}, 2, "positive");
    fails(lc, {"--pairs", "linear1,linear2", "--threshold", "-1"}, 2, "positive");
    fails(lc, {"--pairs", "linear1,linear2", "--threshold", "abc"}, 2, "threshold");
    fails(lc, {"--bogus"}, 2, "bogus");
    fails(lc, {}, 2, "--pairs");

    fails(lc, {"--pairs", "linear1,linear2", "--threshold", "1e-50"}, 2, "positive");
    {
        std::string input = dir.file("model.h5");
        std::filesystem::copy_file(lc, input);
        auto before = test::rawBytes(input, "/linear1.weight");
        auto r = cle({"equalize", input, "-o", out, "--pairs", "linear1,linear2", "--report", input,
                      "--force", "-q"});
        EXPECT_EQ(r.code, 1);
        EXPECT_NE(r.err.find("input file"), std::string::npos) << r.err;
        EXPECT_EQ(test::rawBytes(input, "/linear1.weight"), before);
        EXPECT_FALSE(std::filesystem::exists(out));
        auto same = cle(
            {"equalize", input, "-o", out, "--pairs", "linear1,linear2", "--report", out, "-q"});
        EXPECT_EQ(same.code, 2);
        std::filesystem::remove(input);
    }

    test::TempDir other;
    std::string bad = other.file("bad.h5");
    {
        test::H5Writer w(bad);
        w.dataset("/a.weight", {2, 3}, test::randomValues(6, 1, 1));
        w.dataset("/b.weight", {2, 2}, {1, std::nan(""), 2, 3});
        w.intDataset("/i.weight", {2, 2});
        w.dataset("/r6.weight", {2, 1, 1, 1, 1, 1}, {1, 2});
    }
    fails(bad, {"--pairs", "a,b"}, 1, "'b' has a non-finite weight");
    fails(bad, {"--pairs", "a,i"}, 1,
          "'i' cannot be equalized: its weights are not floating-point");
    fails(bad, {"--pairs", "r6,b"}, 1, "rank 6");

    auto r =
        cle({"equalize", lc, "-o", dir.file("no/such/dir/out.h5"), "--pairs", "linear1,linear2"});
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("does not exist"), std::string::npos);

    std::string copy = dir.file("input.h5");
    std::filesystem::copy_file(lc, copy);
    auto same = cle({"equalize", copy, "-o", copy, "--pairs", "linear1,linear2", "--force"});
    EXPECT_EQ(same.code, 1);
    EXPECT_NE(same.err.find("input file"), std::string::npos);
    auto bytes = test::rawBytes(copy, "/linear1.weight");
    EXPECT_EQ(bytes, test::rawBytes(lc, "/linear1.weight"));

    std::string existing = file("existing.h5", "keep me");
    auto ex = cle({"equalize", lc, "-o", existing, "--pairs", "linear1,linear2"});
    EXPECT_EQ(ex.code, 1);
    EXPECT_NE(ex.err.find("--force"), std::string::npos);
    std::ifstream keep(existing);
    std::string content;
    std::getline(keep, content);
    EXPECT_EQ(content, "keep me");
    auto forced =
        cle({"equalize", lc, "-o", existing, "--pairs", "linear1,linear2", "--force", "-q"});
    EXPECT_EQ(forced.code, 0) << forced.err;
}

TEST_F(Cli, BinaryExitCodeForMissingFileIsOne) {
    std::string cmd = std::string(CLE_BINARY) + " equalize /nonexistent/x.h5 -o " + out +
                      " --pairs a,b > /dev/null 2>&1";
    int status = std::system(cmd.c_str());
    EXPECT_EQ(WEXITSTATUS(status), 1);
}

nlohmann::json readJson(const std::string& path) {
    std::ifstream in(path);
    return nlohmann::json::parse(in);
}

TEST_F(Cli, DeadAndConstantChannelsAreLeftUnscaledAndReported) {
    std::string report = dir.file("report.json");
    auto r = cle({"equalize", test::dataPath("cases/zero-channels.h5"), "-o", out, "--pairs",
                  "fc1,fc2", "--report", report, "--quiet"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("fc1 -> fc2: output range imbalance 644 -> 261; 2 dead channel(s) left "
                         "unscaled; 1 constant input channel(s) left unscaled"),
              std::string::npos)
        << r.out;
    auto j = readJson(report);
    EXPECT_EQ(j["dead_channels"], nlohmann::json::parse("[[2, 5]]"));
    EXPECT_EQ(j["constant_input_channels"], nlohmann::json::parse("[[6]]"));
    EXPECT_EQ(j["amplified_bias_channels"], nlohmann::json::parse("[[]]"));
    for (int c : {2, 5, 6}) EXPECT_EQ(j["scales"][0][size_t(c)], 1.0) << c;
    for (float w : test::readFloats(out, "/fc2.weight")) EXPECT_LT(std::abs(w), 100.f);
}

TEST_F(Cli, NearDeadChannelBiasAmplificationIsReported) {
    std::string report = dir.file("report.json");
    auto r = cle({"equalize", test::dataPath("cases/near-dead-channel.h5"), "-o", out, "--pairs",
                  "fc1,fc2", "--report", report, "--quiet"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("WARNING fc1 -> fc2: bias of fc1 amplified more than 100x in channel 4 "
                         "(x2.28e+04, 0.8 -> 1.82e+04)"),
              std::string::npos)
        << r.out;
    auto j = readJson(report);
    EXPECT_EQ(j["bias_amplification_limit"], 100.0);
    ASSERT_EQ(j["amplified_bias_channels"].size(), 1u);
    ASSERT_EQ(j["amplified_bias_channels"][0].size(), 1u);
    const auto& a = j["amplified_bias_channels"][0][0];
    EXPECT_EQ(a["channel"], 4);
    EXPECT_GT(a["amplification"].get<double>(), 1e4);
    EXPECT_LT(a["amplification"].get<double>(), 1e5);
    EXPECT_FLOAT_EQ(a["bias_before"].get<float>(), 0.8f);
    EXPECT_FLOAT_EQ(a["bias_after"].get<float>(), test::readFloats(out, "/fc1.bias")[4]);
    EXPECT_TRUE(j["dead_channels"][0].empty());
}

TEST_F(Cli, ALayerCollapsedByEqualizationIsAWarningFirstAndNoGain) {
    // fc1's channel 0 is 1e6 times the others; equalization moves sqrt of that into fc2's input
    // column 0, and the rest of fc2 then rounds to zero under per-tensor INT8.
    std::string in = dir.file("in.h5"), report = dir.file("report.json");
    {
        auto a = test::randomValues(8 * 16, 1.0, 11), b = test::randomValues(16 * 8, 1.0, 12);
        for (int i = 0; i < 16; ++i) a[size_t(i)] *= 1e6;
        test::H5Writer w(in);
        w.dataset("/fc1.weight", {8, 16}, a);
        w.dataset("/fc2.weight", {16, 8}, b);
    }
    auto r = cle({"equalize", in, "-o", out, "--pairs", "fc1,fc2", "--report", report, "-q"});
    ASSERT_EQ(r.code, 0) << r.err;
    const auto warning = r.out.find("WARNING: equalization collapsed 1 layer under INT8: fc2 (");
    ASSERT_NE(warning, std::string::npos) << r.out;
    EXPECT_LT(warning, r.out.find("INT8 weight SQNR")) << r.out;
    EXPECT_NE(r.out.find("% of weights round to zero, ", warning), std::string::npos) << r.out;
    auto q = readJson(report)["quantization"];
    EXPECT_EQ(q["summary"]["collapsed_layers"], nlohmann::json::parse(R"(["fc2"])"));
    const auto& fc2 = q["layers"][1];
    EXPECT_EQ(fc2["layer"], "fc2");
    EXPECT_EQ(fc2["collapsed_before"], false);
    EXPECT_EQ(fc2["collapsed_after"], true);
    EXPECT_GT(fc2["zero_fraction_after"].get<double>(), 0.5);
    EXPECT_GT(fc2["per_tensor"]["after"].get<double>(), 30.0);     // the energy figure looks fine
    EXPECT_EQ(q["summary"]["per_tensor"]["after"]["worst"], 0.0);  // the summary does not
}

}  // namespace
