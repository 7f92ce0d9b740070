"""The report: contents on the sample, escaping, languages, the writer and a headless browser."""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from cx_text import analytics, catalog, nps, rank, report
from cx_text.schemas import ALERTS, ASSIGNMENTS, THEME_WEEKS, WEEKLY_NPS
from cx_text.settings import NpsSettings, ReportSettings, Settings
from tests.conftest import ROOT
from tests.factories import complaint, frame, survey
from tests.test_rank import sample_inputs

FAST = NpsSettings(bootstrap_samples=200, random_state=1)
COUNTS = {"read": 4116, "themed": 3858, "quarantined": 24, "duplicates": 40, "non_answers": 194}
CHARTS = ("nps", "impact", "trends", "heatmap")
CHROMIUM = Path("/usr/bin/chromium")
SCRIPT = "<script>alert(1)</script>"


def report_inputs(
    verbatims: pd.DataFrame, assignments: pd.DataFrame, mentions: pd.DataFrame | None
) -> rank.Tables:
    """The ranked table, its views and the segment table, as `cx-text run` computes them."""
    return rank.rank_tables(verbatims, assignments, mentions, None, Settings(nps=FAST))


def render(
    verbatims: pd.DataFrame,
    assignments: pd.DataFrame,
    mentions: pd.DataFrame | None,
    tables: rank.Tables,
    counts: dict[str, int],
    settings: Settings,
    as_of_week: str | None = None,
) -> SimpleNamespace:
    """The analytics stage and the report stage of a run: their fields side by side."""
    found = analytics.weekly_analytics(verbatims, assignments, mentions, tables.themes,
                                       settings.report, as_of_week)  # fmt: skip
    bundle = report.build_report(verbatims, tables, found, counts, settings)
    return SimpleNamespace(**vars(found), **vars(bundle), as_of_week=found.week, stages={
        "analytics": found, "report": bundle})  # fmt: skip


@pytest.fixture(scope="module")
def sample() -> dict[str, Any]:
    verbatims, assignments, mentions = sample_inputs()
    tables = report_inputs(verbatims, assignments, mentions)
    return {"verbatims": verbatims, "assignments": assignments, "mentions": mentions,
            "tables": tables}  # fmt: skip


def build(
    sample: dict[str, Any],
    settings: ReportSettings | None = None,
    as_of_week: str | None = None,
) -> SimpleNamespace:
    return render(
        sample["verbatims"], sample["assignments"], sample["mentions"], sample["tables"], COUNTS,
        Settings(report=settings or ReportSettings()), as_of_week=as_of_week,
    )  # fmt: skip


@pytest.fixture(scope="module")
def bundle(sample: dict[str, Any]) -> SimpleNamespace:
    return build(sample)


# --------------------------------------------------------------------------- the sample


def test_sample_report_html(bundle: SimpleNamespace, sample: dict[str, Any]) -> None:
    html = bundle.html
    assert html.startswith("<!DOCTYPE html>") and 'lang="en"' in html
    # self-contained: plotly.js inlined exactly once, nothing loaded from elsewhere
    assert html.count(get_plotlyjs()[:300]) == 1
    assert "<script src" not in html and "<link" not in html
    for chart in CHARTS:
        assert html.count(f'data-chart="{chart}"') == 1
    assert 'data-js-errors="0"' in html
    # headline: period NPS with its interval, the week's NPS and its change
    overall = nps.overall_nps(sample["verbatims"])
    assert f"{overall['nps']:.1f}" in html and f"[{overall['low']:+.1f}, " in html
    assert "NPS, week 2026-W47" in html and "vs 2026-W46" in html
    assert "Share rising: promo code failure" in html
    assert "Top detractor themes: what to fix" in html and "Top promoter themes" in html
    assert 'Quarantined rows</td><td class="n">24' in html
    assert '<section class="compare"><h2>Compared: 2026-W40..2026-W43 vs 2026-W44..' in html
    assert '<section class="segments"><h2>Segments that differ</h2>' in html
    assert 'Non-answers</td><td class="n">194' in html


