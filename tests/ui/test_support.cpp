#include "test_support.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <stdexcept>

#include <hdf5.h>

#include <QJsonArray>
#include <QJsonDocument>

namespace cle::test {

QStringList FakePrompter::errors;
QStringList FakePrompter::confirmations;
bool FakePrompter::confirmAnswer = true;
QString FakePrompter::nextFileName;

void FakePrompter::error(QWidget*, const QString& title, const QString& text)
{
    errors << title + QStringLiteral(": ") + text;
}

bool FakePrompter::confirm(QWidget*, const QString& title, const QString&)
{
    confirmations << title;
    return confirmAnswer;
}

QString FakePrompter::openFileName(QWidget*, const QString&, const QString&)
{
    return nextFileName;
}

QString FakePrompter::saveFileName(QWidget*, const QString&, const QString&, const QString&)
{
    return nextFileName;
}

namespace {

void writeDataset(hid_t file, const std::string& name, const std::vector<hsize_t>& dims,
                  const std::vector<float>& values)
{
    hid_t space = H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr);
    hid_t set = H5Dcreate2(file, name.c_str(), H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT,
                           H5P_DEFAULT);
    if (set < 0) throw std::runtime_error("cannot create dataset " + name);
    H5Dwrite(set, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    H5Dclose(set);
    H5Sclose(space);
}

void writeStrings(hid_t object, const char* name, const std::vector<std::string>& values,
                  bool scalar)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    const hsize_t n = values.size();
    hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr);
    if (scalar) {
        // h5py writes model_config as a variable-length string.
        H5Tset_size(type, H5T_VARIABLE);
        const char* text = values.front().c_str();
        hid_t a = H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, type, &text);
        H5Aclose(a);
    } else {
        size_t width = 1;
        for (const auto& v : values) width = std::max(width, v.size());
        H5Tset_size(type, width);
        H5Tset_strpad(type, H5T_STR_NULLPAD);
        std::vector<char> buf(width * values.size(), '\0');
        for (size_t i = 0; i < values.size(); ++i)
            std::copy(values[i].begin(), values[i].end(), buf.begin() + long(i * width));
        hid_t a = H5Acreate2(object, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, type, buf.data());
        H5Aclose(a);
    }
    H5Sclose(space);
    H5Tclose(type);
}

std::string kerasConfig(const std::vector<KerasLayer>& layers)
{
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
        list.append(QJsonObject{{"class_name", l.cls}, {"name", l.name}, {"config", config},
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
                               std::mt19937& rng)
{
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

herr_t collect(hid_t obj, const char* name, const H5O_info_t* info, void* data)
{
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

void writeLinearChain(const std::string& path, int layers, int n, unsigned seed)
{
    std::mt19937 rng(seed);
    std::normal_distribution<float> normal(0.f, 1.f);
    std::uniform_real_distribution<float> spread(-4.f, 4.f);
    hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) throw std::runtime_error("cannot create " + path);
    const auto un = static_cast<size_t>(n);
    for (int l = 0; l < layers; ++l) {
        std::vector<float> w(un * un), b(un);
        for (size_t r = 0; r < un; ++r) {
            const float rowScale = std::exp(spread(rng));
            for (size_t c = 0; c < un; ++c) w[r * un + c] = normal(rng) * rowScale * 0.05f;
            b[r] = normal(rng) * 0.1f;
        }
        const std::string name = "/fc" + std::to_string(l);
        writeDataset(file, name + ".weight", {hsize_t(n), hsize_t(n)}, w);
        writeDataset(file, name + ".bias", {hsize_t(n)}, b);
    }
    H5Fclose(file);
}

std::map<std::string, std::vector<unsigned char>> readAllDatasets(const std::string& path)
{
    std::map<std::string, std::vector<unsigned char>> out;
    hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) throw std::runtime_error("cannot open " + path);
    H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_NATIVE, collect, &out, H5O_INFO_BASIC);
    H5Fclose(file);
    return out;
}

void writeKerasModel(const std::string& path, const std::vector<KerasLayer>& layers,
                     unsigned seed)
{
    std::mt19937 rng(seed);
    hid_t file = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) throw std::runtime_error("cannot create " + path);
    writeStrings(file, "model_config", {kerasConfig(layers)}, true);
    hid_t root = H5Gcreate2(file, "/model_weights", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    std::vector<std::string> names;
    for (const auto& l : layers) {
        if (l.weights.empty()) continue;
        const std::string name = l.name.toStdString();
        names.push_back(name);
        hid_t outer = H5Gcreate2(root, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        hid_t inner = H5Gcreate2(outer, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        std::vector<std::string> weightNames;
        for (const auto& [weight, shape] : l.weights) {
            weightNames.push_back(name + "/" + weight + ":0");
            std::vector<hsize_t> dims(shape.begin(), shape.end());
            writeDataset(inner, weight + ":0", dims, kerasValues(weight, shape, rng));
        }
        writeStrings(outer, "weight_names", weightNames, false);
        H5Gclose(inner);
        H5Gclose(outer);
    }
    writeStrings(root, "layer_names", names, false);
    H5Gclose(root);
    H5Fclose(file);
}

void writeGarbage(const std::string& path)
{
    std::ofstream f(path, std::ios::binary);
    for (int i = 0; i < 4096; ++i) f.put(static_cast<char>((i * 37) & 0xff));
}

}  // namespace cle::test
