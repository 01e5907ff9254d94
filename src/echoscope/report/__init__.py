"""The evidence report (self-contained HTML) and the exports (GEXF, GraphML, Gephi CSV, Parquet, CSV, JSON).

>>> from echoscope.report import render_report, export_study          # doctest: +SKIP
>>> render_report(study, "report.html", pseudonymise=True)             # doctest: +SKIP
>>> export_study(study, "gexf,csv", "out/")                            # doctest: +SKIP
"""

from .data import ReportOptions, gather
from .exports import EXPORTERS, export_study
from .html import build_document, render_report
from .pseudonymise import Pseudonymiser, resolve_key
from .wording import findings

__all__ = [
           "EXPORTERS",
           "Pseudonymiser",
           "ReportOptions",
           "build_document",
           "export_study",
           "findings",
           "gather",
           "render_report",
           "resolve_key",
]
