"""Fit ``ask``'s model (``search/answers/model.json``) from the committed feature files, and report
it out-of-fold and leave-one-set-out.

    python -m bench.answer_features && python -m bench.answer_fit     # everything, from ../shared
    python -m bench.answer_fit                                        # the fit alone, from the files

The feature files (``bench/results/answer-features-SET.npz``, ``bench.answer_features``) hold
every candidate sentence of every question, so ``ask``'s ranking and confidence are replayed here
exactly for any weights; the term evidence is computed here from the terms each candidate holds
(``term_evidence``), so it can change without extracting again.  One fit, the same on all data, inside every fold and on one set alone:

1. ranking weights: a listwise softmax regression (the candidates' scores through a softmax over
   the question's candidates; the loss is minus the mean log-probability of the sentences that
   hold the answer), ridge penalty ``RANK_L2`` on standardized features, Newton steps; convex, so
   no seeds and no restarts;
2. confidence: a ridge logistic regression (``CONFIDENCE_L2``) of "the best sentence holds the
   answer" (``answers``) on its confidence features (``search.answers.confidence``), positives the
   questions asked of the full index whose best sentence holds a gold answer, negatives those whose
   best sentence does not, those asked of the index without their article and, replayed, the
   answerable questions without the passages that hold their answer (``without_answer_passages``);
   every weight on the side ``search.answers.confidence.SIGNS`` gives its feature, one fit per
   family of features (``FAMILIES``), the model their mean (``fit_families``);
3. threshold: the lowest confidence at which at most ``FALSE_CLAIMS`` of the fitting questions
   without an answer and at most ``HARD_FALSE_CLAIMS`` of those without the answer's passages are
   still answered (for each fitting set, the strictest).

The penalties and ``FALSE_CLAIMS`` are fixed rules, chosen before any held-out figure was seen and
never tuned on one; ``HARD_FALSE_CLAIMS`` was chosen on the out-of-fold figures alone
(docs/answers.md).  Out-of-fold: ``FOLDS`` folds of both sets together, grouped
by Wikipedia article (a hash of its id), every question scored by the model fitted without its
fold.  Leave-one-set-out: fitted on one set, scored on the other.
"""
from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from bench.answer_features import RESULTS, SETS, features_path
from bench.harness import write_json
from search.answers.confidence import CONFIDENCE_FEATURES, FAMILIES, SIGNS, confidence_rows, evidence_from
from search.answers.features import FEATURES
from search.answers.model import SHIPPED_PATH, AnswerModel

FOLDS = 5
RANK_L2 = 1.0
CONFIDENCE_L2 = 1.0
FALSE_CLAIMS = 0.15
# At most this share of the answerable questions replayed without their answer's passages may still
# be answered.  Those are harder than any no-answer question of the targets (the subject is
# still indexed), and a set whose no-answer questions are all easy (XQuAD-ar's: its 48 articles are
# far apart) would otherwise set a threshold that answers half of them.  0.25 is the strictest of
# 0.15, 0.2, ..., 0.5 that leaves every out-of-fold figure as it is (0.2 takes XQuAD-ar's answered
# share 0.863 -> 0.811): on both sets pooled it never binds (docs/answers.md).
HARD_FALSE_CLAIMS = 0.25
METRICS = ("answered", "answered_correct", "false_claims", "acc@1", "baseline_acc@1")


