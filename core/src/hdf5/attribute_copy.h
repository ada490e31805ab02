#pragma once
// H5Ocopy in HDF5 1.10 crashes (a null conversion callback in H5T__conv_vlen) when an object it
// copies keeps its attributes in dense storage (more than 8, with creation order tracked, or
// large ones) and one of them holds variable-length strings. Such a tree is copied without its
// attributes and the attributes are then written one by one.
#include <hdf5.h>

#include <string>

namespace cle::core::h5 {

/// Copies the object at `path` below `src` to the same path below `dst`, with the objects below it
/// and every attribute. Variable-length strings must have been checked (checkBeforeCopy). Throws
/// an input Error naming `file` when HDF5 cannot copy it.
void copyObject(hid_t src, hid_t dst, const std::string& path, const std::string& file);

}  // namespace cle::core::h5
