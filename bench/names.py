"""News names: does a keyword search for a name find the articles that name it, and only those?

    python -m bench.names [--corpus ../shared/corpus/ant_v2.1_multisource/articles.jsonl.gz] [--n 10000]
    python -m bench.names --no-peers --clitics      # also each name behind clitics a reader types

The task of ``../shared/eval/news_names/README.md`` on the first N articles of a corpus, indexed
keyword-only (cached under /tmp/names/, one index per corpus, N and analyzer version). Per name
and on the mean: precision@10 against the lenient gold, recall of the strict gold in the top
1,000, and the reported ``total`` against |lenient gold|; the same for the public systems (bm25s,
k1 1.2, b 0.75, over title + body: Lucene-style normalizer + light10, Snowball Arabic, and
normalization plus clitic stripping only), whose total is every article sharing a query term.
Then the absent names (people and things newer than the corpus, Latin-script names): their gold
count and the keyword matches each reports. With ``--clitics``, each name that does not begin with
ال is searched again behind each of ``TYPED_CLITICS`` (بتونس, وبلبنان), as a reader may type it:
how often the total is the bare name's (the name read through the clitic), above it, and the
mean ratio.

The gold is computed from the text as the README defines it. One reading is ours: «a name ending
in ا may drop it before the endings (ليبيا -> الليبي)» needs a final يا to drop whole before the
ending's ي, so both ليبيا -> ليبي- and امريكا -> امريكي are allowed (``indexer.text.forms.nisba_heads``).
"""
from __future__ import annotations

import gzip
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from bench.data import SHARED
from indexer.text.analysis import ANALYZER_VERSION
from indexer.text.arabic import WORD_PATTERN, is_stopword, normalize, token_words
from indexer.text.articles import Article
from indexer.text.forms import ARTICLE, CONJUNCTIONS, NISBA_ENDINGS, PREPOSITIONS, nisba_heads

CORPUS = SHARED / "corpus" / "ant_v2.1_multisource" / "articles.jsonl.gz"
NAMES = SHARED / "eval" / "news_names" / "names.txt"
CACHE = Path("/tmp/names")
DEPTH = 1000
# Absent from a 2012-2018 corpus: people and things known since, and Latin-script names.
ABSENT = ("أوميكرون", "كوفيد", "بزشكيان", "ميلوني", "سوناك", "ستارلينك", "ثريدز", "تشات جي بي تي",
          "Zelensky", "Starmer", "Omicron", "ChatGPT", "Covid")


def load_articles(corpus: Path, n: int) -> list[Article]:
    out = []
    with gzip.open(corpus, "rt", encoding="utf-8") as stream:
        for line, _ in zip(stream, range(n)):
            r = json.loads(line)
            out.append(Article(id=r["id"], title=r.get("title", "") or "", body=r["body"],
                               date=r.get("date", "") or "", source=r.get("source", "") or "",
                               url=r.get("url", "") or "", section=r.get("section", "") or ""))
    return out


def words(text: str) -> list[str]:
    return [w for raw in WORD_PATTERN.findall(text) for w in token_words(raw)]


def read_names(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]


# -- gold, from the text ------------------------------------------------------------------------
def first_word_forms(name: list[str]) -> set[str]:
    """The first word behind و/ف, then ب/ك/ل, with ال for a one-word name; ال-names after ل as لل."""
    first = name[0]
    bodies = {first} | ({ARTICLE + first} if len(name) == 1 and not first.startswith(ARTICLE) else set())
    out = {c + p + b for c in CONJUNCTIONS for p in PREPOSITIONS for b in bodies}
    if first.startswith(ARTICLE):
        out |= {c + "لل" + first[len(ARTICLE):] for c in CONJUNCTIONS}
    return out


def names_article(text_words: list[str], name: list[str], lenient: bool) -> bool:
    first = first_word_forms(name)
    last = name[-1]
    for i in range(len(text_words) - len(name) + 1):
        if text_words[i] not in first and not (len(name) == 1 and lenient and _nisba_of(text_words[i], first)):
            continue
        if all(text_words[i + j] == name[j] for j in range(1, len(name) - 1)):
            if len(name) == 1 or text_words[i + len(name) - 1] == last or (
                    lenient and _nisba_of(text_words[i + len(name) - 1], {last})):
                return True
    return False


def _nisba_of(word: str, bases: set[str]) -> bool:
    for ending in NISBA_ENDINGS:
        if word.endswith(ending) and any(word[:-len(ending)] in nisba_heads_of(b) for b in bases):
            return True
    return False


