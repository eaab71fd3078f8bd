"""Machine-readable output for ``--format``: the whole result as one JSON object (``json``),
or its rows (hits, answers, passages, or key/value pairs of a report) as JSON Lines or CSV.

>>> print(rows_csv([{"rank": 1, "ids": ["a", "b"]}]).strip())
rank,ids
1,"[""a"", ""b""]"
"""
from __future__ import annotations

import csv
import io
import json

from search.render import printable

FORMATS = ("text", "json", "jsonl", "csv")


# json.dumps escapes C0 controls but not C1 ones, which some terminals take as escape sequences.
_C1_ESCAPES = {c: f"\\u{c:04x}" for c in range(0x80, 0xA0)}


def to_json(data) -> str:
    return json.dumps(data, ensure_ascii=False).translate(_C1_ESCAPES)


def rows_jsonl(rows: list[dict]) -> str:
    return "".join(to_json(row) + "\n" for row in rows)


def rows_csv(rows: list[dict], header: bool = True) -> str:
    """Columns in order of first appearance; lists and objects as JSON text, as a spreadsheet
    keeps them in one cell."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.DictWriter(out, columns, lineterminator="\n")
    if header and columns:
        writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return out.getvalue()


def _cell(value):
    # CSV goes to terminals as often as to spreadsheets: control characters are escaped, as in
    # the text output (JSON escapes them itself).
    if isinstance(value, (list, tuple, dict)):
        return to_json(value)
    if isinstance(value, str):
        return printable(value)
    return "" if value is None else value


def key_values(data: dict, prefix: str = "") -> list[dict]:
    """A report or stats object as rows of ``{"key", "value"}``, nested keys joined by dots."""
    rows = []
    for key, value in data.items():
        if isinstance(value, dict) and value:
            rows += key_values(value, f"{prefix}{key}.")
        else:
            rows.append({"key": f"{prefix}{key}", "value": value})
    return rows


def search_rows(results, **extra) -> list[dict]:
    """One row per hit of a ``SearchResults``; ``extra`` (a batch's qid) goes first."""
    return [{**extra, **hit.to_dict()} for hit in results.hits]


def answer_rows(results, **extra) -> list[dict]:
    """One row per answer of an ``AnswerResults``, then its related passages when unanswered."""
    return ([{**extra, "kind": "answer", **a.to_dict()} for a in results.answers]
            + [{**extra, "kind": "related", **h.to_dict()} for h in results.related])