@dataclass(frozen=True)
class FeatureSet:
    """One feature file's questions, candidates padded to (questions, candidates, ...) arrays."""

    name: str
    group: np.ndarray          # (Q,) Wikipedia article
    answerable: np.ndarray     # (Q,) asked of the full index
    features: np.ndarray       # (Q, C, FEATURES)
    evidence: np.ndarray       # (Q, C, EVIDENCE)
    labels: np.ndarray         # (Q, C) holds a gold answer
    valid: np.ndarray          # (Q, C) a real candidate, not padding
    passage_rank: np.ndarray   # (Q, C) of the candidate's passage, 0 for the best
    keyword_rank: np.ndarray   # (Q, C) of the candidate's passage in the keyword run, -1 when not in it

    @classmethod
    def load(cls, path: Path, name: str) -> "FeatureSet":
        return cls.from_arrays(name, np.load(path))

    @classmethod
    def from_arrays(cls, name: str, data) -> "FeatureSet":
        """From ``bench.answer_features.arrays`` (what a feature file holds)."""
        sizes = data["sizes"]
        width = max(1, int(sizes.max(initial=0)))
        rows = np.repeat(np.arange(len(sizes)), sizes)
        cols = np.arange(len(rows)) - np.repeat(np.cumsum(sizes) - sizes, sizes)

        def pad(values, fill=0):
            out = np.full((len(sizes), width, *values.shape[1:]), fill, dtype=np.float64 if values.dtype.kind == "f"
                          else values.dtype)
            out[rows, cols] = values
            return out

        return cls(name, data["group"], data["answerable"], pad(data["features"]), pad(term_evidence(data)),
                   pad(data["labels"], False), pad(np.ones(len(rows), bool), False),
                   pad(data["passage_rank"].astype(np.int16), -1), pad(data["keyword_rank"].astype(np.int16), -1))

    def part(self, rows: np.ndarray, name: str | None = None) -> "FeatureSet":
        return FeatureSet(name or self.name, *(getattr(self, f)[rows] for f in FIELDS))

    def without_answer_passages(self) -> "FeatureSet":
        """The answerable questions again, as if the passages holding their answer were not indexed:
        those passages' candidates dropped, the rest as retrieved.  No-answer questions whose
        subject is still indexed (its article's other paragraphs, the articles around it), harder
        than those asked of an index without the whole article, and built from any set."""
        keep = self.answerable & (self.labels & self.valid).any(1)
        s = self.part(keep)
        q = np.arange(len(s.group))[:, None]
        holds = np.zeros((len(s.group), int(s.passage_rank.max(initial=0)) + 2), bool)
        holds[np.broadcast_to(q, s.labels.shape)[s.labels & s.valid], s.passage_rank[s.labels & s.valid]] = True
        valid = s.valid & ~holds[q, s.passage_rank]
        return FeatureSet(f"{self.name} without answer passages", s.group, np.zeros(len(s.group), bool),
                          s.features, s.evidence, s.labels & valid, valid, s.passage_rank, s.keyword_rank)


def term_evidence(data) -> np.ndarray:
    """Every candidate's ``search.answers.confidence.evidence_from``, from the feature file's term
    weights and masks (``bench.answer_features.term_rows``): the file holds what the index said, so
    evidence can change without extracting again."""
    weights, pair_weights = per_question(data, "term"), per_question(data, "pair")
    question = np.repeat(np.arange(len(weights)), data["sizes"])

    def held(mask: int) -> frozenset[int]:
        return frozenset(i for i in range(mask.bit_length()) if mask >> i & 1)

    return np.array([evidence_from(weights[q], *(held(int(m)) for m in masks), pair_weights[q], held(int(pairs)))
                     for q, masks, pairs in zip(question, data["term_masks"], data["pair_masks"])]
                    ).reshape(len(question), -1)


def per_question(data, kind: str) -> list[dict[int, float]]:
    """Each question's ``KIND_weights`` (``term`` or ``pair``) by their index in its masks."""
    counts = data[f"{kind}_counts"]
    starts = np.cumsum(counts) - counts
    return [dict(enumerate(data[f"{kind}_weights"][a:a + n].astype(np.float64).tolist())) for a, n in zip(starts, counts)]


FIELDS = ("group", "answerable", "features", "evidence", "labels", "valid", "passage_rank", "keyword_rank")


