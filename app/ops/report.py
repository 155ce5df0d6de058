"""A run's HTML report: one self-contained page (inline SVG charts, inline CSS, no external
resources), written from the run summary, which stays the machine-readable form.

Charts are drawn by pygal, built without its JavaScript tooltips (`js=[]`) so the page makes no
network request and renders from a file or an attachment.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pygal
from jinja2 import Environment, PackageLoader, Template, select_autoescape
from markupsafe import Markup
from pygal.style import Style

from app.domain.summary import RunSummary

CHART_STYLE = Style(
    background="white",
    plot_background="white",
    font_family="system-ui, sans-serif",
    no_data_font_size=28,
    colors=("#2f6fdf", "#e4572e", "#29a35a", "#f2a541", "#7a4fd6", "#5b6770"),
)
LATENCY_BINS = 12


class ReportError(Exception):
    """No such run, or no run at all."""


def page(name: str) -> Template:
    """A report page's template from app/ops/templates (each extends base.html), autoescaped."""
    environment = Environment(loader=PackageLoader("app.ops", "templates"), autoescape=select_autoescape(["html"]))
    return environment.get_template(name)


def new_chart(kind: type, title: str, **options: Any) -> Any:
    """A pygal chart in the reports' style: no script, inline, a fixed size."""
    settings = {"show_legend": False, "print_values": True, **options}
    return kind(js=[], disable_xml_declaration=True, style=CHART_STYLE, title=title, height=320, width=640, **settings)


def inline_svg(chart: Any) -> Markup:
    """The chart as SVG markup to place in a page."""
    return Markup(chart.render(is_unicode=True))  # pygal escapes labels and values itself


def distribution_chart(title: str, counts: dict[str, int]) -> Markup:
    chart = new_chart(pygal.Bar, title)
    labels = sorted(counts, key=lambda label: -counts[label])
    chart.x_labels = labels
    chart.add("tickets", [counts[label] for label in labels])
    return inline_svg(chart)


def latency_histogram(seconds: list[float]) -> Markup:
    """Per-ticket time from claim to outcome, in equal-width bins."""
    chart = new_chart(pygal.Histogram, "Claim to written, per ticket (s)", print_values=False)
    if seconds:
        low, high = min(seconds), max(seconds)
        width = (high - low) / LATENCY_BINS or 1.0
        counts = Counter(min(int((s - low) / width), LATENCY_BINS - 1) for s in seconds)
        chart.add("tickets", [(counts[b], low + b * width, low + (b + 1) * width) for b in range(LATENCY_BINS)])
    return inline_svg(chart)


def failures_chart(failures: dict[str, int]) -> Markup:
    chart = new_chart(pygal.HorizontalBar, "Failures by reason", no_data_text="No failures")
    for reason, count in sorted(failures.items(), key=lambda item: item[1]):
        chart.add(reason[:80], count)
    chart.show_legend = bool(failures)
    return inline_svg(chart)


def tokens_chart(summary: RunSummary) -> Markup:
    chart = new_chart(pygal.Bar, f"Tokens (cost ${summary.cost_estimate:.4f})")
    chart.x_labels = ["prompt", "completion"]
    chart.add("tokens", [summary.prompt_tokens_total, summary.completion_tokens_total])
    return inline_svg(chart)


def render_report(summary: RunSummary, fields: list[str] | None = None) -> str:
    """The report page for one run summary. The fields default to those the run was classified
    with (its distributions, in order), so a report of an older run still matches it after the
    taxonomy changed."""
    fields = list(summary.distributions) if fields is None else fields
    results = [r.model_dump() for r in summary.results]
    distributions = [
        (field, distribution_chart(field.replace("_", " ").capitalize(), summary.distributions[field]))
        for field in fields
        if summary.distributions.get(field)
    ]
    return page("report.html").render(
        summary=summary,
        fields=fields,
        distributions=distributions,
        latency=latency_histogram([r.processing_time for r in summary.results]),
        failures=failures_chart(summary.failures_by_reason),
        tokens=tokens_chart(summary),
        results=results,
        summary_json=json.dumps(summary.model_dump(mode="json", exclude={"results"}), indent=2),
    )


def find_summary(run_store: Any, log_dir: Path, run_id: str | None) -> RunSummary:
    """The summary of `run_id` (or the newest run): from Redis, else from LOG_DIR/results_*.json
    (Redis keeps summaries a limited time; the files stay)."""
    if run_id is None:
        recent = run_store.recent(1)
        if recent:
            return recent[0]
    else:
        summary = run_store.summary(run_id)
        if summary is not None:
            return summary
    files = sorted(Path(log_dir).glob("results_*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for path in files:
        try:
            summary = RunSummary.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if run_id is None or summary.id == run_id:
            return summary
    raise ReportError(f"no run {run_id!r} in Redis or {log_dir}" if run_id else f"no runs yet (Redis or {log_dir})")
