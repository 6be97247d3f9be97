"""`python -m cloacina ...`: the `cloacina` command (see `cloacina._command`)."""

import sys

from cloacina._command import main

if __name__ == "__main__":
    sys.exit(main())
