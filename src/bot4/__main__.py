"""``python -m bot4``: the same as the ``bot4`` command."""

from bot4.cli import main

raise SystemExit(main())
