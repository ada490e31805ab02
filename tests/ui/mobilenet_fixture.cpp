#include "mobilenet_fixture.h"

#include <QJsonArray>
#include <QJsonObject>

namespace cle::test {

namespace {

struct Builder {
    std::vector<KerasLayer> layers;

    QString conv(const QString& name, long long in, long long out, long long k,
                 const QStringList& inputs = {}) {
        layers.push_back({"Conv2D",
                          name,
                          QJsonObject{{"filters", int(out)},
                                      {"kernel_size", QJsonArray{int(k), int(k)}},
                                      {"use_bias", false},
                                      {"activation", "linear"}},
                          inputs,
                          {{"kernel", {k, k, in, out}}}});
        return name;
    }
    QString depthwise(const QString& name, long long channels) {
        layers.push_back(
            {"DepthwiseConv2D",
             name,
             QJsonObject{{"depth_multiplier", 1}, {"use_bias", false}, {"activation", "linear"}},
             {},
             {{"depthwise_kernel", {3, 3, channels, 1}}}});
        return name;
    }
    QString batchNorm(const QString& name, long long channels) {
        layers.push_back({"BatchNormalization",
                          name,
                          QJsonObject{{"epsilon", 1e-3}},
                          {},
                          {{"gamma", {channels}},
                           {"beta", {channels}},
                           {"moving_mean", {channels}},
                           {"moving_variance", {channels}}}});
        return name;
    }
    QString relu6(const QString& name) {
        layers.push_back({"ReLU", name, QJsonObject{{"max_value", 6.0}}, {}, {}});
        return name;
    }
};

}  // namespace

std::vector<KerasLayer> mobileNetLikeLayers(int blocks) {
    Builder b;
    b.layers.push_back({"InputLayer", "input_1", {}, {}, {}});
    b.conv("Conv1", 3, 16, 3);
    b.batchNorm("bn_Conv1", 16);
    b.relu6("Conv1_relu");
    b.depthwise("expanded_conv_depthwise", 16);
    b.batchNorm("expanded_conv_depthwise_BN", 16);
    b.relu6("expanded_conv_depthwise_relu");
    b.conv("expanded_conv_project", 16, 8, 1);
    QString last = b.batchNorm("expanded_conv_project_BN", 8);
    long long channels = 8;
    // Output widths by block, as in MobileNetV2 (scaled down); equal widths in a row get an Add.
    const long long widths[] = {12, 12, 16, 16, 16, 24, 24, 24, 24, 32, 32, 32, 48, 48, 48, 64};
    for (int i = 1; i <= blocks; ++i) {
        const long long out = widths[(i - 1) % 16];
        const long long expanded = channels * 6;
        const QString p = QStringLiteral("block_%1_").arg(i);
        b.conv(p + "expand", channels, expanded, 1, {last});
        b.batchNorm(p + "expand_BN", expanded);
        b.relu6(p + "expand_relu");
        b.depthwise(p + "depthwise", expanded);
        b.batchNorm(p + "depthwise_BN", expanded);
        b.relu6(p + "depthwise_relu");
        b.conv(p + "project", expanded, out, 1);
        QString projected = b.batchNorm(p + "project_BN", out);
        if (out == channels) {
            b.layers.push_back({"Add", p + "add", {}, {last, projected}, {}});
            projected = p + "add";
        }
        last = projected;
        channels = out;
    }
    b.conv("Conv_1", channels, 160, 1, {last});
    b.batchNorm("Conv_1_bn", 160);
    b.relu6("out_relu");
    b.layers.push_back({"GlobalAveragePooling2D", "global_average_pooling2d", {}, {}, {}});
    b.layers.push_back({"Dense",
                        "predictions",
                        QJsonObject{{"units", 10}, {"activation", "softmax"}},
                        {},
                        {{"kernel", {160, 10}}, {"bias", {10}}}});
    return b.layers;
}

void writeMobileNetLike(const std::string& path, int blocks, unsigned seed) {
    writeKerasModel(path, mobileNetLikeLayers(blocks), seed);
}

}  // namespace cle::test
