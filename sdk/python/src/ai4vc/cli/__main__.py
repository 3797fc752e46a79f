"""`python -m ai4vc.cli …` runs the same CLI as the `ai4vc` console script."""

from ai4vc.cli.app import main

main()
