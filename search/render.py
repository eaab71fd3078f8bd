"""Plain-text rendering of results for a terminal (bold highlights); --json bypasses this."""
from __future__ import annotations

import click

from search.results import AnswerResults, SearchResults, StoredArticle


def bold_spans(text: str, spans) -> str:
    out, last = [], 0
    for start, end in spans:
        out.append(text[last:start])
        out.append(click.style(text[start:end], bold=True))
        last = end
    out.append(text[last:])
    return "".join(out)


def print_results(results: SearchResults) -> None:
    if results.notice:
        click.echo(f"note: {results.notice}", err=True)
    if not results.hits:
        click.echo("no results")
        return
    click.echo(f"{results.total} {results.level} ({results.mode}); showing"
               f" {results.hits[0].rank}-{results.hits[-1].rank}")
    for hit in results.hits:
        print_hit(hit)


def print_hit(hit) -> None:
    title = hit.title or hit.article_id
    meta = " · ".join(x for x in (hit.date, hit.source, hit.section) if x)
    click.echo(f"\n{hit.rank}. {title}  [{hit.article_id}]  score {hit.score:.4f}")
    if meta:
        click.echo(f"   {meta}")
    click.echo(f"   {bold_spans(hit.snippet, hit.highlights)}")


def print_similar(results) -> None:
    click.echo(f"like {results.title or results.article_id} [{results.article_id}] ({results.mode})")
    if results.excluded:
        click.echo(f"left out {len(results.excluded)} near-duplicate(s): {', '.join(results.excluded)}")
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
        context = [click.style(a.context_before, dim=True)] if a.context_before else []
        context.append(bold_spans(a.sentence, spans))
        if a.context_after:
            context.append(click.style(a.context_after, dim=True))
        click.echo(f"\n{a.rank}. " + " ".join(context))
        meta = " · ".join(x for x in (a.title or a.article_id, a.date, a.source) if x)
        click.echo(f"   — {meta}  [{a.article_id}, passage {a.passage_id}]  score {a.score:.3f}")


def print_article(article: StoredArticle) -> None:
    click.echo(article.title or article.id)
    meta = " · ".join(x for x in (article.id, article.date, article.source, article.section, article.url) if x)
    click.echo(meta)
    for p in article.passages:
        click.echo("")
        if p["heading"]:
            click.echo(click.style(p["heading"], bold=True))
        click.echo(f"[{p['passage_id']}] {p['text']}")