def concat(sets: list[FeatureSet]) -> FeatureSet:
    width = max(s.valid.shape[1] for s in sets)

    def widen(a):
        return np.pad(a, [(0, 0), (0, width - a.shape[1])] + [(0, 0)] * (a.ndim - 2),
                      constant_values=-1 if a.dtype.kind == "i" else 0)

    return FeatureSet("+".join(s.name for s in sets), *(
        np.concatenate([getattr(s, f) if f in ("group", "answerable") else widen(getattr(s, f)) for s in sets])
        for f in FIELDS))


@dataclass(frozen=True)
class Replay:
    """What ``ask`` does with each question under given ranking weights."""

    has: np.ndarray      # any candidate at all
    correct: np.ndarray  # its best sentence holds a gold answer
    rows: np.ndarray     # the best sentence's confidence features


def replay(s: FeatureSet, weights: np.ndarray) -> Replay:
    """``AnswerFinder.score`` and ``confidence_features`` for every question at once."""
    scores = np.where(s.valid, s.features @ weights, -np.inf)
    order = np.argsort(-scores, axis=1, kind="stable")
    best = order[:, 0]
    q = np.arange(len(best))
    has = s.valid[q, best]
    rows = confidence_rows(s.features[q, best], s.evidence[q, best], keyword_firsts(s, best))
    return Replay(has, has & s.labels[q, best], rows)


def keyword_firsts(s: FeatureSet, best: np.ndarray) -> np.ndarray:
    """``search.answers.confidence.keyword_first`` of each question's ``best`` candidate among its
    valid ones (recomputed for any validity, so the replay without the answer's passages compares
    with the passages that are left).  A candidate's article is told by its ``article`` feature,
    1/(1 + the article's rank among the retrieved articles)."""
    ranks = np.where(s.valid & (s.keyword_rank >= 0), s.keyword_rank, np.iinfo(np.int16).max).astype(np.int32)
    q = np.arange(len(best))
    top = ranks.argmin(1)
    article = s.features[..., FEATURES.index("article")]
    return ((ranks[q, top] < np.iinfo(np.int16).max) & (article[q, top] == article[q, best])).astype(np.float64)


def fit_ranking(s: FeatureSet, l2: float = RANK_L2, steps: int = 50) -> np.ndarray:
    """Listwise softmax regression over the answerable questions with an answer-holding candidate."""
    keep = s.answerable & (s.labels & s.valid).any(1)
    x, valid, labels = s.features[keep], s.valid[keep], s.labels[keep] & s.valid[keep]
    mean, scale = x[valid].mean(0), x[valid].std(0)
    scale[scale == 0] = 1.0
    z = np.where(valid[..., None], (x - mean) / scale, 0.0)
    target = labels / labels.sum(1, keepdims=True)

    def loss(beta):
        s_ = np.where(valid, z @ beta, -np.inf)
        top = s_.max(1)
        return float(np.sum(top + np.log(np.exp(s_ - top[:, None]).sum(1)) - (target * np.where(valid, s_, 0)).sum(1))
                     + 0.5 * l2 * beta @ beta)

    beta = np.zeros(x.shape[-1])
    current = loss(beta)
    for _ in range(steps):
        s_ = np.where(valid, z @ beta, -np.inf)
        p = np.exp(s_ - s_.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        expected = np.einsum("qc,qcf->qf", p, z)
        gradient = (expected - np.einsum("qc,qcf->qf", target, z)).sum(0) + l2 * beta
        hessian = np.einsum("qc,qcf,qcg->fg", p, z, z) - expected.T @ expected + l2 * np.eye(len(beta))
        step, rate = np.linalg.solve(hessian, gradient), 1.0
        while loss(beta - rate * step) > current and rate > 1e-6:
            rate /= 2
        beta, previous, current = beta - rate * step, current, loss(beta - rate * step)
        if previous - current < 1e-10:
            break
    return beta / scale     # the mean only shifts every candidate's score alike


def fit_families(x: np.ndarray, y: np.ndarray, families: tuple[str, ...] = FAMILIES,
                 signs: tuple[int, ...] = SIGNS) -> tuple[np.ndarray, float]:
    """The mean of one ``fit_signed_logistic`` per family of features (each fitted on its own
    columns): a linear model again, whose log-odds are the mean of the families' log-odds.  Fitted
    jointly, a family that adds little on the fitting set beside the other (the term features
    beside TyDi-ar's cosines) gets weight 0 and is then missing where that other family is weaker."""
    weights, bias, names = np.zeros(x.shape[1]), 0.0, sorted(set(families))
    for name in names:
        cols = np.array([f == name for f in families])
        w, b = fit_signed_logistic(x[:, cols], y, tuple(np.array(signs)[cols]))
        weights[cols], bias = w / len(names), bias + b / len(names)
    return weights, bias


def fit_signed_logistic(x: np.ndarray, y: np.ndarray, signs: tuple[int, ...] = SIGNS) -> tuple[np.ndarray, float]:
    """``fit_logistic`` with every weight on the side ``signs`` gives it (0: either): the feature whose
    weight is furthest on the wrong side is left out (weight 0) and the rest refitted, until none is."""
    signs, kept = np.array(signs), np.ones(x.shape[1], bool)
    while True:
        weights = np.zeros(x.shape[1])
        weights[kept], bias = fit_logistic(x[:, kept], y)
        wrong = weights * signs
        if (wrong >= 0).all():
            return weights, bias
        kept[np.argmin(wrong)] = False


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = CONFIDENCE_L2, steps: int = 30) -> tuple[np.ndarray, float]:
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


