#!/usr/bin/env bash
# Average every embeddings file per audio file: for each embedding present in
# the original-audio file, the original and every grid value of every effect
# (the grids come from aesens.effects).
#
# Usage: ./average_all_embeddings.sh [SPLIT_CSV] [EMBEDDINGS_DIR]
#   SPLIT_CSV       default: train_test_split.csv
#   EMBEDDINGS_DIR  default: embeddings
# Environment: PYTHON, the Python of the project (default: the .venv beside this
# script, else python3 on PATH). Effect settings not extracted yet
# (file missing, or without this embedding) are skipped with a message;
# outputs that record their input and split as they are now (name, size,
# modification time) are kept, others are rewritten.
set -euo pipefail

split_csv=${1:-train_test_split.csv}
embeddings_dir=${2:-embeddings}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ -n "${PYTHON:-}" ]]; then
    python=$PYTHON
elif [[ -x "$here/.venv/bin/python" ]]; then
    python=$here/.venv/bin/python
else
    python=$(command -v python3 || true)
fi
if [[ -z "$python" ]] || ! "$python" -c "import aesens" 2>/dev/null; then
    echo "error: no Python with the aesens package found (tried ${python:-python3}); set" \
         "PYTHON=/path/to/python of the environment where aesens is installed" >&2
    exit 2
fi
original="$embeddings_dir/embeddings.h5"

if [[ ! -f "$split_csv" ]]; then
    echo "error: $split_csv does not exist; run 2A.3_train_test_split.py first" >&2
    exit 2
fi
if [[ ! -f "$original" ]]; then
    echo "error: $original does not exist; run 2A.1_featureExtract_original.py first" >&2
    exit 2
fi

# One Python process averages every available input (starting one process per
# file, as the published loop over average_embeddings.py did, costs about a
# second each); effected settings not extracted yet are reported and left out.
exec "$python" -m aesens.sweep.averaged "$split_csv" "$embeddings_dir"
