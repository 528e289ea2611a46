"""``python -m tensorderiv``: the command line."""

from .cli import main

raise SystemExit(main())
