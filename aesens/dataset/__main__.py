"""``python -m aesens.dataset generate``: render the generated IRMAS-format dataset."""

import sys

from aesens.dataset.generate import main
from aesens.errors import run_cli

sys.exit(run_cli(main))