def test_sample_report_markdown(bundle: SimpleNamespace) -> None:
    text = bundle.markdown
    assert text.startswith("# Voice of the customer")
    assert "## Alerts · 2026-W47" in text and "**Share rising: promo code failure**" in text
    assert "| late delivery (late_delivery) | 500 |" in text
    # the trend table: one sparkline per theme, promo code failure rising at the end
    trend_lines = [line for line in text.splitlines() if "▁" in line]
    promo = next(line for line in trend_lines if line.startswith("| promo code failure"))
    assert "▁▁▁▁▁▁▁▁▁▁" in promo and promo.split("|")[2].strip().endswith("█")
    assert "| delivery | purchase | support |" in text
    assert "| Quarantined rows | 24 |" in text and "| Non-answers | 194 |" in text
    assert "<script" not in text
    # the last 4 weeks against the 4 before: the promo problem's share rose significantly
    compared = text[text.index("## Compared: 2026-W40..2026-W43 vs 2026-W44..2026-W47") :]
    promo_row = next(line for line in compared.splitlines() if line.startswith("| promo code"))
    assert "0.0% → 11.9%" in promo_row and "▲" in promo_row
    # segment cells that differ from the rest of their segment, placed before the data section
    assert text.index("## Segments that differ") < text.index("## Data")
    assert "| touchpoint = delivery | late delivery (late_delivery) |" in text


def test_bundle_tables_and_alerts(bundle: SimpleNamespace) -> None:
    assert bundle.as_of_week == pd.Timestamp("2026-11-16") and bundle.language == "en"
    assert bundle.weekly.columns.tolist() == THEME_WEEKS.names
    assert bundle.weekly_nps.columns.tolist() == WEEKLY_NPS.names
    assert bundle.alerts.columns.tolist() == ALERTS.names
    assert bundle.alerts["theme_id"].tolist() == ["promo_code_failure"]
    assert [a["theme_id"] for a in bundle.alerts_json] == ["promo_code_failure"]
    json.dumps(bundle.alerts_json, allow_nan=False)
    assert bundle.alerts_markdown.startswith("## cx-text: 1 alert(s) for week 2026-W47")


def test_write_report(bundle: SimpleNamespace, tmp_path: Path) -> None:
    shown = tuple(o for o in catalog.OUTPUTS if o.source.startswith(("report.", "analytics.")))
    catalog.write_outputs(SimpleNamespace(**bundle.stages), tmp_path, shown, workbook=False)
    names = ["alerts.json", "alerts.md", "report.html", "report.md", "theme_weeks.csv",
             "theme_weeks.parquet", "weekly_nps.csv", "weekly_nps.parquet"]  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == names
    assert (tmp_path / "report.html").read_text(encoding="utf-8") == bundle.html
    assert json.loads((tmp_path / "alerts.json").read_text(encoding="utf-8")) == json.loads(
        json.dumps(bundle.alerts_json, default=str)
    )
    assert len(pd.read_csv(tmp_path / "theme_weeks.csv")) == len(bundle.weekly)


def test_report_as_of_an_earlier_week(sample: dict[str, Any]) -> None:
    earlier = build(sample, ReportSettings(weeks=6), as_of_week="2026-W45")
    assert earlier.as_of_week == pd.Timestamp("2026-11-02") and earlier.alerts.empty
    assert "No alerts for week 2026-W45." in earlier.html
    # the trend table covers the 6 weeks ending with the report week
    assert "| 2026-W40 | 2026-W45 |" in earlier.markdown


def test_russian_report(sample: dict[str, Any]) -> None:
    russian = build(sample, ReportSettings(language="ru"))
    assert 'lang="ru"' in russian.html and "Голос клиента" in russian.html
    assert "Доля растёт: promo code failure" in russian.html
    assert russian.markdown.startswith("# Голос клиента") and "| В карантине | 24 |" in (
        russian.markdown
    )
    assert russian.alerts_json[0]["message"].startswith("promo code failure: доля")


