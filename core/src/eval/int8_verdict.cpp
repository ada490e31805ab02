#include "cle/core/int8_verdict.h"

#include <cmath>
#include <cstdio>

namespace cle::core {

Int8Verdict int8Verdict(const Verification& v) {
    const bool relaxed = v.relaxedPerTensorOriginalDb && v.relaxedPerTensorCandidateDb;
    const double before = relaxed ? *v.relaxedPerTensorOriginalDb : v.perTensorOriginalDb;
    const double after = relaxed ? *v.relaxedPerTensorCandidateDb : v.perTensorCandidateDb;
    Int8Verdict verdict;
    verdict.gainDb = after - before;
    if (!std::isfinite(before) || !std::isfinite(after)) {
        // An infinite SQNR is an exact INT8 output; a NaN is no figure at all.
        if (std::isnan(before) || std::isnan(after) || before == after) return verdict;
        verdict.change = after > before ? Int8Change::Better : Int8Change::Worse;
        return verdict;
    }
    if (verdict.gainDb > kInt8VerdictMarginDb)
        verdict.change = Int8Change::Better;
    else if (verdict.gainDb < -kInt8VerdictMarginDb)
        verdict.change = Int8Change::Worse;
    return verdict;
}

std::string int8VerdictText(const Verification& v) {
    const Int8Verdict verdict = int8Verdict(v);
    char db[32];
    std::snprintf(db, sizeof db, "%.1f", std::fabs(verdict.gainDb));
    char margin[32];
    std::snprintf(margin, sizeof margin, "%g", kInt8VerdictMarginDb);
    const std::string inputs = v.inputSource == "file" ? "on these inputs" : "on random inputs";
    switch (verdict.change) {
        case Int8Change::Better:
            return std::string("INT8 output ") + db +
                   " dB closer to the float network than the original's (weights per tensor, " +
                   inputs + ")";
        case Int8Change::Unchanged:
            return "INT8 output as close to the float network as the original's (a change under " +
                   std::string(margin) + " dB, weights per tensor, " + inputs +
                   "): equalization gains nothing here";
        case Int8Change::Worse:
            break;
    }
    return std::string("INT8 output ") + db +
           " dB further from the float network than the original's (weights per tensor, " + inputs +
           "): the original weights quantize better" +
           (v.inputSource == "file" ? "" : "; check with representative inputs");
}

}  // namespace cle::core