def nisba_heads_of(base: str) -> set[str]:
    return nisba_heads(base)


def gold(articles_words: list[tuple[list[str], str]], name: str) -> tuple[set[int], set[int]]:
    """(strict, lenient) gold: positions of the articles naming ``name``."""
    name_words = words(name)
    strict, lenient = set(), set()
    first = name_words[0][len(ARTICLE):] if name_words[0].startswith(ARTICLE) else name_words[0]
    key = first[:3]
    for i, (text, joined) in enumerate(articles_words):
        if key not in joined:
            continue
        if names_article(text, name_words, True):
            lenient.add(i)
            if names_article(text, name_words, False):
                strict.add(i)
    return strict, lenient


# -- the engine and the public systems -----------------------------------------------------------
def build_index(articles: list[Article], corpus: Path, n: int, cache: Path = CACHE) -> Path:
    from indexer.pipeline import Indexer

    path = cache / f"index-{corpus.parent.name}-{n}-a{ANALYZER_VERSION}"
    if not (path / ".complete").exists():
        import shutil
        shutil.rmtree(path, ignore_errors=True)
        t0 = time.perf_counter()
        with Indexer(path, vectors=False) as ix:
            ix.add(articles)
        (path / ".complete").write_text(f"{time.perf_counter() - t0:.0f} s\n")
    return path


@dataclass
class Run:
    ranked: list[int]     # article positions, best first
    total: int


# What a reader types before a name without its article (with it, ``article_form`` reads it).
TYPED_CLITICS = ("ب", "ل", "ك", "و", "وب", "ول", "فب")


def clitic_totals(index: Path, names: list[str]) -> dict[str, list[tuple[int, int]]]:
    """Per typed clitic, (total behind it, the bare name's total) of each name without ال."""
    from search.engine import Engine

    out: dict[str, list[tuple[int, int]]] = {c: [] for c in TYPED_CLITICS}
    with Engine(index) as engine:
        for name in names:
            if words(name)[0].startswith(ARTICLE):
                continue
            bare = engine.search(name, mode="keyword", k=1).total
            for clitic in TYPED_CLITICS:
                out[clitic].append((engine.search(clitic + name, mode="keyword", k=1).total, bare))
    return out


def _clitic_table(totals: dict[str, list[tuple[int, int]]]) -> str:
    lines = ["| typed clitic | names | total = the bare name's | total above it | mean total / bare total |",
             "| --- | --- | --- | --- | --- |"]
    for clitic, rows in totals.items():
        ratios = [t / b for t, b in rows if b]
        lines.append(f"| {clitic} | {len(rows)} | {sum(t == b for t, b in rows)} | {sum(t > b for t, b in rows)} | "
                     f"{statistics.mean(ratios):.3f} |")
    return "\n".join(lines)


def engine_runs(index: Path, articles: list[Article], names: list[str]) -> dict[str, Run]:
    from search.engine import Engine

    position = {a.id: i for i, a in enumerate(articles)}
    out = {}
    with Engine(index) as engine:
        for name in names:
            found = engine.search(name, mode="keyword", k=DEPTH)
            out[name] = Run([position[h.article_id] for h in found.hits], found.total)
    return out


def peer_analyzers() -> dict:
    import Stemmer

    from bench.peers import lucene_arabic_terms
    from indexer.text.stemmers import light_stem

    snowball = Stemmer.Stemmer("arabic")

    def content(text):
        return [w for w in words(text) if not is_stopword(w)]

    return {
        "bm25s Lucene light10": lucene_arabic_terms,
        "bm25s Snowball": lambda text: snowball.stemWords(content(text)),
        "bm25s clitics only": lambda text: [light_stem(w) for w in content(text)],
    }


def peer_runs(articles: list[Article], names: list[str]) -> dict[str, dict[str, Run]]:
    import bm25s

    out = {}
    for system, analyze in peer_analyzers().items():
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(t, len(vocab)) for t in analyze(f"{a.title} {a.body}")] for a in articles]
        model = bm25s.BM25(k1=1.2, b=0.75)
        model.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
        runs = {}
        for name in names:
            query = [vocab[t] for t in dict.fromkeys(analyze(name)) if t in vocab]
            scores = model.get_scores_from_ids(query) if query else np.zeros(len(articles))
            matched = np.flatnonzero(scores > 0)
            top = matched[np.lexsort((matched, -scores[matched]))][:DEPTH]
            runs[name] = Run(top.tolist(), len(matched))
        out[system] = runs
    return out


