"""`python -m caviar ...` runs the same CLI as the `caviar` console script."""

from caviar.cli import main

raise SystemExit(main())
