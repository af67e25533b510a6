"""`make ml-image` (ml/image.py) on emulated AWS: the repository named by the contract, ECR login, build
and push of ml/container/Dockerfile, the digest URI written to ml/sklearn-image-uri, a re-run reusing
the pushed tag. Docker cannot run here: a recorder stands in for the docker CLI and answers `inspect`
with a digest; what is checked is every command and AWS call around it."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


class DockerRecorder:
    def __init__(self, digest: str):
        self.calls: list[tuple[list[str], str | None]] = []
        self.digest = digest

    def __call__(self, argv, stdin=None) -> str:
        self.calls.append((list(argv), stdin))
        if argv[1] == "inspect":
            return f"{argv[-1].split(':')[0]}@{self.digest}\n"
        return ""


@pytest.fixture
def contract(aws):
    from anomaly_guardian.adapters.dynamodb import client

    ecr, ssm = client("ecr"), client("ssm")
    repo = ecr.create_repository(
        repositoryName="anomaly-guardian-dev-ml-jobs",
        imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
    )["repository"]["repositoryUri"]
    ssm.put_parameter(Name="/anomaly-guardian/dev/ml/job-image-repository", Value=repo, Type="String")
    ssm.put_parameter(Name="/anomaly-guardian/dev/ml/sklearn-image-uri", Value=f"{repo}:not-built", Type="String")
    return ecr, ssm, repo


def test_build_pushes_the_dockerfile_and_writes_the_digest_uri_into_the_contract(contract):
    from ml.image import CONTEXT, build_and_publish

    ecr, ssm, repo = contract
    docker = DockerRecorder("sha256:" + "ab" * 32)
    uri = build_and_publish("dev", "abc123def456", ecr, ssm, run=docker)

    assert uri == f"{repo}@sha256:{'ab' * 32}"
    assert ssm.get_parameter(Name="/anomaly-guardian/dev/ml/sklearn-image-uri")["Parameter"]["Value"] == uri
    verbs = [argv[1] for argv, _ in docker.calls]
    assert verbs == ["login", "build", "push", "inspect"]
    (login, password), (build, _), (push, _) = docker.calls[:3]
    token = ecr.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    assert password == base64.b64decode(token).decode().split(":", 1)[1]  # via stdin, never argv
    assert password not in " ".join(login) and login[-1] == repo.split("/")[0]
    assert build[-3:] == ["-f", str(CONTEXT / "Dockerfile"), str(CONTEXT)] and f"{repo}:abc123def456" in build
    assert push[-1] == f"{repo}:abc123def456"


def test_a_rerun_reuses_the_pushed_tag_instead_of_rebuilding(contract):
    from ml.image import build_and_publish

    ecr, ssm, repo = contract
    manifest = '{"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json"}'
    pushed = ecr.put_image(repositoryName="anomaly-guardian-dev-ml-jobs", imageManifest=manifest, imageTag="t1")
    docker = DockerRecorder("sha256:" + "00" * 32)
    uri = build_and_publish("dev", "t1", ecr, ssm, run=docker)
    assert docker.calls == [] and uri == f"{repo}@{pushed['image']['imageId']['imageDigest']}"


def test_without_the_repository_in_the_contract_it_says_what_to_do(aws):
    from anomaly_guardian.adapters.dynamodb import client
    from ml.image import build_and_publish

    with pytest.raises(SystemExit, match="apply the Terraform environment first"):
        build_and_publish("dev", "t", client("ecr"), client("ssm"), run=DockerRecorder("x"))


def test_the_pipeline_refuses_an_image_that_was_never_built():
    from ml.pipeline import SSM_NAMES, MlSettings

    values = {f"/anomaly-guardian/dev/{v}": f"value-{k}" for k, v in SSM_NAMES.items()}
    values["/anomaly-guardian/dev/ml/sklearn-image-uri"] = "1.dkr.ecr.us-east-1.amazonaws.com/x:not-built"
    with pytest.raises(ValueError, match="make ml-image ENV=dev"):
        MlSettings.from_ssm("dev", values.get, "us-east-1")
    del values["/anomaly-guardian/dev/ml/sklearn-image-uri"]
    with pytest.raises(ValueError, match="ml/sklearn-image-uri is missing"):
        MlSettings.from_ssm("dev", values.get, "us-east-1")
