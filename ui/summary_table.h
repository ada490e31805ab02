#pragma once
// One row per pair of the current run: channels, range imbalance before and after, sweeps,
// dead channels and constant inputs.
#include <QTableWidget>

#include "cle/core/equalizer.h"

namespace cle::ui {

class SummaryTable : public QTableWidget {
    Q_OBJECT
public:
    explicit SummaryTable(QWidget* parent = nullptr);

    void setSummary(const core::Summary* summary);
    void setCurrentPair(int index);

signals:
    void pairChosen(int index);
};

}  // namespace cle::ui
