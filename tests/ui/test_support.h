#pragma once
#include <QTemporaryDir>
// Helpers for the desktop application tests: a Prompter that never opens a dialog, a synthetic
// weight file written with the HDF5 C API, and raw dataset comparison.
#include <map>
#include <string>
#include <vector>

#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <QSize>

#include <memory>

#include "ui/main_window.h"
#include "ui/prompter.h"

namespace cle::test {

class FakePrompter : public ui::Prompter {
public:
    void error(QWidget*, const QString& title, const QString& text) override;
    bool confirm(QWidget*, const QString& title, const QString& text) override;
    void information(QWidget*, const QString& title, const QString& text) override;
    QString openFileName(QWidget*, const QString&, const QString&) override;
    QString saveFileName(QWidget*, const QString&, const QString&, const QString&) override;

    static QStringList errors;
    static QStringList confirmations;
    static QStringList informations;  ///< "title: text"
    static bool confirmAnswer;
    static QString nextFileName;
};

/// Writes a PyTorch-style state dict of `layers` Linear layers of size n x n (weight and bias,
/// float32) with strongly imbalanced output channels.
/// What every GUI test program does first: settings in `dir` (never the user's), the test's own
/// application name, and the FakePrompter in place of dialogs.
void isolateTestProgram(const QTemporaryDir& dir, const char* applicationName);

/// A shown main window (of `size` when valid) with `path` loaded; null when loading failed or
/// took longer than a minute.
std::unique_ptr<ui::MainWindow> openWindow(const QString& path, QSize size = {});

void writeLinearChain(const std::string& path, int layers, int n, unsigned seed = 7);

/// One layer of a Keras functional model for writeKerasModel().
struct KerasLayer {
    QString cls;  ///< "Conv2D", "BatchNormalization", "ReLU", "Add", ...
    QString name;
    QJsonObject config;  ///< besides "name", e.g. {"filters": 8, "activation": "linear"}
    QStringList inputs;  ///< inbound layers; empty: the previous layer (none for the first)
    /// Weights in Keras order, e.g. {"kernel", {3, 3, 4, 8}}, {"bias", {8}}.
    std::vector<std::pair<std::string, std::vector<long long>>> weights;
};

/// Writes a legacy Keras 2 .h5 file: the model_config JSON of a functional model (the first
/// layer is the input, the last one the output) as a root attribute, and random weights under
/// /model_weights/<layer>/<layer>/<weight>:0 with layer_names / weight_names. Kernels get
/// imbalanced output channels; batch-norm variances are positive.
void writeKerasModel(const std::string& path, const std::vector<KerasLayer>& layers,
                     unsigned seed = 3);

/// Every dataset of an HDF5 file as raw bytes in its stored type, by path.
std::map<std::string, std::vector<unsigned char>> readAllDatasets(const std::string& path);

/// Writes bytes that are not an HDF5 file.
void writeGarbage(const std::string& path);

}  // namespace cle::test