def confidences(rows: np.ndarray, weights: np.ndarray, bias: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(rows @ weights + bias, -60, 60)))


def answers(s: FeatureSet, r: Replay) -> np.ndarray:
    """What the confidence model learns to tell: the question's best sentence holds a gold answer.
    Not merely "the answer is in the index": answering states the best sentence, and an answerable
    question whose best sentence misses the answer is as wrong a claim as one with no answer indexed,
    so its sentence is a negative (docs/answers.md, "What the confidence is fitted to tell")."""
    return s.answerable & r.correct


def fit(sets: list[FeatureSet], false_claims: float = FALSE_CLAIMS,
        hard_false_claims: float = HARD_FALSE_CLAIMS) -> AnswerModel:
    """The model fitted on ``sets`` (one or several eval sets, or the training folds of them)."""
    weights = fit_ranking(concat(sets))
    replays = [replay(s, weights) for s in sets]
    # The negatives of the eval indexes are easy where a set's articles are far apart (XQuAD-ar's
    # 48): those without the answer's passage teach the model what a related passage looks like.
    negatives = [replay(s.without_answer_passages(), weights) for s in sets]
    x = np.concatenate([r.rows[r.has] for r in replays + negatives])
    y = np.concatenate([answers(s, r)[r.has] for s, r in zip(sets, replays)]
                       + [np.zeros(r.has.sum(), bool) for r in negatives]).astype(float)
    confidence_weights, bias = fit_families(x, y)
    # For each fitting set, the confidence just above its (1 - false_claims) quantile of no-answer
    # questions and its (1 - hard_false_claims) one of those without the answer's passages; the
    # strictest of them, so that pooling an easy set cannot excuse a hard one.
    pools = [(r.rows[~s.answerable & r.has], false_claims) for s, r in zip(sets, replays)]
    pools += [(r.rows[r.has], hard_false_claims) for r in negatives]
    threshold = max(float(np.quantile(confidences(rows, confidence_weights, bias), 1.0 - share, method="higher"))
                    for rows, share in pools if len(rows))
    return AnswerModel(weights, confidence_weights, bias, float(np.nextafter(threshold, 1.0)))


