"""Batch queries ("topics") in and TREC runs out, for `baheth search --batch`.

Three topic formats, recognised from the first non-blank line:

* JSON Lines: ``{"qid": ..., "query": ...}`` per line (``question`` is accepted for ``query``,
  so the eval sets' ``queries.jsonl`` can be searched as they are);
* TREC topics: ``<top> <num> Number: 301 <title> ... </top>``; the title is the query;
* tab-separated ``qid<TAB>query`` lines, as Pyserini's ``.tsv`` topics.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import BinaryIO, Iterable, Iterator, TextIO

from indexer.text.articles import clean_text
from search.results import SearchResults

_TOP = re.compile(r"<top>(.*?)</top>", re.S | re.I)
_NUM = re.compile(r"<num>\s*(?:Number:)?\s*(\S+)", re.I)
_TITLE = re.compile(r"<title>\s*(?:Topic:)?(.*?)(?=<\w+>|</top>|$)", re.S | re.I)


class TopicError(ValueError):
    """A topics file that cannot be read; the message names the line."""


@dataclass(frozen=True)
class Topic:
    qid: str
    query: str


def read_topics(stream: TextIO | BinaryIO) -> list[Topic]:
    text = stream.read()
    if isinstance(text, bytes):
        # A line that is not UTF-8 keeps its readable words (and a binary file fails as a format).
        text = text.decode("utf-8", "replace")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    if first.startswith("{"):
        topics = list(_json_lines(text))
    elif first.lower().startswith("<top>"):
        topics = list(_trec_topics(text))
    else:
        topics = list(_tsv(text))
    seen: set[str] = set()
    for topic in topics:
        if topic.qid in seen:
            raise TopicError(f"query id {topic.qid!r} appears twice")
        seen.add(topic.qid)
    return topics


def _json_lines(text: str) -> Iterator[Topic]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            query = row["query"] if "query" in row else row["question"]
            yield Topic(clean_text(str(row["qid"])), clean_text(str(query)))
        except (ValueError, KeyError, TypeError, RecursionError):
            raise TopicError(f"line {number}: expected a JSON object with \"qid\" and \"query\"") from None


def _trec_topics(text: str) -> Iterator[Topic]:
    for block in _TOP.findall(text):
        num, title = _NUM.search(block), _TITLE.search(block)
        if num is None or title is None:
            raise TopicError(f"a <top> block without <num> or <title>: {block.strip()[:60]!r}")
        yield Topic(num.group(1), " ".join(title.group(1).split()))


def _tsv(text: str) -> Iterator[Topic]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        qid, sep, query = line.partition("\t")
        if not sep:
            raise TopicError(f"line {number}: expected JSON Lines, TREC topics or \"qid<TAB>query\"")
        yield Topic(qid.strip(), query.strip())


def run_docid(hit) -> str:
    """A document id that survives a rebuild: the article id, plus the passage's span at passage level."""
    start = getattr(hit, "start", None)
    return hit.article_id if start is None else f"{hit.article_id}:{hit.start}-{hit.end}"


def trec_run_lines(qid: str, results: SearchResults, tag: str) -> Iterable[str]:
    """``qid Q0 docid rank score tag`` lines, the format trec_eval, ranx and Pyserini read."""
    for hit in results.hits:
        yield f"{qid} Q0 {run_docid(hit)} {hit.rank} {hit.score:.6f} {tag}\n"
