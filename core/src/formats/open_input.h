#pragma once
// Opening an input weight file, whatever its container: an HDF5 file, a Keras archive (.keras,
// read as its weights with its graph) or a sharded set (.weights.json).
#include <string>

#include "hdf5/h5.h"

namespace cle::core::h5 {

/// Opens an HDF5 file or throws an Error saying in one sentence why it cannot be opened (missing,
/// a directory, a Git LFS pointer, not HDF5, truncated or damaged). Archives and sharded sets are
/// opened read-only; `writable` is for plain HDF5 files.
Handle openExisting(const std::string& path, bool writable);

}  // namespace cle::core::h5
