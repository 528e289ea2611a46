"""``python -m tensorderiv``: the command line."""

from .cli.app import main

raise SystemExit(main())
