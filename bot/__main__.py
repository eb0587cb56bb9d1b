"""Lets `python -m bot` behave exactly like the `baseten-bot` console script."""

import sys

from bot.app.cli import main

sys.exit(main())
