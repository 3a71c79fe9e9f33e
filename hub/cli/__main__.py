"""``python -m hub.cli``: how ``hub run`` starts its children."""

from . import main

main()