def evaluate(s: FeatureSet, model: AnswerModel) -> dict[str, np.ndarray]:
    """Per question: answered, answered and correct, the top sentence correct, the baseline correct."""
    r = replay(s, model.weights)
    answered = r.has & (confidences(r.rows, model.confidence_weights, model.confidence_bias) >= model.threshold)
    first_dense = np.where(s.valid & (s.passage_rank == 0), s.features[..., 0], -np.inf)
    pick = first_dense.argmax(1)
    baseline = np.isfinite(first_dense.max(1)) & s.labels[np.arange(len(pick)), pick]
    return {"answered": answered, "correct": r.correct, "baseline": baseline}


def summarize(s: FeatureSet, outcome: dict[str, np.ndarray]) -> dict[str, float]:
    a = s.answerable
    return {"questions": int(a.sum()), "no_answer_questions": int((~a).sum()),
            "answered": round(float(outcome["answered"][a].mean()), 3),
            "answered_correct": round(float((outcome["answered"] & outcome["correct"])[a].mean()), 3),
            "false_claims": round(float(outcome["answered"][~a].mean()), 3),
            "acc@1": round(float(outcome["correct"][a].mean()), 3),
            "baseline_acc@1": round(float(outcome["baseline"][a].mean()), 3)}


def fold_of(group: str, folds: int = FOLDS) -> int:
    return int.from_bytes(hashlib.sha256(group.encode()).digest()[:4], "big") % folds


def out_of_fold(sets: list[FeatureSet], folds: int = FOLDS) -> dict[str, dict]:
    """Each question scored by the model fitted on the folds without its article, both sets pooled."""
    fold = [np.array([fold_of(g, folds) for g in s.group]) for s in sets]
    outcomes = [{k: np.zeros(len(s.group), bool) for k in ("answered", "correct", "baseline")} for s in sets]
    for k in range(folds):
        model = fit([s.part(f != k) for s, f in zip(sets, fold)])
        for s, f, out in zip(sets, fold, outcomes):
            for key, values in evaluate(s.part(f == k), model).items():
                out[key][f == k] = values
    return {s.name: summarize(s, out) for s, out in zip(sets, outcomes)}


def leave_one_set_out(sets: list[FeatureSet]) -> tuple[dict[str, dict], dict[str, AnswerModel]]:
    """Each set scored by the model fitted on the others alone, and those models by tested set."""
    results, models = {}, {}
    for s in sets:
        models[s.name] = fit([t for t in sets if t is not s])
        results[s.name] = summarize(s, evaluate(s, models[s.name]))
    return results, models


def load_sets(folder: Path = RESULTS, names: tuple[str, ...] = SETS) -> list[FeatureSet]:
    return [FeatureSet.load(features_path(n, folder), n) for n in names]


def table(rows: dict[str, dict[str, dict]]) -> str:
    lines = ["| set | protocol | questions | answered | answered and correct | no-answer questions | false claims |"
             " acc@1 (top sentence) | baseline acc@1 |", "|" + "---|" * 9]
    for protocol, results in rows.items():
        for name, m in results.items():
            lines.append(f"| {name} | {protocol} | {m['questions']} | {m['answered']:.3f} | {m['answered_correct']:.3f}"
                         f" | {m['no_answer_questions']} | {m['false_claims']:.3f} | {m['acc@1']:.3f}"
                         f" | {m['baseline_acc@1']:.3f} |")
    return "\n".join(lines)


def shift_table(sets: list[FeatureSet], models: dict[str, AnswerModel]) -> str:
    """Where each set's questions lie: the mean of each confidence feature of the best sentence, and
    the share the leave-one-set-out model answers, for the answerable questions, the no-answer ones
    and the answerable ones without their answer's passages (what moves from set to set)."""
    lines = ["| set | questions | n | answered (fitted on the other set) | "
             + " | ".join(CONFIDENCE_FEATURES) + " |", "|" + "---|" * (4 + len(CONFIDENCE_FEATURES))]
    for s in sets:
        model = models[s.name]
        kinds = {"answerable": (s, s.answerable), "no answer": (s, ~s.answerable)}
        hard = s.without_answer_passages()
        kinds["without the answer's passages"] = (hard, np.ones(len(hard.group), bool))
        for kind, (t, rows) in kinds.items():
            r = replay(t, model.weights)
            keep = rows & r.has
            answered = confidences(r.rows[keep], model.confidence_weights, model.confidence_bias) >= model.threshold
            means = " | ".join(f"{v:.3f}" for v in r.rows[keep].mean(0))
            lines.append(f"| {s.name} | {kind} | {keep.sum()} | {answered.mean():.3f} | {means} |")
    return "\n".join(lines)


