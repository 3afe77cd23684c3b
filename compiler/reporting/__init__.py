"""`snnc report`: figures of a compiled program (core occupancy, traffic, spike rasters,
quantization error, accuracy vs time steps, cost vs accuracy) and an HTML index linking them.

`write_report(path, ReportInputs(...))` draws from data only; running the program (for rasters,
measured rates and accuracy) is the application layer's job (`app/activity.py`, `app/cost.py`),
since the compiler does not import backends.
"""

from compiler.reporting.data import (
    AccuracyCurve,
    Activity,
    CostPoint,
    TrafficBreakdown,
    measured_rates,
    traffic_breakdown,
)
from compiler.reporting.write import INDEX, SUMMARY, ReportInputs, is_report, write_report

__all__ = [
    "INDEX",
    "SUMMARY",
    "AccuracyCurve",
    "Activity",
    "CostPoint",
    "ReportInputs",
    "TrafficBreakdown",
    "is_report",
    "measured_rates",
    "traffic_breakdown",
    "write_report",
]
