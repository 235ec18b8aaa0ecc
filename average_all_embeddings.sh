#!/usr/bin/env bash
# Average every embeddings file per audio file: for each embedding present in
# the original-audio file, the original and every grid value of every effect
# (the grids come from aesens.effects).
#
# Usage: ./average_all_embeddings.sh [SPLIT_CSV] [EMBEDDINGS_DIR]
#   SPLIT_CSV       default: train_test_split.csv
#   EMBEDDINGS_DIR  default: embeddings
# Environment: PYTHON (default: python). Effect settings not extracted yet
# (file missing, or without this embedding) are skipped with a message;
# outputs newer than their input and the split are kept (delete them to redo).
set -euo pipefail

split_csv=${1:-train_test_split.csv}
embeddings_dir=${2:-embeddings}
python=${PYTHON:-python}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
original="$embeddings_dir/embeddings.h5"

if [[ ! -f "$split_csv" ]]; then
    echo "error: $split_csv does not exist; run 2A.3_train_test_split.py first" >&2
    exit 2
fi
if [[ ! -f "$original" ]]; then
    echo "error: $original does not exist; run 2A.1_featureExtract_original.py first" >&2
    exit 2
fi

# One line per available input: "<embedding> <input.h5> <output.h5>"; the
# effected settings that are missing are reported and left out.
jobs=$("$python" - "$embeddings_dir" <<'PY'
import sys
from aesens import store
from aesens.effects import EFFECTS

embeddings_dir = sys.argv[1]
original = store.original_path(embeddings_dir)
for embedding in store.list_embeddings(original):
    print(embedding, original, store.averaged_path(embedding, embeddings_dir=embeddings_dir))
    for effect in EFFECTS.values():
        missing = []
        for param in effect.param_strings:
            path = store.effected_path(effect.name, param, embeddings_dir)
            if embedding not in store.list_embeddings(path):
                missing.append(str(path))
                continue
            print(embedding, path,
                  store.averaged_path(embedding, effect.name, param, embeddings_dir))
        if missing:
            print(f"skipping {len(missing)} of {len(effect)} {effect.name} settings of "
                  f"{embedding}, not extracted yet ({', '.join(missing[:2])}, ...)",
                  file=sys.stderr)
PY
)

while read -r embedding input output; do
    [[ -n "$embedding" ]] || continue
    if [[ -f "$output" && "$output" -nt "$input" && "$output" -nt "$split_csv" ]]; then
        continue
    fi
    if [[ "$input" == "$original" ]]; then
        "$python" "$here/average_embeddings.py" "$split_csv" "$input" "$embedding" "$output"
    else
        "$python" "$here/average_embeddings.py" "$split_csv" "$input" "$embedding" "$output" \
            --original "$original"
    fi
done <<< "$jobs"
