"""``python -m ember_mlx``: the ``ember-mlx`` command (:mod:`ember_mlx.cli`)."""

from ember_mlx.cli import main

raise SystemExit(main())
