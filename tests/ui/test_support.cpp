#include "test_support.h"

#include "ui/session.h"

#include <QCoreApplication>
#include <QSettings>
#include <QSignalSpy>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <stdexcept>

#include <hdf5.h>

#include <QJsonArray>
#include <QJsonDocument>

#include "test_util.h"

namespace cle::test {

QStringList FakePrompter::errors;
QStringList FakePrompter::confirmations;
QStringList FakePrompter::informations;
bool FakePrompter::confirmAnswer = true;
QString FakePrompter::nextFileName;

void FakePrompter::information(QWidget*, const QString& title, const QString& text) {
    informations << title + QStringLiteral(": ") + text;
}

void FakePrompter::error(QWidget*, const QString& title, const QString& text) {
    errors << title + QStringLiteral(": ") + text;
}

bool FakePrompter::confirm(QWidget*, const QString& title, const QString&) {
    confirmations << title;
    return confirmAnswer;
}

QString FakePrompter::openFileName(QWidget*, const QString&, const QString&) {
    return nextFileName;
}

QString FakePrompter::saveFileName(QWidget*, const QString&, const QString&, const QString&) {
    return nextFileName;
}

namespace {

std::string kerasConfig(const std::vector<KerasLayer>& layers) {
    QJsonArray list;
    QString previous;
    for (const auto& l : layers) {
        QJsonObject config = l.config;
        config["name"] = l.name;
        QJsonArray refs;
        const QStringList inputs =
            l.inputs.isEmpty() && !previous.isEmpty() ? QStringList{previous} : l.inputs;
        for (const auto& in : inputs) refs.append(QJsonArray{in, 0, 0, QJsonObject()});
        QJsonArray inbound;
        if (!refs.isEmpty()) inbound.append(refs);
        list.append(QJsonObject{{"class_name", l.cls},
                                {"name", l.name},
                                {"config", config},
                                {"inbound_nodes", inbound}});
        previous = l.name;
    }
    const QJsonObject model{
        {"class_name", "Model"},
        {"config", QJsonObject{{"name", "m"},
                               {"layers", list},
                               {"input_layers", QJsonArray{QJsonArray{layers.front().name, 0, 0}}},
                               {"output_layers", QJsonArray{QJsonArray{previous, 0, 0}}}}}};
    return QJsonDocument(model).toJson(QJsonDocument::Compact).toStdString();
}

std::vector<float> kerasValues(const std::string& weight, const std::vector<long long>& shape,
                               std::mt19937& rng) {
    size_t count = 1;
    for (auto d : shape) count *= size_t(d);
    std::normal_distribution<float> normal(0.f, 1.f);
    std::uniform_real_distribution<float> uniform(0.5f, 2.f), spread(-3.f, 3.f);
    std::vector<float> v(count);
    if (weight == "moving_variance" || weight == "gamma") {
        for (auto& x : v) x = uniform(rng);
        return v;
    }
    // Keras kernels keep the output channel last: give each one its own scale.
    const size_t channels = shape.empty() ? 1 : size_t(shape.back());
    std::vector<float> scale(channels, 1.f);
    if (weight == "kernel")
        for (auto& s : scale) s = std::exp(spread(rng));
    for (size_t i = 0; i < count; ++i) v[i] = normal(rng) * 0.1f * scale[i % channels];
    return v;
}

herr_t collect(hid_t obj, const char* name, const H5O_info_t* info, void* data) {
    if (info->type != H5O_TYPE_DATASET) return 0;
    auto* out = static_cast<std::map<std::string, std::vector<unsigned char>>*>(data);
    hid_t set = H5Dopen2(obj, name, H5P_DEFAULT);
    hid_t type = H5Dget_type(set);
    hid_t space = H5Dget_space(set);
    const auto count = static_cast<size_t>(H5Sget_simple_extent_npoints(space));
    std::vector<unsigned char> bytes(count * H5Tget_size(type));
    H5Dread(set, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, bytes.data());
    (*out)[name] = std::move(bytes);
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(set);
    return 0;
}

}  // namespace

void writeLinearChain(const std::string& path, int layers, int n, unsigned seed) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.f, 1.f);
    std::uniform_real_distribution<float> spread(-4.f, 4.f);
    H5Writer file(path);
    const auto un = static_cast<size_t>(n);
    for (int l = 0; l < layers; ++l) {
        std::vector<double> w(un * un), b(un);
        for (size_t r = 0; r < un; ++r) {
            const float rowScale = std::exp(spread(rng));
            for (size_t c = 0; c < un; ++c) w[r * un + c] = normal(rng) * rowScale * 0.05f;
            b[r] = normal(rng) * 0.1f;
        }
        const std::string name = "/fc" + std::to_string(l);
        file.dataset(name + ".weight", {n, n}, w);
        file.dataset(name + ".bias", {n}, b);
    }
}

std::map<std::string, std::vector<unsigned char>> readAllDatasets(const std::string& path) {
    std::map<std::string, std::vector<unsigned char>> out;
    hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) throw std::runtime_error("cannot open " + path);
    H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_NATIVE, collect, &out, H5O_INFO_BASIC);
    H5Fclose(file);
    return out;
}

void writeKerasModel(const std::string& path, const std::vector<KerasLayer>& layers,
                     unsigned seed) {
    std::mt19937 rng(seed);
    H5Writer file(path);
    file.strings("/", "model_config", {kerasConfig(layers)}, true, true);
    file.group("/model_weights");
    std::vector<std::string> names;
    for (const auto& l : layers) {
        if (l.weights.empty()) continue;
        const std::string name = l.name.toStdString();
        names.push_back(name);
        std::vector<std::string> weightNames;
        for (const auto& [weight, shape] : l.weights) {
            weightNames.push_back(name + "/" + weight + ":0");
            auto values = kerasValues(weight, shape, rng);
            file.dataset("/model_weights/" + name + "/" + name + "/" + weight + ":0",
                         std::vector<std::int64_t>(shape.begin(), shape.end()),
                         std::vector<double>(values.begin(), values.end()));
        }
        file.strings("/model_weights/" + name, "weight_names", weightNames, false);
    }
    file.strings("/model_weights", "layer_names", names, false);
}

void writeGarbage(const std::string& path) {
    std::ofstream f(path, std::ios::binary);
    for (int i = 0; i < 4096; ++i) f.put(static_cast<char>((i * 37) & 0xff));
}

void isolateTestProgram(const QTemporaryDir& dir, const char* applicationName) {
    QSettings::setDefaultFormat(QSettings::IniFormat);
    QSettings::setPath(QSettings::IniFormat, QSettings::UserScope, dir.filePath("settings"));
    QCoreApplication::setOrganizationName("CLE Studio Tests");
    QCoreApplication::setApplicationName(applicationName);
    ui::Prompter::install(std::make_unique<FakePrompter>());
}

std::unique_ptr<ui::MainWindow> openWindow(const QString& path, QSize size) {
    auto w = std::make_unique<ui::MainWindow>();
    if (size.isValid()) w->resize(size);
    w->show();
    QSignalSpy loaded(w->session(), &ui::Session::modelLoaded);
    if (!w->openFile(path) || !loaded.wait(60000)) return nullptr;
    return w;
}

}  // namespace cle::test
