"""``python -m aesens.dataset generate``: render the generated IRMAS-format dataset."""

import sys

from aesens.errors import run_cli
from aesens.synth import main

sys.exit(run_cli(main))
