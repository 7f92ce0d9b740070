"""Checks that the committed demo corpus (data/sample_*.csv) has the planted properties."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import pytest

DATA = Path(__file__).resolve().parents[1] / "data"
FEEDBACK = DATA / "sample_feedback.csv"
TRUTH = DATA / "sample_truth.csv"

FEEDBACK_COLUMNS = ["response_id", "source", "created_at", "customer_id", "touchpoint",
                    "channel", "score", "comment", "region", "plan"]  # fmt: skip
TRUTH_COLUMNS = ["response_id", "theme", "theme_secondary", "expected_role", "language", "kind"]
KINDS = {"ok", "non_answer", "duplicate", "malformed_empty_text", "malformed_score",
         "malformed_date", "malformed_same_id", "long_text"}  # fmt: skip
DETRACTOR_THEMES = ["late_delivery", "damaged_package", "refund_delay", "rude_support",
                    "app_crashes", "hidden_fees", "long_wait_support", "wrong_item"]  # fmt: skip
PROMOTER_THEMES = ["fast_delivery", "friendly_courier", "easy_app", "good_prices",
                   "helpful_support", "product_quality"]  # fmt: skip
PASSIVE_THEMES = ["delivery_slot_choice", "packaging_waste"]
PROMO = "promo_code_failure"
PROMO_START = pd.Timestamp("2026-11-09")
CYRILLIC = r"[А-Яа-яЁё]"


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    """Feedback joined with its truth row (same order), plus parsed score and date."""
    feedback, truth = read(FEEDBACK), read(TRUTH)
    assert list(feedback.columns) == FEEDBACK_COLUMNS
    assert list(truth.columns) == TRUTH_COLUMNS
    assert len(feedback) == len(truth)
    assert (feedback["response_id"] == truth["response_id"]).all()
    out = feedback.join(truth.drop(columns="response_id"))
    out["score_num"] = pd.to_numeric(out["score"], errors="coerce")
    out["ts"] = pd.to_datetime(out["created_at"], format="%Y-%m-%d %H:%M:%S", errors="coerce")
    return out


@pytest.fixture(scope="module")
def ok(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["kind"] == "ok"]


@pytest.fixture(scope="module")
def ok_surveys(ok: pd.DataFrame) -> pd.DataFrame:
    return ok[ok["source"] == "survey"]


def test_row_counts(df: pd.DataFrame) -> None:
    valid_surveys = df[(df["source"] == "survey") & ~df["kind"].str.startswith("malformed")]
    assert len(valid_surveys) >= 3300
    assert (df["source"] == "complaint").sum() >= 550
    assert 4000 <= len(df) <= 4300
    assert set(df["source"]) == {"survey", "complaint"}


def test_kinds_and_roles(df: pd.DataFrame) -> None:
    assert set(df["kind"]) == KINDS
    complaints = df["source"] == "complaint"
    assert (df.loc[complaints, "expected_role"] == "complaint").all()
    assert (df.loc[complaints, "score"] == "").all()
    scored = df[~complaints & (df["kind"] != "malformed_score")]
    role = pd.cut(scored["score_num"], [-1, 6, 8, 10], labels=["detractor", "passive", "promoter"])
    assert (scored["expected_role"] == role.astype(str)).all()
    assert (df.loc[df["kind"] == "malformed_score", "expected_role"] == "").all()


def test_columns_values(df: pd.DataFrame) -> None:
    surveys = df[df["source"] == "survey"]
    assert set(surveys["touchpoint"]) == {"purchase", "delivery", "support"}
    assert set(surveys["channel"]) == {"email", "app", "web", "sms"}
    complaints = df[df["source"] == "complaint"]
    assert set(complaints["channel"]) == {"email", "phone", "chat", "web"}
    assert (complaints["touchpoint"] == "support").mean() > 0.6
    assert set(complaints["touchpoint"]) == {"support", "delivery"}
    assert df["response_id"].str.fullmatch(r"[RC]\d{6}").all()
    assert (df["response_id"].str[0] == df["source"].map({"survey": "R", "complaint": "C"})).all()
    assert df["customer_id"].str.fullmatch(r"CU\d{5}").all()
    assert set(df["plan"]) == {"basic", "plus", "premium"}
    assert 2200 <= df["customer_id"].nunique() <= 2800
    assert df["customer_id"].value_counts().max() > 1


def test_score_format(df: pd.DataFrame) -> None:
    surveys = df[(df["source"] == "survey") & (df["kind"] != "malformed_score")]
    assert surveys["score"].str.fullmatch(r"(10|\d)(\.0)?").all()
    decimals = surveys["score"].str.endswith(".0").mean()
    assert 0.015 < decimals < 0.05


def test_language(df: pd.DataFrame, ok: pd.DataFrame) -> None:
    has_cyrillic = ok["comment"].str.contains(CYRILLIC)
    assert has_cyrillic.mean() >= 0.35
    assert (has_cyrillic == (ok["language"] == "ru")).all()
    assert (df.groupby("customer_id")["language"].nunique() == 1).all()
    en, ru = df[df["language"] == "en"], df[df["language"] == "ru"]
    assert set(en["region"]) == {"North", "South", "East", "West"}
    assert set(ru["region"]) == {"Moscow", "Saint Petersburg", "Kazan", "Novosibirsk"}
    russian = " ".join(ru["comment"])
    for form in ["доставка", "доставки", "доставку", "доставкой"]:
        assert form in russian


def test_themes_in_both_languages(ok: pd.DataFrame) -> None:
    themes = sorted(set(ok["theme"]) - {""})
    assert len(themes) >= 14
    assert {*DETRACTOR_THEMES, *PROMOTER_THEMES, *PASSIVE_THEMES, PROMO} <= set(themes)
    for theme in themes:
        assert set(ok.loc[ok["theme"] == theme, "language"]) == {"en", "ru"}, theme
    counts = ok.loc[ok["source"] == "survey", "theme"].value_counts().drop(PROMO)
    assert counts.max() / counts.min() >= 2.5


def test_role_skew(ok_surveys: pd.DataFrame) -> None:
    score = ok_surveys.groupby("theme")["score_num"]
    for theme in [*DETRACTOR_THEMES, PROMO]:
        assert (score.get_group(theme) <= 6).mean() > 0.65, theme
    for theme in PROMOTER_THEMES:
        assert (score.get_group(theme) >= 9).mean() > 0.65, theme
    for theme in PASSIVE_THEMES:
        assert score.get_group(theme).between(7, 8).mean() > 0.5, theme


def test_touchpoint_concentration(ok_surveys: pd.DataFrame) -> None:
    stage = pd.crosstab(ok_surveys["theme"], ok_surveys["touchpoint"], normalize="index")
    assert stage.loc["late_delivery", "delivery"] > 0.6
    assert stage.loc["late_delivery", "delivery"] < 0.95
    assert stage.loc["long_wait_support", "support"] > 0.7
    assert stage.loc["good_prices", "purchase"] > 0.6


def test_complaints(df: pd.DataFrame) -> None:
    complaints = df[(df["source"] == "complaint") & (df["kind"] == "ok")]
    assert set(complaints["theme"]) == {*DETRACTOR_THEMES, PROMO}
    assert complaints["comment"].str.len().median() > 150
    assert complaints["comment"].str.contains(r"#\d{6}|№\d{6}").mean() > 0.2
    surveys = df[(df["source"] == "survey") & df["ts"].notna()]
    survey_times = surveys.groupby("customer_id")["ts"].apply(list).to_dict()
    window = pd.Timedelta(days=30)
    linked = [
        any(abs(t - row.ts) <= window for t in survey_times.get(row.customer_id, []))
        for row in complaints.itertuples()
    ]
    assert 0.3 <= sum(linked) / len(linked) <= 0.5


def test_emerging_promo_theme(df: pd.DataFrame) -> None:
    promo = df[(df["theme"] == PROMO) | (df["theme_secondary"] == PROMO)]
    assert len(promo) >= 120
    assert (promo["ts"] >= PROMO_START).all()
    assert set(promo["source"]) == {"survey", "complaint"}
    assert set(promo["language"]) == {"en", "ru"}
    mentions = df["comment"].str.contains(r"promo|промокод", case=False)
    assert (df.loc[mentions & df["ts"].notna(), "ts"] >= PROMO_START).all()


def test_twelve_iso_weeks(df: pd.DataFrame) -> None:
    ts = df["ts"].dropna()
    assert ts.min() >= pd.Timestamp("2026-08-31")
    assert ts.max() <= pd.Timestamp("2026-11-22 23:59:59")
    weeks = ts.dt.isocalendar()
    assert weeks[["year", "week"]].drop_duplicates().shape[0] == 12
    per_week = weeks["week"].value_counts()
    assert per_week.min() / per_week.max() > 0.7


def test_multi_topic(ok_surveys: pd.DataFrame) -> None:
    themed = ok_surveys[ok_surveys["theme"] != ""]
    multi = themed["theme_secondary"] != ""
    assert 0.05 < multi.mean() < 0.11
    assert (themed.loc[multi, "theme_secondary"] != themed.loc[multi, "theme"]).all()


def test_non_answers(df: pd.DataFrame) -> None:
    surveys = df[df["source"] == "survey"]
    non = surveys[surveys["kind"] == "non_answer"]
    assert 0.03 < len(non) / len(surveys) < 0.07
    assert (non["theme"] == "").all()
    assert non["score_num"].notna().all()
    assert (non["comment"].str.len() <= 20).all()
    assert not non["comment"].str.lower().eq("ok").any()


def test_duplicates_are_exact(df: pd.DataFrame) -> None:
    dups = df[df["kind"] == "duplicate"]
    assert 30 <= len(dups) <= 50
    originals = df[df["kind"] != "duplicate"].assign(day=lambda d: d["created_at"].str[:10])
    key = ["customer_id", "comment", "day", "score"]
    for row in dups.assign(day=lambda d: d["created_at"].str[:10]).itertuples():
        match = originals[
            (originals["customer_id"] == row.customer_id)
            & (originals["comment"] == row.comment)
            & (originals["day"] == row.day)
            & (originals["score"] == row.score)
        ]
        assert len(match) == 1, row.response_id
        assert match.index[0] < row.Index
        assert match["response_id"].iloc[0] != row.response_id
    assert not originals.duplicated(subset=key).any()


def test_malformed_rows(df: pd.DataFrame) -> None:
    kinds = df["kind"].value_counts()
    malformed = kinds[kinds.index.str.startswith("malformed")]
    assert 20 <= malformed.sum() <= 30
    empty = df[df["kind"] == "malformed_empty_text"]
    assert (empty["comment"].str.strip() == "").all()
    assert (empty["comment"] == "").any() and (empty["comment"] != "").any()
    bad_score = df[df["kind"] == "malformed_score"]
    assert {"ten", "11", "-1"} <= set(bad_score["score"])
    bad_date = df[df["kind"] == "malformed_date"]
    assert bad_date["ts"].isna().all()
    assert {"not a date"} <= set(bad_date["created_at"])
    assert bad_date["created_at"].str.startswith("2026-13-45").any()
    assert (df.loc[df["kind"].str.startswith("malformed"), "theme"] == "").all()
    # every unparseable date / score is a planted one
    assert (df.loc[df["ts"].isna(), "kind"] == "malformed_date").all()
    bad = (df["source"] == "survey") & ~df["score_num"].between(0, 10)
    assert (df.loc[bad, "kind"] == "malformed_score").all()


def test_same_id_different_content(df: pd.DataFrame) -> None:
    assert df.loc[df["kind"] != "malformed_same_id", "response_id"].is_unique
    second = df[df["kind"] == "malformed_same_id"]
    assert 3 <= len(second) <= 6
    for row in second.itertuples():
        first = df[(df["response_id"] == row.response_id) & (df.index < row.Index)]
        assert len(first) == 1
        assert first["comment"].iloc[0] != row.comment


def test_long_texts_and_markup(df: pd.DataFrame) -> None:
    long = df[df["kind"] == "long_text"]
    assert len(long) == 2
    assert (long["comment"].str.len() > 5000).all()
    assert set(long["language"]) == {"en", "ru"}
    assert (df.loc[df["kind"] != "long_text", "comment"].str.len() < 2000).all()
    assert 4 <= df["comment"].str.contains("<br>|&amp;").sum() <= 7
    script = df[df["comment"].str.contains("<script>alert(1)</script>", regex=False)]
    assert len(script) == 1
    assert script["source"].iloc[0] == "complaint"


def test_pii_share(ok: pd.DataFrame) -> None:
    email = ok["comment"].str.contains(r"[\w.]+@example\.(?:com|org|net)")
    phone = ok["comment"].str.contains(r"\(\d{3}\) \d{3}|\+7 |8 \(9|07700|\+44|\+1 ")
    assert email.any() and phone.any()
    assert 0.015 < (email | phone).mean() < 0.05


def test_texture(ok_surveys: pd.DataFrame) -> None:
    comments = ok_surveys["comment"]
    words = comments.str.split().str.len()
    assert (words <= 3).mean() > 0.05
    assert (words > 60).sum() >= 10
    assert (comments == comments.str.lower()).mean() > 0.1
    assert comments.str.contains("!").mean() > 0.1
    assert comments.str.contains(r"\b[A-ZА-Я]{4,}\b").any()
    assert comments.str.contains("[\U0001f300-\U0001faff]").mean() > 0.02
    assert not comments.str.contains(r"[\[\]{}]").any()  # no template markup leaked


def test_phrase_diversity(ok: pd.DataFrame) -> None:
    themed = ok[ok["theme"] != ""]
    distinct = themed.groupby(["theme", "language"])["comment"].nunique()
    assert len(distinct) >= 28
    assert (distinct >= 20).all(), distinct[distinct < 20]


def test_reproducible(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_sample", DATA / "make_sample.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    try:
        spec.loader.exec_module(module)
        module.main(tmp_path)
    finally:
        del sys.modules[spec.name]
    for name in ["sample_feedback.csv", "sample_truth.csv"]:
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