def threshold_table(sets: list[FeatureSet], grid: np.ndarray = np.arange(0.15, 0.476, 0.025)) -> str:
    """Each leave-one-set-out model at thresholds other than its own: the tested set's figures beside
    the fitting set's false claims, those of its answerable questions without the answer's passages
    and its answered share.  Whether any rule on the fitting set picks a threshold that meets the
    targets on the other set in both directions (docs/answers.md)."""
    lines = ["| tested set | threshold | answered | answered and correct | false claims | fitting set:"
             " false claims | without the answer's passages: answered | answered |", "|" + "---|" * 8]
    for s in sets:
        fitting = [t for t in sets if t is not s]
        model = fit(fitting)
        for threshold in grid:
            at = dataclasses.replace(model, threshold=float(threshold))
            test, train = summarize(s, evaluate(s, at)), summarize(concat(fitting), evaluate(concat(fitting), at))
            hard = concat([t.without_answer_passages() for t in fitting])
            lines.append(f"| {s.name} | {threshold:.3f} | {test['answered']:.3f} | {test['answered_correct']:.3f}"
                         f" | {test['false_claims']:.3f} | {train['false_claims']:.3f}"
                         f" | {evaluate(hard, at)['answered'].mean():.3f} | {train['answered']:.3f} |")
    return "\n".join(lines)


@click.command()
@click.option("--features", "folder", type=click.Path(exists=True, file_okay=False), default=str(RESULTS),
              show_default=True, help="Where bench.answer_features wrote its files.")
@click.option("--model-out", type=click.Path(dir_okay=False), default=str(SHIPPED_PATH), show_default=True,
              help="Where the model fitted on every set goes (the shipped one by default).")
@click.option("--save-loso", type=click.Path(file_okay=False), default=None,
              help="Also write each leave-one-set-out model as DIR/loso-SET.json (SET: the set it is tested on).")
@click.option("--out", type=click.Path(dir_okay=False), default=str(RESULTS / "answers-cv.json"), show_default=True,
              help="The out-of-fold and leave-one-set-out figures as JSON.")
@click.option("--shift", is_flag=True, help="Also print where each set's questions lie (shift_table).")
@click.option("--thresholds", is_flag=True,
              help="Also print each leave-one-set-out model at other thresholds (threshold_table).")
def main(folder, model_out, save_loso, out, shift, thresholds):
    """Fit the answer model on every set, and report it out-of-fold and leave-one-set-out."""
    sets = load_sets(Path(folder))
    model = fit(sets)
    model.save(Path(model_out))
    loso, models = leave_one_set_out(sets)
    results = {"out-of-fold": out_of_fold(sets), "leave-one-set-out": loso,
               "in-sample (the model fitted on all)": {s.name: summarize(s, evaluate(s, model)) for s in sets}}
    click.echo(table(results))
    if shift:
        click.echo(shift_table(sets, models))
    if thresholds:
        click.echo(threshold_table(sets))
    write_json({"folds": FOLDS, "rank_l2": RANK_L2, "confidence_l2": CONFIDENCE_L2, "false_claims": FALSE_CLAIMS,
                "hard_false_claims": HARD_FALSE_CLAIMS,
                **results}, Path(out))
    if save_loso:
        Path(save_loso).mkdir(parents=True, exist_ok=True)
        for name, model in models.items():
            model.save(Path(save_loso) / f"loso-{name}.json")


if __name__ == "__main__":  # pragma: no cover
    main()
