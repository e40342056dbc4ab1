import sys

from escalate.cli.main import main

sys.exit(main())
