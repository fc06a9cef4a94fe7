"""``python -m modelmgmt`` is the ``modelmgmt`` command."""

from modelmgmt.cli import main

raise SystemExit(main())
