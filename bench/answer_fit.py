"""Fit the sentence-ranking weights of ``search/answers/finder.py``.

    python -m bench.answers --eval ../shared/eval/xquad_ar --features runs/xquad.npz
    python -m bench.answers --eval ../shared/eval/tydiqa_goldp_ar_dev --features runs/tydi.npz
    python -m bench.answer_fit runs/xquad.npz runs/tydi.npz            # fit on the first, confirm on the rest
    python -m bench.answer_fit --halves runs/xquad.npz runs/tydi.npz   # fit on half of each, report the others

A coordinate ascent over the weights of the cheap features (the dense similarity keeps weight 1,
which fixes the scale) maximizes accuracy@1, simulating exactly what ``score`` does: the top
``DENSE_SENTENCES`` by cheap features, re-ranked with the dense one.  It starts from all-zero
weights and from ``--restarts`` random ones (seeded), since one ascent from zero can stop at a
poor local optimum.  ``--halves`` fits on the questions of every file whose article is in
``bench.answers.fit_half`` and reports the other halves.  Each set is also scored with each
feature's weight set to zero in turn (what it is worth).  Whether to answer at all is
``bench.answerability_fit``'s model.
"""
from __future__ import annotations

import click
import numpy as np

from search.answers.features import FEATURES
from search.answers.finder import DENSE_SENTENCES

STEPS = (0.0, 0.01, 0.02, 0.04, 0.08, 0.12, 0.16, 0.24, 0.32, 0.48, 0.64)   # tried for each cheap weight


class Questions:
    """Candidates of every question padded into (questions, candidates, features) arrays."""

    def __init__(self, features: np.ndarray, labels: np.ndarray, sizes: np.ndarray):
        n = int(sizes.max()) if len(sizes) else 1
        self.features = np.zeros((len(sizes), n, len(FEATURES)))
        self.labels = np.zeros((len(sizes), n), bool)
        self.valid = np.zeros((len(sizes), n), bool)
        for q, (a, b) in enumerate(zip(np.r_[0, np.cumsum(sizes)[:-1]], np.cumsum(sizes))):
            self.features[q, :b - a], self.labels[q, :b - a], self.valid[q, :b - a] = features[a:b], labels[a:b], True

    def best(self, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index of each question's top sentence, its score), as ``AnswerFinder.score`` picks it."""
        cheap = np.where(self.valid, self.features[..., 1:] @ weights[1:], -np.inf)
        kept = np.argsort(-cheap, axis=1, kind="stable")[:, :DENSE_SENTENCES]
        final = np.take_along_axis(cheap, kept, 1) + weights[0] * np.take_along_axis(self.features[..., 0], kept, 1)
        final = np.where(np.isfinite(final), final, -np.inf)
        pick = np.take_along_axis(kept, final.argmax(1)[:, None], 1)[:, 0]
        return pick, final.max(1)

    def accuracy(self, weights: np.ndarray) -> float:
        pick, _ = self.best(weights)
        return float(self.labels[np.arange(len(pick)), pick].mean())


def load(paths: list[str], half: bool | None = None) -> tuple[Questions, Questions]:
    """(answerable, held-out) questions of the files, all of them or one ``fit_half`` of each."""
    parts = []
    for kind in ("answerable", "held"):
        features, labels, sizes = [], [], []
        for path in paths:
            data = np.load(path)
            ends = np.cumsum(data[f"{kind}_sizes"])
            for q, (a, b) in enumerate(zip(np.r_[0, ends[:-1]], ends)):
                if half is None or data[f"{kind}_fit_half"][q] == half:
                    features.append(data[f"{kind}_features"][a:b])
                    labels.append(data[f"{kind}_labels"][a:b])
                    sizes.append(b - a)
        parts.append(Questions(np.concatenate(features), np.concatenate(labels), np.array(sizes)))
    return parts[0], parts[1]


def fit_weights(questions: Questions, restarts: int = 8, rounds: int = 3, seed: int = 0) -> np.ndarray:
    """Coordinate ascent (each cheap feature's weight in turn set to its best STEPS value) from
    all-zero weights and from ``restarts`` random ones; the best end point wins."""
    rng = np.random.default_rng(seed)
    starts = [np.zeros(len(FEATURES))] + [rng.choice(STEPS, len(FEATURES)) for _ in range(restarts)]
    results = []
    for weights in starts:
        weights[0] = 1.0
        best = questions.accuracy(weights)
        for _ in range(rounds):
            for i in range(1, len(FEATURES)):
                for value in STEPS:
                    trial = weights.copy()
                    trial[i] = value
                    acc = questions.accuracy(trial)
                    if acc > best + 1e-9:
                        weights, best = trial, acc
        results.append((best, weights))
    return max(results, key=lambda r: r[0])[1]


def report(name: str, answerable: Questions, weights: np.ndarray) -> str:
    ablations = " ".join(f"{f}=0:{answerable.accuracy(np.where(np.arange(len(weights)) == i, 0, weights)):.3f}"
                         for i, f in enumerate(FEATURES) if i and weights[i])
    return f"| {name} | {len(answerable.labels)} | {answerable.accuracy(weights):.3f} | {ablations} |"


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--halves", is_flag=True, help="Fit on the fit half of every file, report on the other halves.")
@click.option("--restarts", type=click.IntRange(0), default=8, show_default=True)
def main(files, halves, restarts):
    """Fit the weights on the first of FILES (bench.answers --features output), confirm on the rest."""
    fitting = load(list(files), half=True)[0] if halves else load(files[:1])[0]
    weights = fit_weights(fitting, restarts)
    click.echo(f"WEIGHTS = np.array([{', '.join(f'{w:g}' for w in weights)}])  # {', '.join(FEATURES)}")
    click.echo("| questions | n | acc@1 | acc@1 with one feature's weight set to 0 |")
    click.echo("|---|---|---|---|")
    for f in files:
        if halves:
            click.echo(report(f"{f} (fit half)", load([f], half=True)[0], weights))
            click.echo(report(f"{f} (other half)", load([f], half=False)[0], weights))
        click.echo(report(f, load([f])[0], weights))


if __name__ == "__main__":  # pragma: no cover
    main()
