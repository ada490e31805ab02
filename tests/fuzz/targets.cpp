#include "targets.h"

#include <hdf5.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "cle/core/equalizer.h"
#include "cle/core/error.h"
#include "cle/core/evaluator.h"
#include "cle/core/exporter.h"
#include "cle/core/layer_graph.h"
#include "cle/core/model.h"
#include "cle/core/pairs.h"
#include "cle/core/report.h"
#include "cle/core/run_plan.h"
#include "cle/core/topology.h"

// Two faults of HDF5 1.10.8 itself on damaged files, which would otherwise stop every run here:
// - it allocates what a file claims (a metadata entry of 2^63 bytes, say) and handles the failure;
//   under AddressSanitizer such a request must fail the same way, not end the process
//   (allocations of ours beyond -malloc_limit_mb are still reported by libFuzzer);
// - it copies and compares group members' names with strdup() and strcmp() when a name in a
//   damaged local heap has no terminator (H5G__ent_to_link, the symbol table's B-tree lookup),
//   reading past the heap block: replace_str=0 and intercept_strcmp=0 stop AddressSanitizer from
//   checking the reads of the C string functions (the code here uses std::string).
extern "C" const char* __asan_default_options() {
    return "allocator_may_return_null=1:replace_str=0:intercept_strcmp=0";
}
// The same first fault under ThreadSanitizer (tests/sanitizers/tsan.supp covers the second).
extern "C" const char* __tsan_default_options() { return "allocator_may_return_null=1"; }

namespace cle::fuzz {

namespace {

namespace fs = std::filesystem;

// A private scratch directory for this process, removed at exit.
class Scratch {
public:
    Scratch() {
        std::string tmpl = (fs::temp_directory_path() / "cle-fuzz-XXXXXX").string();
        if (!mkdtemp(tmpl.data())) std::abort();
        dir_ = tmpl;
    }
    ~Scratch() {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    std::string file(const std::string& name) const { return (dir_ / name).string(); }

private:
    fs::path dir_;
};

const Scratch& scratch() {
    static Scratch s;
    return s;
}

std::string writeFile(const std::string& name, const std::uint8_t* data, std::size_t size) {
    std::string path = scratch().file(name);
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(data), std::streamsize(size));
    return path;
}

// Everything `cle equalize --auto --accept-guesses` does, bounded to a few sweeps.
void run(const std::string& path) {
    core::Model model = core::loadModel(path);
    core::Topology topology = core::Topology::build(model.info);
    (void)core::planJson(topology.suggest(true));
    core::RunPlan plan = core::planSuggested(model.info, topology, true, true);
    (void)core::relu6Costs(model.info, plan);
    core::foldBatchNorms(model, plan);
    core::EqualizeResult result = core::equalize(model, plan.pairs, {1e-4, 5, 1});
    std::string out = scratch().file("out.h5");
    std::error_code ec;
    fs::remove(out, ec);
    core::exportWeights(path, result.layers, out,
                        {true, nullptr, core::exportExtras(model.info, plan, result.layers)});
    (void)core::reportJson(model.info, result.summary, {}, {&plan, nullptr, nullptr});
}

void inspectAndRun(const std::string& path) {
    try {
        core::ModelInfo info = core::inspectFile(path);
        (void)core::Topology::build(info).suggest(false);
        run(path);
    } catch (const core::Error&) {
        // an expected refusal, with its sentence
    }
}

// The bundled sample, copied once: the weights the fuzzed model_config describes.
const std::string& kerasTemplate() {
    static const std::string path = [] {
        std::string p = scratch().file("template.h5");
        fs::copy_file(CLE_FUZZ_KERAS_TEMPLATE, p, fs::copy_options::overwrite_existing);
        fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::add);
        return p;
    }();
    return path;
}

void setModelConfig(const std::string& path, const std::string& text) {
    hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
    if (file < 0) std::abort();
    if (H5Aexists(file, "model_config") > 0) H5Adelete(file, "model_config");
    hid_t type = H5Tcopy(H5T_C_S1);
    H5Tset_size(type, H5T_VARIABLE);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = H5Acreate2(file, "model_config", type, space, H5P_DEFAULT, H5P_DEFAULT);
    const char* ptr = text.c_str();
    H5Awrite(attr, type, &ptr);
    H5Aclose(attr);
    H5Sclose(space);
    H5Tclose(type);
    H5Fclose(file);
}

}  // namespace

void weightFile(const std::uint8_t* data, std::size_t size) {
    inspectAndRun(writeFile("in.h5", data, size));
}

void onnxFile(const std::uint8_t* data, std::size_t size) {
    const std::string path = writeFile("in.onnx", data, size);
    inspectAndRun(path);
    try {
        core::Model model = core::loadModel(path);
        (void)core::readLayerGraph(model.info);
        (void)core::Network::load(path, model);
    } catch (const core::Error&) {
    }
}

void kerasConfig(const std::uint8_t* data, std::size_t size) {
    std::string path = scratch().file("config.h5");
    fs::copy_file(kerasTemplate(), path, fs::copy_options::overwrite_existing);
    // The attribute is a C string: the text ends at the first NUL, as HDF5 would store it.
    std::string text(reinterpret_cast<const char*>(data), size);
    text = text.substr(0, text.find('\0'));
    setModelConfig(path, text);
    inspectAndRun(path);
}

void pairsFile(const std::uint8_t* data, std::size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    try {
        (void)core::expandGroups(core::parseGroups(text));
    } catch (const core::Error&) {
    }
    try {
        (void)core::expandGroups(core::readGroupsFile(writeFile("pairs.json", data, size)));
    } catch (const core::Error&) {
    }
}

void report(const std::uint8_t* data, std::size_t size) {
    std::string text(reinterpret_cast<const char*>(data), size);
    core::ModelInfo info;
    info.path = text;
    core::Summary summary;
    summary.sweeps = 1;
    summary.deltas = {1.f};
    core::RunPlan plan;
    for (size_t start = 0; start < text.size();) {
        size_t end = std::min(text.find('\n', start), text.size());
        std::string a = text.substr(start, end - start);
        core::PairHistory h;
        h.first = a;
        h.second = a + "'";
        h.states.assign(2, core::RangeState{{1.f, 0.f}, {2.f, 0.f}});
        h.scale = {1.f, 1.f};
        summary.pairs.push_back(h);
        plan.pairs.emplace_back(h.first, h.second);
        plan.relu6.push_back(a);
        plan.skipped.push_back({{a, h.second}, a});
        start = end + 1;
    }
    (void)core::reportJson(info, summary, {}, {&plan, nullptr, nullptr});
}

}  // namespace cle::fuzz
