// What the main window shows of a run's result: the plots, the Quantization tab, the layer
// channels, and the network check started after every run.
#include <optional>

#include <QComboBox>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>

#include "ui/graph_view.h"
#include "ui/layer_table_model.h"
#include "ui/layers_panel.h"
#include "ui/loss_reasons.h"
#include "ui/main_window.h"
#include "ui/pair_view.h"
#include "ui/plots/channel_stats_plot.h"
#include "ui/quantization_view.h"
#include "ui/run_panel.h"
#include "ui/session.h"
#include "ui/verification_panel.h"
#include "ui/verify_job.h"

namespace cle::ui {

void MainWindow::onRunFinished() {
    exported_ = false;
    const core::Summary* s = session_->summary();
    pairView_->setSummary(s, false);
    runPanel_->finished(*s, session_->runSeconds(), session_->plan(), session_->quantization(),
                        session_->relu6Costs(), session_->absorbed());
    showQuantization(session_->quantization());
    comparison_ = {};  // shown once, for the run right after the pair was dropped
    layersPanel_->tableModel()->setEqualizedImbalance(session_->equalizedImbalance());
    layersPanel_->view()->resizeColumnToContents(LayerTableModel::Equalized);
    showLayerChannels(channelPlot_->layerName());
    statusBar()->showMessage(s->converged
                                 ? tr("Run converged after %n sweep(s)", nullptr, s->sweeps)
                                 : tr("Run did not converge"),
                             8000);
}

void MainWindow::connectVerification() {
    verifyJob_ = new VerifyJob(this);
    connect(session_, &Session::runFinished, this, &MainWindow::startVerification);
    connect(session_, &Session::runStarted, this, &MainWindow::stopVerification);
    connect(session_, &Session::modelLoaded, this, &MainWindow::stopVerification);
    connect(verificationPanel_, &VerificationPanel::cancelRequested, verifyJob_,
            &VerifyJob::cancel);
    connect(verificationPanel_, &VerificationPanel::inputsChanged, this,
            &MainWindow::startVerification);
    connect(verifyJob_, &VerifyJob::finished, this, [this] {
        VerifyOutcome out = verifyJob_->takeOutcome();
        if (out.result)
            verificationPanel_->finished(*out.result);
        else if (out.unsupported)
            verificationPanel_->unsupported(out.error);
        else if (!out.cancelled)
            verificationPanel_->failed(out.error);
        else if (session_->hasResult())
            verificationPanel_->cancelled();
        else
            verificationPanel_->clear();
    });
}

void MainWindow::startVerification() {
    if (!session_->hasResult() || !session_->model()) return;
    auto model = session_->model();
    auto result = session_->result();
    VerifyInput input{std::shared_ptr<const core::Model>(model, &model->model),
                      std::shared_ptr<const core::RunOutcome>(result, &result->outcome),
                      verificationPanel_->inputsFile()};
    verificationPanel_->started();
    verifyJob_->start(std::move(input));
}

void MainWindow::stopVerification() {
    verifyJob_->cancel();
    verificationPanel_->clear();
}

QString MainWindow::dropPairAndRun(const QString& first, const QString& second) {
    const core::QuantizationReport* q = session_->quantization();
    if (!q) return tr("Run an equalization first.");
    if (!session_->pairList()->dropPair(first.toStdString(), second.toStdString()))
        return tr("The pair %1 → %2 is not among the accepted groups.").arg(first, second);
    comparison_ = {std::make_shared<core::QuantizationReport>(*q),
                   QStringLiteral("%1 → %2").arg(first, second)};
    const QString why = runNow();
    if (!why.isEmpty()) comparison_ = {};
    return why;
}

namespace {

QString comparisonText(const core::QuantizationReport& before,
                       const core::QuantizationReport& after, const QString& pair) {
    const auto db = [](double v) { return QString::number(v, 'f', 1); };
    return QObject::tr(
               "Without %1: per-tensor median %2 dB (was %3), worst %4 dB (was %5), "
               "weighted mean %6 dB (was %7).")
        .arg(pair, db(after.perTensorAfter.median), db(before.perTensorAfter.median),
             db(after.perTensorAfter.worst), db(before.perTensorAfter.worst),
             db(after.perTensorAfter.weightedMean), db(before.perTensorAfter.weightedMean));
}

}  // namespace

void MainWindow::showQuantization(const core::QuantizationReport* report) {
    quantizationView_->setReport(report);
    const core::Summary* summary = session_->summary();
    if (report && summary && session_->model())
        quantizationView_->setReasons(
            explainLosses(*report, *summary, session_->model()->model.info));
    quantizationView_->setComparison(
        report && comparison_.before
            ? comparisonText(*comparison_.before, *report, comparison_.pair)
            : QString());
    graphView_->setQuantization(report);
    const QString gain = quantizationView_->gainText();
    tabs_->setTabText(tabs_->indexOf(quantizationView_),
                      gain.isEmpty() ? tr("Quantization") : tr("Quantization (%1)").arg(gain));
}

void MainWindow::onLayerSelected(const QString& name) {
    if (!showLayerChannels(name)) return;
    graphView_->selectLayer(name);
    // The graph stays in view when the selection came from it.
    if (!session_->isRunning() && tabs_->currentWidget() != graphView_)
        tabs_->setCurrentWidget(channelPlot_);
}

bool MainWindow::showLayerChannels(const QString& name) {
    auto model = session_->model();
    if (!model) return false;
    const int index = model->indexOf(name.toStdString());
    if (index < 0) return false;
    // After a run, the layer's equalized weights too (measured as the table's "After").
    std::optional<LayerStats> equalized;
    if (session_->hasResult())
        for (const auto& layer : session_->resultLayers())
            if (layer.info.name == name.toStdString()) equalized = outputStats(layer);
    channelPlot_->setLayer(name, model->stats[static_cast<size_t>(index)],
                           equalized ? &*equalized : nullptr);
    return true;
}

void MainWindow::onGraphNodeSelected(const QString& name) {
    layersPanel_->selectLayer(name);
    // The pair holding the layer is the one the plots show.
    const std::string layer = name.toStdString();
    if (const core::Summary* s = session_->summary()) {
        for (size_t i = 0; i < s->pairs.size(); ++i)
            if (s->pairs[i].first == layer || s->pairs[i].second == layer) {
                pairView_->setPair(int(i));
                break;
            }
    }
}

}  // namespace cle::ui
