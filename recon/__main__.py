"""``python -m recon``: the command line (also ``torchrun --nproc_per_node N -m recon train ...``)."""

import sys

from .app.cli import main

sys.exit(main())
