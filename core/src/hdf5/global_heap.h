#pragma once
// HDF5 1.10 keeps variable-length strings in global heap collections and trusts their records: a
// damaged record makes H5Aread copy what the record claims (terabytes: a crash), or loop forever
// (a free-space record of size 0). Before such an attribute is read, checkVariableStrings reads
// its stored form (per element: length and heap location, without following them) and checks
// every collection it points to against the file's own bytes, as HDF5 would walk it.
#include <hdf5.h>

#include <cstdint>
#include <string>

namespace cle::core::h5 {

/// Throws an input Error naming the file and the attribute `name` when an element of the
/// variable-length string attribute `attr` points outside the file, into something that is not a
/// global heap collection, into a damaged collection, or to a record whose size is not the
/// element's length. Returns when HDF5 can read every element safely.
void checkVariableStrings(hid_t attr, const std::string& name);

/// The number of bytes of the file holding `obj` as HDF5 reads it (its length on disk, or its
/// memory image's); 0 when unknown.
std::uint64_t storedBytes(hid_t obj);

/// Throws an input Error naming the file when the attribute `attr` (named `name`) claims more
/// bytes (elements times their stored size) than the whole file holds: HDF5 1.10 allocates and
/// converts what the claim says (gigabytes from a file of kilobytes).
void checkAttributeSize(hid_t attr, const std::string& name);

/// Before H5Ocopy of the object at `path` below `loc` (which copies every variable-length string
/// it holds through the global heap): checks every attribute of it and of the objects below it
/// (hard links only, each object once, at most `maxDepth` levels) as above, and throws an input
/// Error naming `file` for variable-length data other than strings (in attributes or datasets).
void checkBeforeCopy(hid_t loc, const std::string& path, int maxDepth, const std::string& file);

}  // namespace cle::core::h5
