"""Write the corpus of broken inputs used by tests/test_bad_inputs.py.

    python tests/bad_inputs/make_corpus.py        # rewrites the small files next to this script

The small files are committed; `big_text` and `rows_100k` are written at test time into a
temporary folder (`write_big`), never committed. Every file is deterministic, so re-running the
script leaves `git status` clean.
"""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
HEADER = "id,comment,score,created_at,customer_id"
GOOD = [
    "courier was late again and the parcel was damaged",
    "the app crashes every time I pay at checkout",
    "refund still not returned after three weeks",
    "friendly polite staff at the pick-up point",
    "delivery slot moved twice without any notice",
]


SKIPS = ["-", "n/a", "nothing", "no comment"]


def good_rows(n: int = len(GOOD), start: int = 1) -> list[str]:
    """`n` valid CSV rows with ids start..start+n-1 (texts cycle through GOOD)."""
    return [
        f"{i},{GOOD[(i - start) % len(GOOD)]} {i},{(i * 3) % 11},2026-11-{1 + i % 20:02d},c{i}"
        for i in range(start, start + n)
    ]


def csv_text(rows: list[str], header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def quoted(values: tuple[object, ...]) -> str:
    """One CSV row, fields quoted where needed (texts with commas)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(values)
    return buffer.getvalue()


def _frame_bytes(frame: pd.DataFrame, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, **kwargs)  # type: ignore[arg-type]
    return buffer.getvalue()


def small_files() -> dict[str, bytes]:
    """File name -> content of every committed case."""
    utf8 = {
        "header_only.csv": HEADER + "\n",
        # a file whose fields are separated by ':' is one column called 'id:comment:score'
        "wrong_delimiter.csv": csv_text(
            [r.replace(",", ":") for r in good_rows(3)], HEADER.replace(",", ":")
        ),
        "quoted_newlines.csv": csv_text(
            [
                *good_rows(2),
                '3,"first line\nsecond line, with a comma\n\nthird line",9,2026-11-03,c3',
            ]
        ),
        # row 3 has two extra fields, row 5 is missing two; the other rows are fine
        "ragged_rows.csv": csv_text(
            [
                *good_rows(2),
                "3,too many fields here,4,2026-11-03,c3,extra,more",
                *good_rows(1, 4),
                "5,too few fields,4",
            ]
        ),
        "bom.csv": "\ufeff" + csv_text(good_rows(3)),
        "scores.csv": csv_text(
            [
                f"{i},{text},{score},2026-11-0{i},c{i}"
                for i, (text, score) in enumerate(
                    [
                        ("courier late", "ten"),
                        ("app crashes", "11"),
                        ("refund slow", "-1"),
                        ("nice staff", "9.5"),
                        ("slot moved", ""),
                        ("box damaged", "NaN"),
                        ("very good service", "9"),
                    ],
                    start=1,
                )
            ]
        ),
        "dates.csv": csv_text(
            [
                quoted((i, f"{GOOD[i % 5]} {i}", 7, date, f"c{i}"))
                for i, date in enumerate(
                    [
                        "2026-11-01",
                        "23.11.2026",
                        "11/05/2026",
                        "2026-11-03T08:30:00Z",
                        "Nov 4, 2026",
                        "yesterday",
                        "2026-13-45",
                        "",
                    ],
                    start=1,
                )
            ]
        ),
        "duplicate_ids.csv": csv_text(
            [*good_rows(3), "2,a completely different comment,3,2026-11-02,c2", good_rows(3)[2]]
        ),
        "non_answers.csv": csv_text(
            [
                f"{i},{text},{i % 11},2026-11-0{i},c{i}"
                for i, text in enumerate(
                    ["-", "n/a", "nothing", "нет", "...", "10", "no comment"], start=1
                )
            ]
        ),
        "only_emoji.csv": csv_text(
            [
                f"{i},{text},9,2026-11-0{i},c{i}"
                for i, text in enumerate(["😀", "👍👍👍", "🙂 🙃", "❤️"], start=1)
            ]
        ),
        "rtl.csv": csv_text(
            [
                f"{i},{text},{score},2026-11-0{i},c{i}"
                for i, (text, score) in enumerate(
                    [
                        ("التوصيل تأخر ثلاثة أيام", 2),
                        ("التطبيق يتوقف عند الدفع", 3),
                        ("השליח היה מאוד אדיב", 10),
                        ("ההחזר הכספי לא הגיע", 1),
                    ],
                    start=1,
                )
            ]
        ),
        "nul_bytes.csv": csv_text(
            [
                *good_rows(2),
                "3,nul\x00inside the\x00 text,5,2026-11-03,c3",
                "4,\x00\x00,5,2026-11-04,c4",
            ]
        ),
    }
    files = {name: text.encode("utf-8") for name, text in utf8.items()}
    files["empty.csv"] = b""
    russian = [
        "Доставку задержали на два дня",
        "Курьер вежливый, всё отлично",
        "Приложение вылетает при оплате",
    ]
    files["cp1251.csv"] = csv_text(
        [quoted((i, t, i * 3, f"0{i}.11.2026", f"c{i}")) for i, t in enumerate(russian, start=1)]
    ).encode("cp1251")
    french = [
        "livraison très en retard, colis abîmé",
        "le remboursement n'est jamais arrivé",
        "personnel sympathique à l'accueil",
        "façade du magasin fermée à 18h",
    ]
    files["latin1.csv"] = csv_text(
        [quoted((i, t, i * 2, f"2026-11-0{i}", f"c{i}")) for i, t in enumerate(french, start=1)]
    ).encode("latin-1")
    # UTF-8 with valid Cyrillic, a readable row with bytes that are not UTF-8 (kept, U+FFFD in
    # place of them) and a row of almost nothing but such bytes (quarantined undecodable)
    files["invalid_utf8.csv"] = (
        csv_text([*good_rows(3), "4,доставка вовремя,9,2026-11-04,c4"]).encode()
        + b"5,broken \xff\xfe\xc3 bytes,3,2026-11-05,c5\n"
        + b"6,\xff\xfe\xfd\xfc ok,3,2026-11-06,c6\n"
    )
    files["several_sheets.xlsx"] = _workbook()
    files["wrong_types.parquet"] = _frame_bytes(
        pd.DataFrame(
            {
                "id": [1, 2, 3, 4],  # ints instead of strings: fine
                "comment": ["courier late", "app crashes", "refund slow", "nice staff"],
                "score": ["9", "nine", "7.0", None],  # strings instead of numbers
                "created_at": [20261101, 1762000000, 3, None],  # ints instead of dates
                "customer_id": ["c1", "c2", "c3", "c4"],
            }
        )
    )
    files["not_really.xlsx"] = csv_text(good_rows(2)).encode()  # a CSV with the wrong suffix
    files["broken.parquet"] = b"PAR1 this is not a parquet file"
    files["broken.jsonl"] = b'{"id": 1, "comment": "fine", "score": 9}\n{"id": 2, "comment": \n'
    files["config_unknown_key.toml"] = b"[themes]\nmin_clustr_size = 5\n"
    files["config_wrong_type.toml"] = b'[clean]\nlong_text_chars = "a lot"\n'
    files["config_bad_toml.toml"] = b"[themes\nrandom_state = 1\n"
    files["good.csv"] = csv_text(good_rows(5)).encode()
    return files


def _workbook() -> bytes:
    buffer = io.BytesIO()
    nps = pd.DataFrame([r.split(",") for r in good_rows(3)], columns=HEADER.split(","))
    complaints = pd.DataFrame(
        [r.split(",") for r in good_rows(2, start=10)], columns=HEADER.split(",")
    )
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        nps.to_excel(writer, sheet_name="NPS", index=False)
        complaints.to_excel(writer, sheet_name="Complaints", index=False)
        pd.DataFrame({"note": []}).to_excel(writer, sheet_name="Empty", index=False)
    return _stable_zip(buffer.getvalue())


def _stable_zip(data: bytes) -> bytes:
    """The workbook with fixed zip timestamps and core properties, so regeneration is stable."""
    import re
    import zipfile

    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "docProps/core.xml":
                content = re.sub(
                    rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2026-11-01T00:00:00Z", content
                )
            info = zipfile.ZipInfo(item.filename, date_time=(2026, 11, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, content)
    return out.getvalue()


def write_big(folder: Path) -> dict[str, Path]:
    """The big cases, written at test time: a 10 MB single text and 100k rows + 1 bad row."""
    folder.mkdir(parents=True, exist_ok=True)
    big = folder / "big_text.csv"
    words = "the parcel arrived late and the box was crushed "
    text = (words * (10_000_000 // len(words) + 1))[:10_000_000]
    big.write_text(csv_text([*good_rows(2), f"3,{text},2,2026-11-03,c3"]))
    rows = folder / "rows_100k.csv"
    # a mandatory comment field: most customers type "-" or "n/a", one in a thousand writes
    # something (so a full run themes 100 texts, not 100k); the export was cut mid-write: the
    # last row opens a quote that never closes
    lines = [
        row if i % 1000 == 0 else row.replace(f"{GOOD[(i - 1) % len(GOOD)]} {i}", SKIPS[i % 4])
        for i, row in enumerate(good_rows(100_000), start=1)
    ]
    rows.write_text(csv_text([*lines, '100001,"the export was cut here']))
    return {"big_text.csv": big, "rows_100k.csv": rows}


def main() -> None:
    for name, content in small_files().items():
        (HERE / name).write_bytes(content)
    sys.stdout.write(f"wrote {len(small_files())} files to {HERE}\n")


if __name__ == "__main__":
    main()
