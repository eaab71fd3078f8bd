"""Fit the sentence-ranking weights and the no-answer threshold of ``search/answers.py``.

    python -m bench.answers --eval ../shared/eval/xquad_ar --features runs/xquad.npz
    python -m bench.answers --eval ../shared/eval/tydiqa_goldp_ar_dev --features runs/tydi.npz
    python -m bench.answer_fit runs/xquad.npz runs/tydi.npz

A coordinate ascent over the weights of the cheap features (the dense similarity keeps weight 1,
which fixes the scale) maximizes accuracy@1 on the first set, simulating exactly what ``score`` does: the
top ``DENSE_SENTENCES`` by cheap features, re-ranked with the dense one.  The same weights are then
scored on the second set, with each feature's weight set to zero in turn (what it is worth).  The
threshold is the lowest best-sentence score at which at most ``--max-false-claims`` of the first
set's held-out questions are still answered; the table shows what it does on both sets.
"""
from __future__ import annotations

import click
import numpy as np

from search.answers import DENSE_SENTENCES, FEATURES

STEPS = (0.0, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32)   # tried for each cheap feature's weight


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


def load(path: str) -> tuple[Questions, Questions]:
    data = np.load(path)
    return tuple(Questions(data[f"{k}_features"], data[f"{k}_labels"], data[f"{k}_sizes"])
                 for k in ("answerable", "held"))


def fit_weights(questions: Questions, rounds: int = 3) -> np.ndarray:
    """Coordinate ascent: each cheap feature's weight in turn set to its best STEPS value."""
    weights = np.zeros(len(FEATURES))
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
    return weights


def fit_threshold(held: Questions, weights: np.ndarray, max_false_claims: float) -> float:
    _, scores = held.best(weights)
    return float(np.quantile(scores, 1.0 - max_false_claims, method="higher"))


def report(name: str, answerable: Questions, held: Questions, weights: np.ndarray, threshold: float) -> str:
    pick, scores = answerable.best(weights)
    correct = answerable.labels[np.arange(len(pick)), pick]
    _, held_scores = held.best(weights)
    answered = scores >= threshold
    ablations = " ".join(f"{f}=0:{answerable.accuracy(np.where(np.arange(len(weights)) == i, 0, weights)):.3f}"
                         for i, f in enumerate(FEATURES) if i and weights[i])
    return (f"| {name} | {correct.mean():.3f} | {answered.mean():.3f} | {(correct & answered).mean():.3f} |"
            f" {(held_scores >= threshold).mean():.3f} | {ablations} |")


@click.command()
@click.argument("fit_on", type=click.Path(exists=True, dir_okay=False))
@click.argument("confirm_on", type=click.Path(exists=True, dir_okay=False))
@click.option("--max-false-claims", type=float, default=0.15, show_default=True,
              help="Share of the fitting set's no-answer questions the threshold may still answer.")
def main(fit_on, confirm_on, max_false_claims):
    """Fit weights and threshold on FIT_ON's features, confirm on CONFIRM_ON's."""
    fit_answerable, fit_held = load(fit_on)
    confirm_answerable, confirm_held = load(confirm_on)
    weights = fit_weights(fit_answerable)
    threshold = fit_threshold(fit_held, weights, max_false_claims)
    click.echo(f"WEIGHTS = np.array([{', '.join(f'{w:g}' for w in weights)}])  # {', '.join(FEATURES)}")
    click.echo(f"ANSWER_THRESHOLD = {threshold:.4f}")
    click.echo("| set | acc@1 | answered | answered and correct | false claims | acc@1 without a feature |")
    click.echo("|---|---|---|---|---|---|")
    click.echo(report(fit_on, fit_answerable, fit_held, weights, threshold))
    click.echo(report(confirm_on, confirm_answerable, confirm_held, weights, threshold))


if __name__ == "__main__":  # pragma: no cover
    main()
