import sys

from uxtop.cli import main

sys.exit(main())
