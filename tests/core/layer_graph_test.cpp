// The layer graph a viewer draws: every layer with its class and weighted layers, and the
// connections, from a Keras model_config; none for files without a graph.
#include <gtest/gtest.h>

#include <algorithm>

#include "cle/core/layer_graph.h"
#include "cle/core/pipeline.h"
#include "cle/core/run_plan.h"
#include "cle/core/weight_file.h"
#include "keras_model.h"
#include "test_util.h"

using namespace cle;
using test::KerasModel;
using test::Names;

namespace {

bool connected(const core::LayerGraph& g, const std::string& a, const std::string& b) {
    const int from = g.find(a), to = g.find(b);
    return std::any_of(g.edges.begin(), g.edges.end(),
                       [&](const core::GraphEdge& e) { return e.from == from && e.to == to; });
}

}  // namespace

TEST(LayerGraph, EveryLayerAndConnection) {
    test::TempDir dir;
    KerasModel m;
    m.conv("p", 3, 8).conv("a", 8, 8).layer("Add", "add", {}, Names{"a", "p"});
    m.layer("ReLU", "relu").conv("b", 8, 4);
    const std::string path = dir.file("residual.h5");
    m.write(path);
    const auto graph = core::readLayerGraph(core::inspectFile(path));
    ASSERT_TRUE(graph.has_value());
    ASSERT_EQ(graph->nodes.size(), 6u);  // input, p, a, add, relu, b
    const auto& add = graph->nodes[size_t(graph->find("add"))];
    EXPECT_EQ(add.cls, "Add");
    EXPECT_TRUE(add.weighted.empty());
    EXPECT_EQ(graph->nodes[size_t(graph->find("b"))].weighted, Names{"b"});
    EXPECT_TRUE(connected(*graph, "p", "a"));
    EXPECT_TRUE(connected(*graph, "p", "add"));  // the residual branch
    EXPECT_TRUE(connected(*graph, "a", "add"));
    EXPECT_TRUE(connected(*graph, "relu", "b"));
    EXPECT_FALSE(connected(*graph, "a", "b"));
    EXPECT_EQ(graph->edges.size(), 6u);
}

TEST(LayerGraph, SeparableConvolutionHoldsBothLayers) {
    const auto info = core::inspectFile(CLE_SAMPLE_DIR "/tiny_face_detector_keras.h5");
    const auto graph = core::readLayerGraph(info);
    ASSERT_TRUE(graph.has_value());
    const int conv1 = graph->find("conv1/depthwise");
    ASSERT_GE(conv1, 0);
    EXPECT_EQ(graph->nodes[size_t(conv1)].name, "conv1");
    EXPECT_EQ(graph->nodes[size_t(conv1)].weighted, (Names{"conv1/depthwise", "conv1/pointwise"}));
    // Every weighted layer of the file is in some node.
    for (const auto& layer : info.layers) EXPECT_GE(graph->find(layer.name), 0) << layer.name;
}

TEST(LayerGraph, NoneWithoutAGraph) {
    test::TempDir dir;
    const std::string path = dir.file("torch.h5");
    {
        test::H5Writer file(path);
        file.dataset("/fc1.weight", {4, 4}, test::randomValues(16, 1.0, 1));
    }
    EXPECT_FALSE(core::readLayerGraph(core::inspectFile(path)).has_value());
}

// The load stage parses model_config once: the graph it returns is the one readLayerGraph
// reads, and the export's ReLU6 relaxation works on that parse, not on the text again.
TEST(LayerGraph, TheLoadBuildsItFromItsOneParse) {
    test::TempDir dir;
    KerasModel m;
    m.conv("p", 3, 8).conv("a", 8, 8).layer("Add", "add", {}, Names{"a", "p"});
    m.activation("clip", "relu6").conv("b", 8, 4);
    const std::string path = dir.file("residual.h5");
    m.write(path);
    core::LoadRequest request;
    request.path = path;
    const core::LoadedInput input = core::loadInput(request, core::Feedback());
    ASSERT_TRUE(input.graph);
    ASSERT_TRUE(input.model->config);
    const auto read = core::readLayerGraph(core::inspectFile(path));
    ASSERT_TRUE(read.has_value());
    ASSERT_EQ(input.graph->nodes.size(), read->nodes.size());
    for (size_t i = 0; i < read->nodes.size(); ++i) {
        EXPECT_EQ(input.graph->nodes[i].name, read->nodes[i].name);
        EXPECT_EQ(input.graph->nodes[i].weighted, read->nodes[i].weighted);
    }
    EXPECT_EQ(input.graph->edges.size(), read->edges.size());
    EXPECT_TRUE(connected(*input.graph, "clip", "b"));

    core::Model model = *input.model;
    model.modelConfig = "not JSON";  // only the parse made at load is read
    core::RunPlan plan;
    plan.relu6 = {"clip"};
    const auto extras = core::exportExtras(model, plan, {});
    ASSERT_TRUE(extras.modelConfig.has_value());
    EXPECT_NE(extras.modelConfig->find("\"activation\":\"relu\""), std::string::npos);
    EXPECT_EQ(extras.modelConfig->find("relu6"), std::string::npos);
}

TEST(LayerGraph, NoneFromTheLoadWithoutAGraph) {
    test::TempDir dir;
    const std::string path = dir.file("plain.h5");
    {
        test::H5Writer file(path);
        file.dataset("/fc1.weight", {4, 4}, test::randomValues(16, 1.0, 1));
    }
    core::LoadRequest request;
    request.path = path;
    const core::LoadedInput input = core::loadInput(request, core::Feedback());
    EXPECT_FALSE(input.graph);
    EXPECT_FALSE(input.model->config);
}
