"""``python -m harness.cli``: the ``scalecheck`` command."""

import sys

from harness.cli import main

sys.exit(main())
