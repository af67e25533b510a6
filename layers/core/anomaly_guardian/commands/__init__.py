"""`guardian` subcommands, one module each (see anomaly_guardian.cli)."""
