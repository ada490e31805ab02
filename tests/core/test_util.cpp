#include "test_util.h"

#include <stdlib.h>

#include <filesystem>
#include <random>

#include "hdf5/h5.h"

namespace cle::test {

std::string dataPath(const std::string& relative) {
    return std::string(CLE_TEST_DATA_DIR) + "/" + relative;
}
std::string samplePath(const std::string& relative) {
    return std::string(CLE_SAMPLE_DIR) + "/" + relative;
}

TempDir::TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "cle-test-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> TempDir::entries() const {
    std::vector<std::string> out;
    for (const auto& e : std::filesystem::directory_iterator(path_))
        out.push_back(e.path().filename().string());
    return out;
}

H5Writer::H5Writer(const std::string& path) {
    file_ = H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file_ < 0) throw std::runtime_error("cannot create " + path);
}

H5Writer::~H5Writer() { H5Fclose(file_); }

namespace {
hid_t linkCreation() {
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    return lcpl;
}
}  // namespace

void H5Writer::dataset(const std::string& path, const std::vector<std::int64_t>& shape,
                       const std::vector<double>& values, hid_t fileType, bool chunked) {
    std::vector<hsize_t> dims(shape.begin(), shape.end());
    hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunked) {
        H5Pset_chunk(dcpl, int(dims.size()), dims.data());
        H5Pset_deflate(dcpl, 4);
    }
    hid_t lcpl = linkCreation();
    hid_t d = H5Dcreate2(file_, path.c_str(), fileType, space, lcpl, dcpl, H5P_DEFAULT);
    if (d < 0) throw std::runtime_error("cannot create dataset " + path);
    H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    H5Dclose(d);
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    H5Sclose(space);
}

void H5Writer::intDataset(const std::string& path, const std::vector<std::int64_t>& shape) {
    std::vector<hsize_t> dims(shape.begin(), shape.end());
    hsize_t n = 1;
    for (auto d : dims) n *= d;
    std::vector<int> values(n, 1);
    hid_t space = H5Screate_simple(int(dims.size()), dims.data(), nullptr);
    hid_t lcpl = linkCreation();
    hid_t d = H5Dcreate2(file_, path.c_str(), H5T_STD_I32LE, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
    H5Dclose(d);
    H5Pclose(lcpl);
    H5Sclose(space);
}

void H5Writer::group(const std::string& path) {
    hid_t lcpl = linkCreation();
    hid_t g = H5Gcreate2(file_, path.c_str(), lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    H5Pclose(lcpl);
}

void H5Writer::strings(const std::string& object, const std::string& name,
                       const std::vector<std::string>& values, bool variableLength, bool scalar) {
    hid_t obj = H5Oopen(file_, object.c_str(), H5P_DEFAULT);
    hid_t type = H5Tcopy(H5T_C_S1);
    hsize_t n = values.size();
    hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr);
    if (variableLength) {
        H5Tset_size(type, H5T_VARIABLE);
        std::vector<const char*> ptrs;
        for (const auto& v : values) ptrs.push_back(v.c_str());
        hid_t a = H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, type, ptrs.data());
        H5Aclose(a);
    } else {
        size_t width = 1;
        for (const auto& v : values) width = std::max(width, v.size());
        H5Tset_size(type, width);
        H5Tset_strpad(type, H5T_STR_NULLPAD);
        std::vector<char> buf(width * values.size(), '\0');
        for (size_t i = 0; i < values.size(); ++i)
            std::copy(values[i].begin(), values[i].end(), buf.begin() + long(i * width));
        hid_t a = H5Acreate2(obj, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, type, buf.data());
        H5Aclose(a);
    }
    H5Sclose(space);
    H5Tclose(type);
    H5Oclose(obj);
}

hid_t halfType() {
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_ebias(t, 15);
    return t;
}

std::vector<double> randomValues(std::size_t n, double scale, unsigned seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<double> dist(-scale, scale);
    std::vector<double> v(n);
    for (auto& x : v) x = dist(gen);
    return v;
}

std::vector<float> readFloats(const std::string& file, const std::string& dataset) {
    return core::readDataset(file, dataset).values;
}

std::string readRootString(const std::string& file, const std::string& attribute) {
    auto f = core::h5::openFile(file, false);
    core::h5::Handle root(H5Gopen2(f.get(), "/", H5P_DEFAULT));
    auto v = core::h5::readStringsAttribute(root.get(), attribute);
    return v.empty() ? std::string() : v.front();
}

std::vector<unsigned char> rawBytes(const std::string& file, const std::string& dataset) {
    hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, dataset.c_str(), H5P_DEFAULT);
    hid_t type = H5Dget_type(d);
    hid_t space = H5Dget_space(d);
    std::vector<unsigned char> buf(size_t(H5Sget_simple_extent_npoints(space)) * H5Tget_size(type));
    H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
    H5Sclose(space);
    H5Tclose(type);
    H5Dclose(d);
    H5Fclose(f);
    return buf;
}

std::vector<double> kerasConv(const std::vector<double>& x, long h, long w, const core::Tensor& k,
                              const core::Tensor& b) {
    long kh = k.shape[0], kw = k.shape[1], in = k.shape[2], out = k.shape[3];
    long oh = h - kh + 1, ow = w - kw + 1;
    std::vector<double> y(size_t(oh * ow * out), 0.0);
    for (long i = 0; i < oh; ++i)
        for (long j = 0; j < ow; ++j)
            for (long o = 0; o < out; ++o) {
                double s = b.values[size_t(o)];
                for (long a = 0; a < kh; ++a)
                    for (long c = 0; c < kw; ++c)
                        for (long n = 0; n < in; ++n)
                            s += x[size_t(((i + a) * w + j + c) * in + n)] *
                                 k.values[size_t(((a * kw + c) * in + n) * out + o)];
                y[size_t((i * ow + j) * out + o)] = s;
            }
    return y;
}

}  // namespace cle::test
