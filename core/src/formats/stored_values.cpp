#include "cle/core/stored_values.h"

#include <Eigen/Core>

namespace cle::core {

namespace {

void round(std::vector<float>& values, DType type) {
    if (type == DType::Float16)
        for (float& v : values) v = static_cast<float>(Eigen::half(v));
    else if (type == DType::BFloat16)
        for (float& v : values) v = static_cast<float>(Eigen::bfloat16(v));
}

DType biasType(const LayerInfo& info) { return info.hasBias() ? info.biasDtype : info.dtype; }

int width(DType type) { return type == DType::Float16 || type == DType::BFloat16 ? 16 : 32; }

}  // namespace

void roundToStorage(std::vector<Layer>& layers) {
    for (Layer& l : layers) {
        round(l.weight.values, l.info.dtype);
        if (l.bias) round(l.bias->values, biasType(l.info));
    }
}

std::string narrowStorage(const std::vector<Layer>& layers) {
    std::string narrowest;
    for (const Layer& l : layers)
        for (DType t : {l.info.dtype, biasType(l.info)})
            if (width(t) < 32 && (narrowest.empty() || t == DType::BFloat16))
                narrowest = toString(t);
    return narrowest;
}

}  // namespace cle::core
