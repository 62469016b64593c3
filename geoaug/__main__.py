"""``python -m geoaug``: the command line."""

from .cli import main

main()
