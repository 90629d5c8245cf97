"""``python -m forgebench`` is the ``forgebench`` command."""

import sys

from forgebench.cli import main

sys.exit(main())
