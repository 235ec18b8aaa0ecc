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
"$python" - "$split_csv" "$embeddings_dir" <<'PY'
import sys

from tqdm.auto import tqdm

from aesens import store
from aesens.sweep.caches import ensure_averaged, list_raw_embeddings
from aesens.effects import EFFECTS
from aesens.errors import run_cli

split_csv, embeddings_dir = sys.argv[1], sys.argv[2]
original = store.original_path(embeddings_dir)


def main(argv):
    jobs = []
    for embedding in list_raw_embeddings(original):
        jobs.append((embedding, original, store.averaged_path(embedding,
                                                              embeddings_dir=embeddings_dir)))
        for effect in EFFECTS.values():
            missing = []
            for param in effect.param_strings:
                path = store.effected_path(effect.name, param, embeddings_dir)
                if embedding not in list_raw_embeddings(path):
                    missing.append(str(path))
                    continue
                jobs.append((embedding, path, store.averaged_path(embedding, effect.name, param,
                                                                  embeddings_dir)))
            if missing:
                print(f"skipping {len(missing)} of {len(effect)} {effect.name} settings of "
                      f"{embedding}, not extracted yet ({', '.join(missing[:2])}, ...)",
                      file=sys.stderr)
    written = sum(ensure_averaged(split_csv, source, embedding, output,
                                  original_h5=None if source == original else original)
                  for embedding, source, output in tqdm(jobs, desc="averaging", unit="file"))
    print(f"averaged {written} file(s), {len(jobs) - written} already up to date")


sys.exit(run_cli(main))
PY
