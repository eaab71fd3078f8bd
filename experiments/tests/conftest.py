"""The main suite's fixture index, for the archived experiments' own tests (run them with
``python -m pytest experiments/tests``; CI runs ``tests/`` only)."""
from tests.conftest import _isolated_cache, built_index, encoder, engine, index_copy, unfloored  # noqa: F401
