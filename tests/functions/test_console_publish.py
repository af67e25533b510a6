"""`guardian console publish` (what `make deploy` runs) against emulated S3, SSM and CloudFront (moto).

Given the SSM contract Terraform and the SAM stack write and a console build, When published, Then the
bucket holds the build with the right caching, a config.json naming the API, the hosted UI and the
client, nothing of an older build, and the distribution has an invalidation.
"""

from __future__ import annotations

import json

import pytest

from anomaly_guardian.adapters.dynamodb import client
from anomaly_guardian.cli import main as guardian

BUCKET = "anomaly-guardian-dev-console-123456789012-us-east-1"
API = "https://abc123.execute-api.us-east-1.amazonaws.com/dev"
DOMAIN = "anomaly-guardian-dev-123456789012.auth.us-east-1.amazoncognito.com"


@pytest.fixture
def deployed(aws):
    """The contract after `make tf-apply` and `make sam-deploy`, and the (empty) console bucket."""
    s3 = client("s3")
    s3.create_bucket(Bucket=BUCKET)
    distribution = client("cloudfront").create_distribution(
        DistributionConfig={
            "CallerReference": "console",
            "Comment": "console",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "console-bucket",
                        "DomainName": f"{BUCKET}.s3.us-east-1.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "console-bucket",
                "ViewerProtocolPolicy": "redirect-to-https",
                "MinTTL": 0,
            },
        }
    )["Distribution"]
    console_url = f"https://{distribution['DomainName']}/console/"
    ssm = client("ssm")
    for name, value in {
        "/anomaly-guardian/dev/console/bucket": BUCKET,
        "/anomaly-guardian/dev/console/distribution-id": distribution["Id"],
        "/anomaly-guardian/dev/console/url": console_url,
        "/anomaly-guardian/dev/cognito/domain": DOMAIN,
        "/anomaly-guardian/dev/cognito/client-id": "console-client-id",
        "/anomaly-guardian-app/dev/api-url": API,
    }.items():
        ssm.put_parameter(Name=name, Value=value, Type="String")
    s3.put_object(Bucket=BUCKET, Key="console/assets/index-OLD.js", Body=b"old build")
    return distribution["Id"], console_url


@pytest.fixture
def build(tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(
        '<!doctype html><script type="module" src="/console/assets/index-NEW.js"></script>'
    )
    (tmp_path / "assets/index-NEW.js").write_text("console.log('new')")
    (tmp_path / "assets/index-NEW.css").write_text("body{}")
    (tmp_path / "config.json").write_text('{"apiUrl": ""}')  # a local one must never be published
    return tmp_path


def test_publish_uploads_the_build_writes_config_and_invalidates(deployed, build, capsys):
    distribution_id, console_url = deployed
    assert guardian(["console", "publish", "--env", "dev", "--build", str(build)]) == 0
    s3 = client("s3")
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == [  # under console/ (served at /console/); the old build is gone
        "console/assets/index-NEW.css",
        "console/assets/index-NEW.js",
        "console/config.json",
        "console/index.html",
    ]
    config = s3.get_object(Bucket=BUCKET, Key="console/config.json")
    assert json.loads(config["Body"].read()) == {
        "apiUrl": API,
        "cognito": {"domain": DOMAIN, "clientId": "console-client-id", "redirectUri": console_url},
    }
    assert config["CacheControl"] == "no-store" and config["ContentType"] == "application/json"
    index = s3.head_object(Bucket=BUCKET, Key="console/index.html")
    assert index["CacheControl"] == "no-cache" and index["ContentType"] == "text/html; charset=utf-8"
    asset = s3.head_object(Bucket=BUCKET, Key="console/assets/index-NEW.js")
    assert "immutable" in asset["CacheControl"] and "javascript" in asset["ContentType"]
    (invalidation,) = client("cloudfront").list_invalidations(DistributionId=distribution_id)["InvalidationList"][
        "Items"
    ]
    detail = client("cloudfront").get_invalidation(DistributionId=distribution_id, Id=invalidation["Id"])
    assert detail["Invalidation"]["InvalidationBatch"]["Paths"]["Items"] == ["/*"]
    assert f"open {console_url}" in capsys.readouterr().out


def test_print_config_shows_what_would_be_written(deployed, capsys):
    assert guardian(["console", "publish", "--env", "dev", "--print-config"]) == 0
    assert json.loads(capsys.readouterr().out)["apiUrl"] == API


def test_without_the_contract_it_says_what_to_deploy_first(aws, build, capsys):
    assert guardian(["console", "publish", "--env", "staging", "--build", str(build)]) == 2
    assert "/anomaly-guardian/staging/console/bucket is missing: deploy Terraform" in capsys.readouterr().err


def test_without_a_build_nothing_is_uploaded(deployed, tmp_path, capsys):
    assert guardian(["console", "publish", "--env", "dev", "--build", str(tmp_path / "none")]) == 2
    assert "run make console first" in capsys.readouterr().err
    keys = [o["Key"] for o in client("s3").list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert keys == ["console/assets/index-OLD.js"]
