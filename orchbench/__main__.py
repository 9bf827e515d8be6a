import os
import sys

import orchbench
from orchbench.cli.app import main

# `python -m orchbench` put the current directory first on sys.path; unless orchbench itself comes from there (a
# source checkout), it goes, so that a json.py or tenacity.py lying there is never imported (pip does the same).
if sys.path and sys.path[0] in ("", os.getcwd()):
    if os.path.dirname(os.path.dirname(os.path.abspath(orchbench.__file__))) != os.path.abspath(sys.path[0] or "."):
        del sys.path[0]

sys.exit(main())
