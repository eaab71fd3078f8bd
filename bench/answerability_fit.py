"""Fit the confidence model of ``search/answers/confidence.py``: is the best sentence an answer at all?

    python -m bench.answers --eval ../shared/eval/xquad_ar --cache /tmp/h4/cache --features xquad_ar.npz
    python -m bench.answers --eval ../shared/eval/tydiqa_goldp_ar_dev --cache /tmp/h4/cache --features tydi.npz
    python -m bench.answerability_fit xquad_ar.npz tydi.npz            # fit on the first, confirm on the rest
    python -m bench.answerability_fit --halves xquad_ar.npz tydi.npz   # fit on half of each, report the others

Positives are the questions asked of the full index, negatives the same sets' questions asked of
the index without their article (``bench.answers``'s no-answer test).  A logistic regression
(L2, Newton steps on standardized features; the standardization is folded into the printed
weights) scores each; the threshold is the lowest confidence at which at most
``--max-false-claims`` of each fitting set's negatives are still answered.  With ``--halves`` the fitting
questions are those whose article falls in ``bench.answers.fit_half`` in every file, and each
file's other half is reported.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from search.answers.confidence import CONFIDENCE_FEATURES


@dataclass(frozen=True)
class ConfidenceSet:
    """The question rows of one features file (or a part of it)."""

    name: str
    positives: np.ndarray     # confidence features, answerable questions
    correct: np.ndarray       # whether each positive's best sentence holds the answer
    negatives: np.ndarray     # confidence features, questions whose article is not indexed

    def part(self, name: str, positive_rows: np.ndarray, negative_rows: np.ndarray) -> "ConfidenceSet":
        return ConfidenceSet(name, self.positives[positive_rows], self.correct[positive_rows],
                             self.negatives[negative_rows])


def load(path: str, half: bool | None = None) -> ConfidenceSet:
    data = np.load(path)
    whole = ConfidenceSet(Path(path).stem, data["answerable_confidence"], data["answerable_correct"],
                          data["held_confidence"])
    if half is None:
        return whole
    return whole.part(f"{whole.name} ({'fit' if half else 'other'} half)",
                      data["answerable_fit_half"] == half, data["held_fit_half"] == half)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 30) -> tuple[np.ndarray, float]:
    """(weights, bias) on the raw features of a ridge-penalized logistic regression."""
    mean, scale = x.mean(0), x.std(0)
    scale[scale == 0] = 1.0
    z = np.c_[(x - mean) / scale, np.ones(len(x))]
    beta = np.zeros(z.shape[1])
    penalty = np.r_[np.full(x.shape[1], l2), 0.0]    # the intercept is not penalized
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-z @ beta))
        gradient = z.T @ (p - y) + penalty * beta
        hessian = (z * (p * (1 - p))[:, None]).T @ z + np.diag(penalty)
        beta -= np.linalg.solve(hessian, gradient)
    weights = beta[:-1] / scale
    return weights, float(beta[-1] - weights @ mean)


def confidences(x: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x @ weights + bias, -60, 60)))


def fit(sets: list[ConfidenceSet], max_false_claims: float, l2: float = 1.0) -> tuple[np.ndarray, float, float]:
    x = np.concatenate([s.positives for s in sets] + [s.negatives for s in sets])
    y = np.r_[np.ones(sum(len(s.positives) for s in sets)), np.zeros(sum(len(s.negatives) for s in sets))]
    weights, bias = fit_logistic(x, y, l2)
    # Just above the (1 - max) quantile of each set's negatives: at most that share of any fitting
    # set's no-answer questions reaches it (pooled, the easier set would let the harder one exceed it).
    threshold = max(float(np.quantile(confidences(s.negatives, weights, bias), 1.0 - max_false_claims,
                                      method="higher")) for s in sets)
    return weights, bias, float(np.nextafter(threshold, 1.0))


def report(s: ConfidenceSet, weights: np.ndarray, bias: float, threshold: float) -> str:
    answered = confidences(s.positives, weights, bias) >= threshold
    claims = confidences(s.negatives, weights, bias) >= threshold
    return (f"| {s.name} | {len(s.positives)} | {s.correct.mean():.3f} | {answered.mean():.3f} |"
            f" {(answered & s.correct).mean():.3f} | {len(s.negatives)} | {claims.mean():.3f} |")


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--halves", is_flag=True, help="Fit on the fit half of every file, report on the other halves.")
@click.option("--max-false-claims", type=float, default=0.15, show_default=True,
              help="Share of the fitting no-answer questions the threshold may still answer.")
@click.option("--l2", type=float, default=1.0, show_default=True,
              help="Ridge penalty on the standardized weights.")
def main(files, halves, max_false_claims, l2):
    """Fit the confidence model on FILES (bench.answers --features output) and report."""
    if halves:
        fitting = [load(f, half=True) for f in files]
        reported = fitting + [load(f, half=False) for f in files]
    else:
        fitting = [load(files[0])]
        reported = [load(f) for f in files]
    weights, bias, threshold = fit(fitting, max_false_claims, l2)
    click.echo(f"CONFIDENCE_WEIGHTS = np.array([{', '.join(f'{w:.4g}' for w in weights)}])")
    click.echo(f"  # {', '.join(CONFIDENCE_FEATURES)}")
    click.echo(f"CONFIDENCE_BIAS = {bias:.4g}")
    click.echo(f"CONFIDENCE_THRESHOLD = {threshold:.4f}")
    click.echo("| questions | answerable | acc@1 | answered | answered and correct | no-answer | false claims |")
    click.echo("|---|---|---|---|---|---|---|")
    for s in reported:
        click.echo(report(s, weights, bias, threshold))


if __name__ == "__main__":  # pragma: no cover
    main()