def test_report_language_auto() -> None:
    rows = [survey(f"r{i}", 9, language="ru") for i in range(3)] + [survey("e", 9)]
    assert report.report_language(frame(*rows), "auto") == "ru"
    assert report.report_language(frame(*rows[2:]), "auto") == "en"  # 1 of 2 is no majority
    assert report.report_language(frame(*rows), "en") == "en"


# --------------------------------------------------------------------------- escaping


def test_verbatims_labels_and_segments_are_escaped() -> None:
    monday = pd.Timestamp("2026-03-02")
    rows, pairs = [], []
    for i in range(2):
        for k in range(30):
            bad = i == 1 and k < 25
            text = f"{SCRIPT} <b>broke</b> app {k}" if k == 0 else f"x{i}-{k}"
            rows.append(survey(f"x{i}-{k}", 1 if bad or k < 3 else 9, text=text,
                               created_at=monday + pd.Timedelta(weeks=i),
                               touchpoint="<i>web</i>"))  # fmt: skip
            pairs.append((f"x{i}-{k}", "X"))
            rows.append(survey(f"y{i}-{k}", 10, created_at=monday + pd.Timedelta(weeks=i)))
            pairs.append((f"y{i}-{k}", "Y"))
    rows.append(complaint("k1", text=SCRIPT, created_at=monday))
    verbatims = frame(*rows)
    labels = {"X": f"<b>Bold</b> {SCRIPT}", "Y": "fine & dandy"}
    assignments = ASSIGNMENTS.conform(
        pd.DataFrame({"verbatim_id": [v for v, _ in pairs], "theme_id": [t for _, t in pairs],
                      "theme_label": [labels[t] for _, t in pairs], "parent_theme_id": "P01",
                      "confidence": [0.99 if v.endswith("-0") else 0.5 for v, _ in pairs]})
    )  # fmt: skip
    tables = report_inputs(verbatims, assignments, None)
    settings = Settings(report=ReportSettings(alert_fdr=0.05))
    out = render(verbatims, assignments, None, tables, {}, settings)
    assert out.alerts["theme_id"].tolist() == ["X"]  # the detractor rate jumped
    assert out.alerts["example_1"].str.contains("<script>").all()
    for text in (out.html, out.markdown, out.alerts_markdown):
        assert "<script>alert(1)" not in text and "<b>Bold" not in text
        assert "<b>broke" not in text and "<i>web" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out.html  # verbatims and labels as text
    assert "&lt;b&gt;Bold&lt;/b&gt;" in out.html and "fine &amp; dandy" in out.html
    assert "&lt;script>alert(1)&lt;/script>" in out.markdown
    # plotly labels: HTML-escaped before plotly encodes them (it shows entities as text)
    # (plotly's JSON writes "/" as \u002f)
    assert "&amp;lt;b&amp;gt;Bold" not in out.html and '"&lt;i&gt;web&lt;' in out.html


# --------------------------------------------------------------------------- browser


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    command = [
        str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={profile}", "--hide-scrollbars", *args,
    ]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)


def _chart_blocks(dom: str) -> dict[str, str]:
    blocks = {}
    for chart in CHARTS:
        start = dom.index(f'data-chart="{chart}"')
        blocks[chart] = dom[start : dom.index("</section>", start)]
    return blocks


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


