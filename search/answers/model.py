"""The fitted constants of ``ask``: sentence-ranking weights and the confidence model.

They live in ``model.json`` beside this file, written by ``python -m bench.answer_fit`` from the
committed feature files (docs/answers.md, "Fitting"); nothing here is set by hand, and
``tests/test_answer_model.py`` checks that the file is what the fit gives.  The feature names are
stored with the numbers, so a feature added or reordered without a refit is refused at import.
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from search.answers.confidence import CONFIDENCE_FEATURES
from search.answers.features import FEATURES

SHIPPED_PATH = Path(__file__).with_name("model.json")


@dataclass(frozen=True)
class AnswerModel:
    weights: np.ndarray                # sentence ranking, in FEATURES order
    confidence_weights: np.ndarray     # logistic model on the raw features, CONFIDENCE_FEATURES order
    confidence_bias: float
    threshold: float                   # answer when the confidence reaches it

    def confidence(self, row: np.ndarray) -> float:
        """The logistic model's probability that the best sentence is an answer."""
        z = float(row @ self.confidence_weights + self.confidence_bias)
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))

    def to_dict(self) -> dict:
        return {"features": list(FEATURES), "weights": [float(w) for w in self.weights],
                "confidence_features": list(CONFIDENCE_FEATURES),
                "confidence_weights": [float(w) for w in self.confidence_weights],
                "confidence_bias": float(self.confidence_bias), "threshold": float(self.threshold)}

    @classmethod
    def from_dict(cls, data: dict, where: str = "the answer model") -> "AnswerModel":
        if tuple(data["features"]) != FEATURES or tuple(data["confidence_features"]) != CONFIDENCE_FEATURES:
            raise ValueError(f"{where} was fitted on other features; rerun python -m bench.answer_fit")
        return cls(np.array(data["weights"]), np.array(data["confidence_weights"]),
                   float(data["confidence_bias"]), float(data["threshold"]))

    @classmethod
    def load(cls, path: Path) -> "AnswerModel":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")), str(path))

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1) + "\n", encoding="utf-8")


@functools.cache
def shipped() -> AnswerModel:
    """The shipped model, read on first use: ``bench.answer_fit`` imports this module to write a new
    one, which it must be able to do when the file was fitted on features since changed."""
    return AnswerModel.load(SHIPPED_PATH)
