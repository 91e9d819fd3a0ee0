// The chart sections of the `tpc report` page: training curves, coordinate check, kernels, sweeps.
#pragma once

#include <string>
#include <vector>

#include "compiler/report/HtmlReport.h"

namespace tp::report::html {

/// The loss and every output coordinate over steps, one line per limit and per simulated
/// width of these reports (one parametrization of one program); "" when none has steps.
std::string curvesBlock(const std::vector<const ReportInput*>& reports);

/// A report's coordinate check: one chart per (step, part), then the table of slopes.
std::string coordcheckBlock(const ReportInput& report);

/// Heat maps of the kernels of the limits among these reports.
std::string kernelsBlock(const std::vector<const ReportInput*>& reports);

/// A report's sweep as a phase diagram.
std::string sweepBlock(const ReportInput& report);

}  // namespace tp::report::html