@pytest.mark.browser
@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (scripts/ensure_chromium.sh)"
)
def test_report_renders_in_headless_chromium(bundle: SimpleNamespace, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(bundle.html, encoding="utf-8")
    url = page.resolve().as_uri()
    dom = _chromium(["--virtual-time-budget=5000", "--dump-dom", url], tmp_path / "p1").stdout
    # every chart drawn by plotly (its SVG layers), no script error on the page
    for chart, block in _chart_blocks(dom).items():
        assert '<svg class="main-svg"' in block, f"chart {chart} not rendered"
    assert 'data-js-errors="0"' in dom and 'data-js-errors="1' not in dom
    shot = tmp_path / "report.png"
    _chromium(["--virtual-time-budget=5000", f"--screenshot={shot}", "--window-size=1400,4000",
               url], tmp_path / "p2")  # fmt: skip
    assert _png_size(shot) == (1400, 4000)
    assert 100_000 < shot.stat().st_size < 1_000_000  # a real page, still commit-sized
    if os.environ.get("CX_TEXT_UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(shot, ROOT / "docs" / "report.png")


@pytest.mark.browser
@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs /usr/bin/chromium (scripts/ensure_chromium.sh)"
)
def test_script_errors_are_counted(bundle: SimpleNamespace, tmp_path: Path) -> None:
    """The error counter the browser test relies on does count an error."""
    head = bundle.html[: bundle.html.index("<style>")]
    broken = head + '</head><body data-js-errors="0"><script>notAFunction();</script></body></html>'
    page = tmp_path / "broken.html"
    page.write_text(broken, encoding="utf-8")
    dom = _chromium(["--virtual-time-budget=2000", "--dump-dom", page.as_uri()], tmp_path / "p")
    assert 'data-js-errors="1"' in dom.stdout


LINK = "[click here](http://evil.example/x)"
IMAGE = "![pic](http://evil.example/p.png)"
ONERROR = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("http://evil.example","refund")'


def test_links_images_and_formulas_from_customers_stay_inert() -> None:
    """Markdown links and images, <img onerror> and formulas in verbatims and labels render as
    text in report.html, report.md and alerts.md (checked by rendering the Markdown)."""
    from markdown_it import MarkdownIt

    monday = pd.Timestamp("2026-03-02")
    payload = f"{LINK} {IMAGE} {ONERROR} {FORMULA}"
    rows, pairs = [], []
    for i in range(2):
        for k in range(30):
            bad = i == 1 and k < 25
            rows.append(survey(f"x{i}-{k}", 1 if bad or k < 3 else 9, text=f"{payload} {k}",
                               created_at=monday + pd.Timedelta(weeks=i)))  # fmt: skip
            pairs.append((f"x{i}-{k}", "X"))
            rows.append(survey(f"y{i}-{k}", 10, created_at=monday + pd.Timedelta(weeks=i)))
            pairs.append((f"y{i}-{k}", "Y"))
    verbatims = frame(*rows)
    labels = {"X": f"{LINK} {ONERROR}", "Y": IMAGE}
    assignments = ASSIGNMENTS.conform(
        pd.DataFrame({"verbatim_id": [v for v, _ in pairs], "theme_id": [t for _, t in pairs],
                      "theme_label": [labels[t] for _, t in pairs], "parent_theme_id": "P01",
                      "confidence": 0.9})
    )  # fmt: skip
    tables = report_inputs(verbatims, assignments, None)
    ranked = tables.themes.assign(label=tables.themes["theme_id"].map(labels).fillna(
        tables.themes["label"]))  # fmt: skip
    out = render(verbatims, assignments, None, replace(tables, themes=ranked), {}, Settings())
    assert len(out.alerts) == 1 and "http://evil.example/x" in out.alerts_markdown
    markdown = MarkdownIt("commonmark").enable("table")
    for text in (out.markdown, out.alerts_markdown):
        rendered = markdown.render(text)
        assert "http://evil.example" in rendered  # the customer's words are shown...
        assert "<a " not in rendered and "<img" not in rendered  # ...as text
    assert "<img src=x" not in out.html and 'href="http://evil' not in out.html
    assert 'src="http://evil' not in out.html


def test_trend_rows_skip_a_theme_without_weekly_figures_in_the_window() -> None:
    """A ranked theme (e.g. a facet whose mentions all precede the trend window) has no weekly
    rows: it gets no sparkline instead of failing the report (airline tweets, 2026-11-29)."""
    from cx_text.report import _trend_rows

    window = pd.DataFrame({"theme_id": ["T001", "T001"], "week": ["2026-W46", "2026-W47"],
                           "share": [0.1, 0.2], "label": ["Late delivery"] * 2})  # fmt: skip
    rows = _trend_rows(window, ["T001", "T009-"])
    assert [r["theme_id"] for r in rows] == ["T001"] and rows[0]["shares"] == [0.1, 0.2]


def test_the_trend_chart_skips_an_alerted_theme_without_weekly_figures() -> None:
    """An alert's theme may have no weekly rows in the chart's window (the airline tweets' first
    report failed on one with an IndexError, 2026-11-29): it is left out of the chart."""
    from cx_text.report import UI, trend_chart, trend_themes

    week = pd.Timestamp("2026-11-09")
    weekly = pd.DataFrame({"theme_id": ["T001", "T002"], "week": [week, week],
                           "n_verbatims": [5, 9], "share": [0.1, 0.2],
                           "label": ["Late delivery", "Refund"]})  # fmt: skip
    alerts = pd.DataFrame({"theme_id": ["T009-", "T001"]})
    assert trend_themes(weekly, alerts) == ["T001", "T002"]
    figure = trend_chart(weekly, ["T009-", "T002"], UI["en"])
    assert [trace.name for trace in figure.data] == ["Refund · T002"]


def test_a_window_without_scored_answers_reports_volumes_not_nps(sample: dict[str, Any]) -> None:
    """A complaints-only export (no score anywhere): the report says why there is no NPS, shows
    the period's and the week's verbatims (with the change against the week before, from
    `weekly_nps`), ranks themes by volume with their share and weekly trend, and leaves out
    every NPS section (tables of n/a before); a scored window keeps them and says nothing of it."""
    verbatims = sample["verbatims"].assign(source="complaint", score=float("nan"), scale="none",
                                           role="complaint")  # fmt: skip
    tables = report_inputs(verbatims, sample["assignments"], sample["mentions"])
    found = render(verbatims, sample["assignments"], sample["mentions"], tables, COUNTS,
                   Settings())  # fmt: skip
    text = found.markdown
    assert "No scored answers in this window (complaints)" in text
    weeks = found.weekly_nps.set_index("week")["n_verbatims"]
    week = found.as_of_week
    now, before = int(weeks[week]), int(weeks[week - pd.Timedelta(weeks=1)])
    assert f"| Whole period | {len(verbatims):,} |" in text
    assert f"| Week 2026-W47 | {now:,} ({now - before:+d} vs 2026-W46) |" in text
    top = text[text.index("## Top themes: what to fix") : text.index("## Theme trends")]
    rows = [line for line in top.splitlines() if line.startswith("| ") and "(" in line]
    counts = [int(r.split("|")[2].strip().replace(",", "")) for r in rows]
    assert counts == sorted(counts, reverse=True) and counts[0] == 500  # late delivery
    for gone in (
        "| | NPS |",
        "## Top detractor themes",
        "## Top promoter themes",
        "## Theme impact on NPS",
        "## Detractor rate by touchpoint",
        "Theme NPS:",
    ):
        assert gone not in text
    assert "n/a" not in text
    html = re.sub(r"<script.*?</script>", "", found.html, flags=re.S)  # plotly's code aside
    assert 'id="top-unscored"' in html and 'id="nps-weekly"' not in html and "n/a" not in html
    assert 'id="impact"' not in html and 'id="top-promoter"' not in html
    scored = build(sample)
    assert "No scored answers" not in scored.markdown and 'id="top-unscored"' not in scored.html
    # with polarity: problem themes to fix, praise themes to keep, each by volume
    praise = {"friendly_courier", "fast_delivery", "good_prices"}
    mentions = sample["mentions"].assign(polarity_score=0.9, polarity=sample["mentions"][
        "theme_id"].map(lambda t: "praise" if t in praise else "problem"))  # fmt: skip
    tables = report_inputs(verbatims, sample["assignments"], mentions)
    text = render(verbatims, sample["assignments"], mentions, tables, COUNTS, Settings()).markdown
    fix = text[text.index("## Top themes: what to fix") : text.index("## Top praise themes")]
    keep = text[text.index("## Top praise themes: what to keep") : text.index("## Theme trends")]
    assert "| late delivery (late_delivery) | 500 |" in fix and "fast_delivery" not in fix
    kept = [line.split("(")[1].split(")")[0] for line in keep.splitlines() if "_" in line]
    assert kept == ["fast_delivery", "good_prices", "friendly_courier"]  # 315, 292, 250
