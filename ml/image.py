"""Build and push the ML job image, then write its URI into the contract: `make ml-image ENV=<env>`.

ml/container/Dockerfile (Python 3.11 + the pins the tests use) -> the environment's ECR repository
(`/anomaly-guardian/<env>/ml/job-image-repository`, created by Terraform: immutable tags, scan on
push, KMS) -> `repository@sha256:<digest>` into `/anomaly-guardian/<env>/ml/sklearn-image-uri`, which
ml/pipeline.py gives every processing and training job. Needs Docker (or a compatible CLI: DOCKER=).
"""

from __future__ import annotations

import argparse
import base64
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONTEXT = ROOT / "ml" / "container"
Runner = Callable[[Sequence[str], str | None], str]  # (argv, stdin) -> stdout


def run_command(argv: Sequence[str], stdin: str | None = None) -> str:
    return subprocess.run(list(argv), input=stdin, capture_output=True, text=True, check=True).stdout


def git_tag() -> str:
    try:
        sha = run_command(["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"]).strip()
        dirty = run_command(["git", "-C", str(ROOT), "status", "--porcelain", "--", "ml/container"]).strip()
        return f"{sha}-dirty" if dirty else sha
    except (OSError, subprocess.CalledProcessError):
        raise SystemExit("no git revision to tag the image with: pass --tag") from None


def build_and_publish(env: str, tag: str, ecr: Any, ssm: Any, run: Runner = run_command, docker: str = "docker") -> str:
    """Returns the digest URI written to the contract."""
    repo_param = f"/anomaly-guardian/{env}/ml/job-image-repository"
    try:
        repository = ssm.get_parameter(Name=repo_param)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        raise SystemExit(f"{repo_param} is missing: apply the Terraform environment first") from None
    image = f"{repository}:{tag}"
    name = repository.split("/", 1)[1]
    try:  # tags are immutable: a tag pushed before (a re-run) is reused, not rebuilt
        found = ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": tag}])["imageDetails"]
    except ecr.exceptions.ImageNotFoundException:
        found = []
    if found:
        return _publish(ssm, env, f"{repository}@{found[0]['imageDigest']}")
    auth = ecr.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(auth["authorizationToken"]).decode().partition(":")
    registry = repository.split("/", 1)[0]
    run([docker, "login", "--username", user, "--password-stdin", registry], password)
    run(
        [
            docker,
            "build",
            "--pull",
            "--platform",
            "linux/amd64",
            "-t",
            image,
            "-f",
            str(CONTEXT / "Dockerfile"),
            str(CONTEXT),
        ],
        None,
    )
    run([docker, "push", image], None)
    digest = run([docker, "inspect", "--format", "{{index .RepoDigests 0}}", image], None).strip()
    if "@sha256:" not in digest:
        raise SystemExit(f"docker inspect gave no repository digest for {image}: {digest!r}")
    return _publish(ssm, env, f"{repository}@{digest.split('@', 1)[1]}")


def _publish(ssm: Any, env: str, uri: str) -> str:
    ssm.put_parameter(Name=f"/anomaly-guardian/{env}/ml/sklearn-image-uri", Value=uri, Type="String", Overwrite=True)
    return uri


def main(argv: list[str] | None = None) -> int:
    import boto3

    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--env", required=True, choices=("dev", "staging", "prod"))
    p.add_argument("--tag", default=None, help="image tag (default: the git revision; tags are immutable)")
    p.add_argument("--region", default=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    args = p.parse_args(argv)
    if not args.region:
        p.error("no region: pass --region or set AWS_REGION")
    session = boto3.Session(region_name=args.region)
    docker = os.environ.get("DOCKER", "docker")
    uri = build_and_publish(
        args.env, args.tag or git_tag(), session.client("ecr"), session.client("ssm"), docker=docker
    )
    print(uri)
    return 0


if __name__ == "__main__":
    sys.exit(main())