# -- measures -------------------------------------------------------------------------------------
def measures(run: Run, strict: set[int], lenient: set[int]) -> dict:
    top = run.ranked[:min(10, len(lenient))]
    return {"p10": sum(i in lenient for i in top) / len(top) if top else None,
            "recall": len(strict & set(run.ranked)) / len(strict) if strict else None,
            "total": run.total, "error": abs(run.total - len(lenient)) / len(lenient) if lenient else None}


def summary(rows: list[dict]) -> dict:
    p10 = [r["p10"] for r in rows if r["p10"] is not None]
    return {"p10": statistics.mean(p10), "below_0.8": sum(p < 0.8 for p in p10),
            "recall": statistics.mean(r["recall"] for r in rows if r["recall"] is not None),
            "median_total_error": statistics.median(r["error"] for r in rows if r["error"] is not None)}


@click.command()
@click.option("--corpus", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=CORPUS,
              show_default=True, help="A .jsonl.gz of articles (id, title, body).")
@click.option("--n", type=click.IntRange(1), default=10_000, show_default=True, help="Its first N articles.")
@click.option("--names", "names_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=NAMES, show_default=True)
@click.option("--peers/--no-peers", default=True, show_default=True, help="Run the public systems too.")
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=CACHE, show_default=True,
              help="Where the index is built once and reused.")
@click.option("--clitics", is_flag=True, help="Search each name behind typed clitics too.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write JSON here.")
def main(corpus, n, names_file, peers, cache, clitics, out):
    """Precision@10, recall and totals of name searches against the gold, with the public systems."""
    articles = load_articles(corpus, n)
    names = read_names(names_file)
    texts = []
    for a in articles:
        w = words(f"{a.title} {a.body}")
        texts.append((w, " ".join(w)))
    golds = {name: gold(texts, name) for name in (*names, *ABSENT)}
    index = build_index(articles, corpus, n, cache)
    systems = {"baheth keyword": engine_runs(index, articles, [*names, *ABSENT])}
    if peers:
        systems.update(peer_runs(articles, [*names, *ABSENT]))
    table = {system: {name: measures(runs[name], *golds[name]) for name in names} for system, runs in systems.items()}
    click.echo(f"{corpus.parent.name}, first {len(articles)} articles; {len(names)} names")
    click.echo(_per_name_table(names, golds, table))
    click.echo()
    click.echo(_summary_table({system: summary(list(rows.values())) for system, rows in table.items()}))
    click.echo()
    click.echo("absent names: gold articles, then the matches each system reports")
    click.echo("| name | gold | " + " | ".join(systems) + " |")
    click.echo("| --- | --- |" + " --- |" * len(systems))
    for name in ABSENT:
        click.echo(f"| {name} | {len(golds[name][1])} | " + " | ".join(str(runs[name].total) for runs in systems.values()) + " |")
    typed = clitic_totals(index, names) if clitics else {}
    if typed:
        click.echo()
        click.echo("names behind typed clitics: baheth keyword totals against the bare name's")
        click.echo(_clitic_table(typed))
    if out:
        out.write_text(json.dumps({"corpus": str(corpus), "n": len(articles), "systems": table, "clitics": typed,
                                   "summary": {s: summary(list(r.values())) for s, r in table.items()},
                                   "absent": {name: {"gold": len(golds[name][1]),
                                                     **{s: runs[name].total for s, runs in systems.items()}}
                                              for name in ABSENT}},
                                  ensure_ascii=False, indent=1), encoding="utf-8")


def _per_name_table(names, golds, table) -> str:
    systems = list(table)
    head = "| name | strict | lenient | " + " | ".join(f"{s} p@10 / recall / total" for s in systems) + " |"
    lines = [head, "| --- | --- | --- |" + " --- |" * len(systems)]
    for name in names:
        cells = []
        for s in systems:
            m = table[s][name]
            p10 = "-" if m["p10"] is None else f"{m['p10']:.2f}"
            recall = "-" if m["recall"] is None else f"{m['recall']:.3f}"
            cells.append(f"{p10} / {recall} / {m['total']}")
        lines.append(f"| {name} | {len(golds[name][0])} | {len(golds[name][1])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _summary_table(summaries: dict[str, dict]) -> str:
    lines = ["| system | mean precision@10 | names below 0.8 | mean recall | median abs(total - gold) / gold |",
             "| --- | --- | --- | --- | --- |"]
    for system, s in summaries.items():
        lines.append(f"| {system} | {s['p10']:.3f} | {s['below_0.8']} | {s['recall']:.3f} | {s['median_total_error']:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    main()
