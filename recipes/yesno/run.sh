#!/usr/bin/env bash
# bash recipes/yesno/run.sh [SOURCE_DIR] [RUN_DIR]: see recipes/run.sh
exec bash "$(dirname "$0")/../run.sh" yesno "$@"
