"""`python -m bench` runs the model benchmarks (bench.models)."""

import sys

from bench.models import main

sys.exit(main())
