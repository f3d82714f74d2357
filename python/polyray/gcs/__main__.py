"""``python -m polyray.gcs``: run a standalone GCS."""

from .server import main

main()
