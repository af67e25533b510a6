"""Anomaly Guardian core: pure detection logic plus thin AWS adapters (see docs/architecture.md)."""

import os as _os

__version__ = "0.1.0"

# `sam local invoke` only passes variables the template declares: LOCAL_AWS_ENDPOINT_URL (empty when
# deployed) carries the local stack's endpoint into the container, and every boto3 client follows it.
if _os.environ.get("LOCAL_AWS_ENDPOINT_URL"):
    _os.environ.setdefault("AWS_ENDPOINT_URL", _os.environ["LOCAL_AWS_ENDPOINT_URL"])
