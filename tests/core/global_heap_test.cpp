// Variable-length strings (a Keras model_config written from Python, layer and weight names) live
// in HDF5's global heap, whose records HDF5 1.10 trusts. A damaged record is refused with a
// sentence naming the file before HDF5 reads it: HDF5 itself would copy what the record claims
// (a crash), loop forever on a free-space record of size 0, or read past the collection.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "cle/core/error.h"
#include "cle/core/weight_file.h"
#include "cli_runner.h"
#include "hdf5/h5.h"
#include "hostile_files.h"

using namespace cle;
using test::contains;

namespace {

std::vector<std::string> readStrings(const std::string& path, const std::string& name,
                                     bool inMemory = false) {
    core::h5::Handle fapl(H5Pcreate(H5P_FILE_ACCESS));
    if (inMemory) H5Pset_fapl_core(fapl.get(), 1 << 20, 0);
    core::h5::Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()));
    EXPECT_TRUE(file.valid()) << path;
    return core::h5::readStringsAttribute(file.get(), name);
}

// A file whose root holds `name`: variable-length strings (nullptr: a null string).
void writeStrings(const std::string& path, const std::string& name,
                  const std::vector<const char*>& values, hsize_t userblock = 0,
                  bool scalar = false, size_t sizes = 0) {
    core::h5::Handle fcpl(H5Pcreate(H5P_FILE_CREATE));
    if (userblock) H5Pset_userblock(fcpl.get(), userblock);
    if (sizes) H5Pset_sizes(fcpl.get(), sizes, sizes);
    core::h5::Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, fcpl.get(), H5P_DEFAULT));
    core::h5::Handle type(H5Tcopy(H5T_C_S1));
    H5Tset_size(type.get(), H5T_VARIABLE);
    hsize_t n = values.size();
    core::h5::Handle space(scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &n, nullptr));
    core::h5::Handle attr(
        H5Acreate2(file.get(), name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
    ASSERT_GE(H5Awrite(attr.get(), type.get(), values.data()), 0);
}

class GlobalHeap : public test::Hostile {
protected:
    // The file's bytes and the offset of its (first) global heap collection.
    std::string data;
    size_t heap = 0;

    void load() {
        data = test::bytes(in);
        heap = data.find("GCOL");
        ASSERT_NE(heap, std::string::npos);
    }
    void put(size_t at, std::uint64_t value, size_t n) {
        for (size_t i = 0; i < n; ++i) data[at + i] = char((value >> (8 * i)) & 0xff);
    }
    void save() { std::ofstream(in, std::ios::binary | std::ios::trunc) << data; }
    // Expects reading model_config to be refused with `why` in the sentence, naming the file.
    void expectRefused(const std::string& why) {
        try {
            readStrings(in, "model_config");
            FAIL() << "read without complaint";
        } catch (const core::Error& e) {
            EXPECT_TRUE(contains(e.what(), in)) << e.what();
            EXPECT_TRUE(contains(e.what(), "damaged")) << e.what();
            EXPECT_TRUE(contains(e.what(), why)) << e.what();
        }
    }
    // One string "abc": record 1 at heap + 16 (header 16, size 3 padded to 8), then free space.
    static constexpr size_t kRecord = 16, kFree = 16 + 16 + 8;
};

TEST_F(GlobalHeap, SoundStringsReadAsWritten) {
    writeStrings(in, "names", {"ab", "", nullptr, "cde"});
    EXPECT_EQ(readStrings(in, "names"), (std::vector<std::string>{"ab", "", "", "cde"}));
    EXPECT_EQ(readStrings(in, "names", true), (std::vector<std::string>{"ab", "", "", "cde"}));

    // Addresses are relative to the end of a user block.
    writeStrings(in, "model_config", {"{\"class_name\": \"Model\"}"}, 512, true);
    EXPECT_EQ(readStrings(in, "model_config"),
              (std::vector<std::string>{"{\"class_name\": \"Model\"}"}));

    // Addresses and lengths of 2 and 4 bytes (headers padded to 8).
    for (size_t sizes : {2, 4}) {
        writeStrings(in, "names", {"ab", "", nullptr, "cde"}, 0, false, sizes);
        EXPECT_EQ(readStrings(in, "names"), (std::vector<std::string>{"ab", "", "", "cde"}));
    }

    // Several collections, and a string larger than a collection's minimum.
    std::vector<std::string> many;
    for (int i = 0; i < 3000; ++i) many.push_back("layer_" + std::to_string(i) + "/kernel:0");
    many.push_back(std::string(200000, 'x'));
    std::vector<const char*> ptrs;
    for (const auto& s : many) ptrs.push_back(s.c_str());
    writeStrings(in, "names", ptrs);
    EXPECT_EQ(readStrings(in, "names"), many);
}

TEST_F(GlobalHeap, ARecordClaimingTerabytesIsRefused) {
    writeStrings(in, "model_config", {"abc"}, 0, true);
    load();
    put(heap + kRecord + 8, 0x13e100005e514ull, 8);  // HDF5 copied this many bytes: a crash
    save();
    expectRefused("whose record at byte " + std::to_string(heap + kRecord) + " is damaged");
}

TEST_F(GlobalHeap, ARecordIndexHeldTwiceIsRefused) {
    {  // two attributes in one collection: "abc" (record 1) and "xyz" (record 2)
        core::h5::Handle file(H5Fcreate(in.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT));
        core::h5::Handle type(H5Tcopy(H5T_C_S1));
        H5Tset_size(type.get(), H5T_VARIABLE);
        core::h5::Handle space(H5Screate(H5S_SCALAR));
        for (const char* name : {"model_config", "other"}) {
            core::h5::Handle attr(
                H5Acreate2(file.get(), name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT));
            const char* value = name[0] == 'm' ? "abc" : "xyz";
            ASSERT_GE(H5Awrite(attr.get(), type.get(), &value), 0);
        }
    }
    load();
    put(heap + kRecord + 16 + 8, 1, 2);  // record 2 claims index 1: model_config read "xyz"
    save();
    expectRefused("that holds record 1 twice");
}

TEST_F(GlobalHeap, AFreeSpaceRecordOfSizeZeroIsRefused) {
    writeStrings(in, "model_config", {"abc"}, 0, true);
    load();
    put(heap + kFree + 8, 0, 8);  // HDF5 walks the collection forever
    save();
    expectRefused("whose record at byte " + std::to_string(heap + kFree) + " is damaged");
}

TEST_F(GlobalHeap, ACollectionLargerThanTheFileIsRefused) {
    writeStrings(in, "model_config", {"abc"}, 0, true);
    load();
    put(heap + 8, data.size() - heap + 8, 8);
    save();
    expectRefused("claims " + std::to_string(data.size() - heap + 8) +
                  " bytes, more than the file holds");
}

TEST_F(GlobalHeap, ACollectionLargerThanAnyStringNeedsIsNotRead) {
    writeStrings(in, "model_config", {"abc"}, 0, true);
    load();
    put(heap + 8, 300ull << 20, 8);
    save();
    std::filesystem::resize_file(in, heap + (300ull << 20) + 16);  // the file does hold them
    expectRefused("more than the strings read from weight files need (256 MiB)");
}

TEST_F(GlobalHeap, AStringPointingAtSomethingElseIsRefused) {
    writeStrings(in, "model_config", {"abc"}, 0, true);
    load();
    data[heap + 3] = 'X';
    save();
    expectRefused("where no global heap collection starts");
}

TEST_F(GlobalHeap, ARecordShorterThanItsStringIsRefused) {
    writeStrings(in, "model_config", {"abc"}, 0, true);
    load();
    put(heap + kRecord + 8, 2, 8);  // HDF5 would leave a byte of the string unset
    save();
    expectRefused("is 3 bytes long but its record holds 2");
}

TEST_F(GlobalHeap, AStringNamingAMissingRecordIsRefused) {
    writeStrings(in, "model_config", {"abc"}, 0, true);
    load();
    put(heap + kRecord, 7, 2);  // the string names record 1; the collection now holds 7
    save();
    expectRefused("names record 1 of the global heap collection");
}

TEST_F(GlobalHeap, CharactersOfMoreThanOneByteAreRefused) {
    writeStrings(in, "model_config", {"abc"}, 0, true);
    data = test::bytes(in);
    // The string's datatype message: variable-length (class 9) of 16 bytes stored, whose
    // character type (class 0) has size 1. HDF5 reads length x that size per string: a claim of
    // 4 GiB per character made it clear gigabytes for a 5-character string.
    size_t character = std::string::npos;
    for (size_t i = 0; i + 16 <= data.size() && character == std::string::npos; ++i)
        if (data[i] == 0x19 && data.compare(i + 4, 4, std::string("\x10\0\0\0", 4)) == 0 &&
            data[i + 8] == 0x10 && data.compare(i + 12, 4, std::string("\x01\0\0\0", 4)) == 0)
            character = i + 12;
    ASSERT_NE(character, std::string::npos);
    put(character, 0xffffffffu, 4);
    save();
    expectRefused("its characters are 4294967295 bytes each, not one");
}

TEST_F(GlobalHeap, TheCommandLineSaysSoAndExitsOne) {
    writeStrings(in, "model_config", {"abc"}, 0, true);
    load();
    put(heap + kFree + 8, 0, 8);
    save();
    auto r = test::runCle({"inspect", in});
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_TRUE(contains(r.err, "cannot read the attribute 'model_config'")) << r.err;
}

}  // namespace
