#pragma once
// What each fuzz target does with one input, shared by the libFuzzer programs and the regression
// test that replays the corpus and every input that once failed. Each returns normally for any
// input; a crash, a sanitizer report or an exception other than cle::core::Error is a finding.
#include <cstddef>
#include <cstdint>

namespace cle::fuzz {

/// The bytes as an HDF5 weight file: inspect, load, find pairs, equalize the suggestions a few
/// sweeps, export.
void weightFile(const std::uint8_t* data, std::size_t size);
/// The bytes as the model_config of a Keras 2 file with real weights: inspect, find pairs.
void kerasConfig(const std::uint8_t* data, std::size_t size);
/// The bytes as an ONNX model (`.onnx`): inspect, load, find pairs, compile its network,
/// equalize the suggestions a few sweeps, export.
void onnxFile(const std::uint8_t* data, std::size_t size);
/// The bytes as a pair list ("a,b;c,d") and as a pairs file (JSON).
void pairsFile(const std::uint8_t* data, std::size_t size);
/// The bytes as layer names (any bytes, not only UTF-8) in a run report.
void report(const std::uint8_t* data, std::size_t size);

}  // namespace cle::fuzz
