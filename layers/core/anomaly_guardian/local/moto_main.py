"""Entry point of the local AWS emulation process: moto's server plus one performance fix and the Cost
Explorer GetAnomalies stand-in (local/cost_explorer.py).

moto's DynamoDB `TransactWriteItems` backs up a table for rollback by deep-copying it once *per
item* of the transaction (100 copies of the whole State table for a 100-item write), so the
detector's versioned state writes get slower with every entity stored. Here the backup is taken
once per table per transaction: the same rollback semantics at O(table) instead of O(items x table).
If moto's code changes shape the patch is skipped (and said so on stderr), never half-applied.
"""

from __future__ import annotations

import inspect
import sys
import textwrap

_NEEDLE = "if table_name and table_name in self.tables:"
_FIXED = "if table_name and table_name in self.tables and table_name not in original_table_state:"


def patch_transact_backup() -> bool:
    from moto.dynamodb import models

    backend = models.DynamoDBBackend
    source = textwrap.dedent(inspect.getsource(backend.transact_write_items))
    if source.count(_NEEDLE) != 1:
        print("moto_main: TransactWriteItems backup patch not applied (moto changed)", file=sys.stderr)
        return False
    namespace: dict = {}
    exec(compile(source.replace(_NEEDLE, _FIXED), models.__file__, "exec"), vars(models), namespace)  # noqa: S102
    backend.transact_write_items = namespace["transact_write_items"]
    return True


def main(argv: list[str] | None = None) -> None:
    from anomaly_guardian.local.cost_explorer import install

    patch_transact_backup()
    install()  # GetAnomalies, which moto lacks (local/cost_explorer.py)
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
