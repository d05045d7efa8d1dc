"""``python -m forwarder.cli``: the same as the ``quietmail`` command."""

import sys

from forwarder.cli import main

sys.exit(main())
