// The bounded history of recorded states: evenly thinned, exact where kept.
#include <algorithm>

#include "cle/core/equalizer.h"

namespace cle::core {

namespace {

// Keeps the entries of `v` whose `keep` flag is set, in order (only a vector of the same length:
// a history that recorded nothing, such as a pair added later, is left alone).
template <typename T>
void compact(std::vector<T>& v, const std::vector<bool>& keep) {
    if (v.size() != keep.size()) return;
    size_t to = 0;
    for (size_t i = 0; i < v.size(); ++i)
        if (keep[i]) {
            if (to != i) v[to] = std::move(v[i]);
            ++to;
        }
    v.resize(to);
}

void compactAll(Summary& s, const std::vector<bool>& keep) {
    for (auto& p : s.pairs) compact(p.states, keep);
    for (auto& r : s.regions) compact(r.states, keep);
    compact(s.stateSweeps, keep);
}

}  // namespace

int Summary::stateSweep(size_t index) const {
    return index < stateSweeps.size() ? stateSweeps[index] : int(index);
}

size_t Summary::stateIndex(int sweep) const {
    if (stateSweeps.empty()) return size_t(std::max(sweep, 0));
    const auto it = std::upper_bound(stateSweeps.begin(), stateSweeps.end(), sweep);
    return it == stateSweeps.begin() ? 0 : size_t(it - stateSweeps.begin()) - 1;
}

void recordStateSweep(Summary& s, int sweep, size_t limit) {
    limit = std::max<size_t>(limit, 3);
    s.stateSweeps.push_back(sweep);
    const size_t n = s.stateSweeps.size();
    // The state before was kept only as the newest: a newer one replaces it.
    if (n >= 3 && s.stateSweeps[n - 2] % s.stateStride != 0) {
        std::vector<bool> keep(n, true);
        keep[n - 2] = false;
        compactAll(s, keep);
    }
    while (s.stateSweeps.size() > limit) {
        s.stateStride *= 2;
        const size_t m = s.stateSweeps.size();
        std::vector<bool> keep(m);
        for (size_t i = 0; i < m; ++i)
            keep[i] = i == 0 || i + 1 == m || s.stateSweeps[i] % s.stateStride == 0;
        compactAll(s, keep);
    }
}

}  // namespace cle::core
