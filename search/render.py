"""Plain-text rendering of results for a terminal (bold highlights); --json bypasses this.

Every text that comes from an index or an input file passes through ``printable`` before it is
styled: a title holding ``\x1b]0;...\x07`` would otherwise set the terminal's title, clear the
screen or hide text from whoever reads the results.
"""
from __future__ import annotations

import re

import click

from search.results import MATCH, RELATED, AnswerResults, SearchResults, StoredArticle


# C0 controls but tab and newline, DEL, and C1 controls (0x9b is a one-byte CSI to some terminals).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_CONTROL_OR_NEWLINE = re.compile("[\x00-\x1f\x7f-\x9f]")


def printable(text: str, *, one_line: bool = False) -> str:
    """``text`` with each control character written as its escape (``\\x1b``); with ``one_line``
    newlines and tabs too, so a message stays one line."""
    pattern = _CONTROL_OR_NEWLINE if one_line else _CONTROL
    return pattern.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


# Values of each facet the text output shows; --json has them all.
FACET_TOP = 5


def bold_spans(text: str, spans) -> str:
    out, last = [], 0
    for start, end in spans:
        out.append(printable(text[last:start]))
        out.append(click.style(printable(text[start:end]), bold=True))
        last = end
    out.append(printable(text[last:]))
    return "".join(out)


def _line(*parts: str) -> str:
    return " · ".join(printable(x, one_line=True) for x in parts if x)


def print_results(results: SearchResults) -> None:
    """The answer to "is it there?" first: how many articles (passages) hold the words, reprints
    of one story each counted, or that nothing holds them (the notice); then what was folded and
    which of the ranked results are shown; then the hits, related ones marked as such."""
    absent = results.matches == 0
    if results.notice:
        notice = printable(results.notice, one_line=True)
        click.echo(notice if absent else f"note: {notice}", err=not absent)
    if not results.hits:
        if not absent:
            click.echo(f"no results past {results.ranked}")
        return
    click.echo(summary(results))
    if results.undated:
        click.echo(f"{results.undated} undated result(s) sorted last")
    if results.facets:
        for name, label in (("source", "sources"), ("section", "sections"), ("month", "months")):
            busiest = sorted(results.facets[name], key=lambda v: -v["count"])   # stable: months stay in order
            click.echo(f"{label}: {printable(counted(busiest, FACET_TOP), one_line=True)}")
    for hit in results.hits:
        print_hit(hit)


def summary(results: SearchResults) -> str:
    """``120 articles match, 3 articles related by meaning (hybrid); 8 near-duplicates folded into
    their stories; showing 1-10 of 115``."""
    item = results.level[:-1]   # article, passage
    related = f"{results.related} {plural(results.related, item)} related by meaning" if results.related else ""
    if results.matches:
        counts = f"{results.matches} {plural(results.matches, item)} {'match' if results.matches > 1 else 'matches'}"
        counts += f", {related}" if related else ""
    else:
        counts = related
    folded = ""
    if results.collapsed:
        what = "near-duplicate" if item == "article" else "near-duplicate passage"
        folded = (f"; {results.collapsed} {plural(results.collapsed, what)} folded into "
                  f"{'their stories' if results.collapsed > 1 else 'its story'}")
    shown = f"showing {results.hits[0].rank}-{results.hits[-1].rank} of {results.ranked}"
    return f"{counts} ({results.mode}){folded}; {shown}"


def plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"


def print_hit(hit) -> None:
    title, article_id = _line(hit.title or hit.article_id), _line(hit.article_id)
    meta = _line(hit.date, hit.source, hit.section)
    label = "  (related: does not contain the words)" if getattr(hit, "label", MATCH) == RELATED else ""
    click.echo(f"\n{hit.rank}. {title}  [{article_id}]  score {hit.score:.4f}{label}")
    if meta:
        click.echo(f"   {meta}")
    click.echo(f"   {bold_spans(hit.snippet, hit.highlights)}")
    if hit.more_like_it:
        click.echo(f"   {len(hit.more_like_it)} more like it: {_line(', '.join(hit.more_like_it))}")


def counted(values: list[dict], top: int | None = None) -> str:
    """Facet or stats counts as one line: ``BBC 3, CNN 2, (none) 1`` (the articles without one)."""
    shown = values[:top]
    more = f" (+{len(values) - len(shown)} more)" if len(values) > len(shown) else ""
    return ", ".join(f"{'(none)' if v['value'] is None else v['value']} {v['count']}" for v in shown) + more


def print_similar(results) -> None:
    click.echo(f"like {_line(results.title or results.article_id)} [{_line(results.article_id)}] ({results.mode})")
    if results.excluded:
        click.echo(f"left out {len(results.excluded)} near-duplicate(s): {_line(', '.join(results.excluded))}")
    if not results.hits:
        click.echo("no similar articles")
    for hit in results.hits:
        print_hit(hit)


def print_answers(results: AnswerResults) -> None:
    """Each answer sentence with its matching stretch in bold, dimmed context, then its article."""
    if not results.answered:
        click.echo("no answer in the index; the closest passages:" if results.related
                   else "no answer in the index")
        for hit in results.related:
            print_hit(hit)
        return
    for a in results.answers:
        spans = [a.span] if a.span[1] > a.span[0] else []
        context = [click.style(printable(a.context_before), dim=True)] if a.context_before else []
        context.append(bold_spans(a.sentence, spans))
        if a.context_after:
            context.append(click.style(printable(a.context_after), dim=True))
        click.echo(f"\n{a.rank}. " + " ".join(context))
        meta = _line(a.title or a.article_id, a.date, a.source)
        click.echo(f"   — {meta}  [{_line(a.article_id)}, passage {a.passage_id}]  score {a.score:.3f}")


def print_article(article: StoredArticle) -> None:
    click.echo(_line(article.title or article.id))
    click.echo(_line(article.id, article.date, article.source, article.section, article.url))
    for p in article.passages:
        click.echo("")
        if p["heading"]:
            click.echo(click.style(printable(p["heading"]), bold=True))
        click.echo(f"[{p['passage_id']}] {printable(p['text'])}")
