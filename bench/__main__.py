"""`python -m bench` runs the model benchmarks (bench.models); `python -m bench asr_boost [...]`
runs the word-boosting WER comparison (bench.asr_boost)."""

import sys

if sys.argv[1:2] == ["asr_boost"]:
    from bench.asr_boost import main as boost_main

    sys.exit(boost_main(sys.argv[2:]))

from bench.models import main

sys.exit(main())
