// A PReLU's slopes (rank 3 unless axes are shared) are no kernel: the layer is not listed as one,
// and the pair across it (it commutes with a positive per-channel scale) is equalized instead of
// the PReLU's slopes being scaled, which changed the function.
#include <gtest/gtest.h>

#include <algorithm>

#include "cle/core/weight_file.h"
#include "cli_runner.h"
#include "keras_model.h"
#include "test_util.h"

namespace {

using namespace cle;

bool listed(const std::string& path, const std::string& name) {
    const auto info = core::inspectFile(path);
    return std::any_of(info.layers.begin(), info.layers.end(),
                       [&](const core::LayerInfo& l) { return l.name == name; });
}

TEST(PRelu, Keras2SlopesAreNoKernelAndThePairCrossesIt) {
    test::TempDir dir;
    test::KerasModel m;
    m.conv("c1", 3, 8, {{"padding", "same"}});
    m.layer("PReLU", "pr", {{"shared_axes", nullptr}}).weights({{"alpha", {6, 6, 8}}});
    m.conv("c2", 8, 4);
    const auto in = dir.file("m.h5");
    m.write(in);
    EXPECT_FALSE(listed(in, "pr"));
    auto pairs = test::runCle({"pairs", in});
    EXPECT_NE(pairs.out.find("c1 -> c2"), std::string::npos) << pairs.out;
    auto eq = test::runCle({"equalize", in, "-o", dir.file("eq.h5"), "--auto", "--quiet",
                            "--verify", "--input-shape", "6,6,3"});
    EXPECT_EQ(eq.code, 0) << eq.out << eq.err;
    EXPECT_NE(eq.out.find("c1 -> c2"), std::string::npos) << eq.out;
    EXPECT_NE(eq.out.find("function: kept"), std::string::npos) << eq.out;
}

TEST(PRelu, Keras3SlopesAreNoKernel) {
    test::TempDir dir;
    const auto in = dir.file("m.weights.h5");
    {
        test::H5Writer w(in);
        w.dataset("/layers/conv2d/vars/0", {3, 3, 3, 8}, test::randomValues(216, 1, 1));
        w.dataset("/layers/conv2d/vars/1", {8}, test::randomValues(8, 1, 2));
        w.dataset("/layers/p_re_lu/vars/0", {6, 6, 8}, test::randomValues(288, 0.3, 3));
        w.dataset("/layers/p_re_lu_1/vars/0", {1, 1, 8}, test::randomValues(8, 0.3, 4));
        w.dataset("/layers/conv2d_1/vars/0", {3, 3, 8, 4}, test::randomValues(288, 1, 5));
        w.dataset("/layers/conv2d_1/vars/1", {4}, test::randomValues(4, 1, 6));
    }
    EXPECT_TRUE(listed(in, "conv2d"));
    EXPECT_FALSE(listed(in, "p_re_lu"));
    EXPECT_FALSE(listed(in, "p_re_lu_1"));
}

}  // namespace
