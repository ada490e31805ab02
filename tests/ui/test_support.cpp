#include "test_support.h"

#include <cmath>
#include <fstream>
#include <random>
#include <stdexcept>

#include <hdf5.h>

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

void writeGarbage(const std::string& path)
{
    std::ofstream f(path, std::ios::binary);
    for (int i = 0; i < 4096; ++i) f.put(static_cast<char>((i * 37) & 0xff));
}

}  // namespace cle::test
