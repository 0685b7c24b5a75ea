"""``python -m remote_buildkit``: the client CLI."""

import sys

from remote_buildkit.client.cli import main

sys.exit(main())
