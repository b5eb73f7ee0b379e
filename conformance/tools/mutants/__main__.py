"""`python -m conformance.tools.mutants` (`make mutants`)."""

import sys

from conformance.tools.mutants.cli import main

sys.exit(main())
