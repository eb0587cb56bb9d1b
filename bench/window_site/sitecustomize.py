"""Loads bench/window_probe.py into every `python -m bot serve` started while this directory is on
PYTHONPATH and WINDOW_PROBE_OUT names a directory: how `bench/window.py --soak-old … --probe` times
the soak's own processes (tests/conftest.py starts them) without touching the soak or the bot.
The bot package is the one in the current directory, as `-m bot` would import it."""

import os
import sys

if os.environ.get("WINDOW_PROBE_OUT") and sys.orig_argv[1:4] == ["-m", "bot", "serve"]:
    sys.path.insert(0, os.getcwd())
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
    import window_probe

    window_probe.install()
