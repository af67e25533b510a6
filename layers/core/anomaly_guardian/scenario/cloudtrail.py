"""Generated CloudTrail trails with labelled usage episodes (`guardian eval-usage`, tests, the demo).

A trail is what an account's trail delivers: CloudTrail records (the fields the usage path reads),
over `days` days, with the noise a real account has and the episodes the usage detector must find.

Background (every shape): Lambda functions invoked by AWS services with a daily cycle (busier in the
working day, quieter at night and on weekends), a busy controller role polling Describe* APIs, an
autoscaling group launching and terminating instances at its morning scale-out and evening scale-in,
an EBS CSI driver creating volumes for pods, and deploys (one to three a day at working hours) where
the CI role updates stacks and functions and smoke-tests them with a burst of invocations.

Episodes (labelled; each with its records' eventIDs and the API keys it touches):
- `lambda_loop`: a function invoking itself (or through a queue) at tens of calls per second;
- `leaked_key`: an IAM user's access key used from an unknown address, probing then launching GPU
  instances in several regions (with UnauthorizedOperation errors on the way);
- `createvolume_burst`: a role creating dozens of volumes in minutes;
- `runinstances_burst`: a role launching a burst of ordinary instances.

Account shapes: `small` (a few functions, low rates), `busy` (many functions, a controller making
hundreds of calls per 5 minutes), `org` (an organization trail: three member accounts, four regions).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

START = datetime(2026, 3, 2, tzinfo=UTC)  # a Monday
SHAPES = ("small", "busy", "org")
EPISODE_KINDS = ("lambda_loop", "leaked_key", "createvolume_burst", "runinstances_burst")
ACCOUNT = "123456789012"
ASG_ROLE = "AWSServiceRoleForAutoScaling"


@dataclass(frozen=True)
class Shape:
    functions: int
    invoke_peak: float  # mean invocations per function per 5 min at the daily peak
    controller_peak: float  # Describe* calls per 5 min at the peak
    accounts: tuple[str, ...]
    regions: tuple[str, ...]
    asg_instances: int  # instances the morning scale-out launches


SHAPE_SPECS = {
    "small": Shape(4, 12.0, 20.0, (ACCOUNT,), ("eu-west-1",), 3),
    "busy": Shape(10, 40.0, 200.0, (ACCOUNT,), ("us-east-1", "us-west-2"), 12),
    # `make demo`: two functions and a light controller, a trail small enough to stream locally in seconds
    "demo": Shape(2, 6.0, 10.0, (ACCOUNT,), ("eu-west-1",), 2),
    "org": Shape(
        8,
        25.0,
        150.0,
        (ACCOUNT, "210987654321", "345678901234"),
        ("us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-2"),
        6,
    ),
}


@dataclass
class Episode:
    kind: str
    start: datetime
    end: datetime
    apis: set[str] = field(default_factory=set)
    event_ids: set[str] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "apis": sorted(self.apis),
            "events": len(self.event_ids),
        }


@dataclass
class Trail:
    records: list[dict[str, Any]]
    episodes: list[Episode]
    days: int
    shape: str
    seed: int


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds").replace("+00:00", "Z")


def daily_factor(t: datetime) -> float:
    """0.15 at night .. 1.0 at the 14:00 UTC peak on weekdays; weekends at 40%."""
    hour = t.hour + t.minute / 60
    day = 0.15 + 0.85 * max(0.0, math.cos((hour - 14) / 24 * 2 * math.pi)) ** 1.5
    return day * (0.4 if t.weekday() >= 5 else 1.0)


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0:
        return 0
    if lam > 50:
        return max(0, round(rng.gauss(lam, math.sqrt(lam))))
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


class _Builder:
    def __init__(self, seed: int, shape: str) -> None:
        self.rng = random.Random(seed)
        self.spec = SHAPE_SPECS[shape]
        self.records: list[dict[str, Any]] = []
        self.n = 0
        self.seed = seed

    def record(
        self,
        when: datetime,
        source: str,
        name: str,
        identity: dict[str, Any],
        *,
        region: str | None = None,
        account: str | None = None,
        ip: str = "",
        agent: str = "",
        params: dict[str, Any] | None = None,
        error: str | None = None,
        episode: Episode | None = None,
        api: str | None = None,
    ) -> dict[str, Any]:
        self.n += 1
        account = account or self.spec.accounts[0]
        rec: dict[str, Any] = {
            "eventVersion": "1.09",
            "eventID": f"{self.seed:04d}-{self.n:08d}-{self.rng.getrandbits(32):08x}",
            "eventTime": _iso(when),
            "eventSource": f"{source}.amazonaws.com",
            "eventName": name,
            "awsRegion": region or self.spec.regions[0],
            "sourceIPAddress": ip or f"{source}.amazonaws.com",
            "userAgent": agent or f"{source}.amazonaws.com",
            "userIdentity": identity,
            "requestParameters": params,
            "recipientAccountId": account,
            "eventType": "AwsApiCall",
            "managementEvent": name != "Invoke",
            "readOnly": name.startswith(("Describe", "Get", "List")),
        }
        if error:
            rec["errorCode"] = error
            rec["errorMessage"] = "You are not authorized to perform this operation."
        self.records.append(rec)
        if episode is not None:
            episode.event_ids.add(rec["eventID"])
            if api:
                episode.apis.add(api)
        return rec


def _num(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def _role(account: str, name: str, session: str) -> dict[str, Any]:
    return {
        "type": "AssumedRole",
        "principalId": f"AROA{_num(name) % 10**12:012d}:{session}",
        "arn": f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
        "accountId": account,
        "accessKeyId": f"ASIA{_num(name + session) % 10**16:016d}",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": f"arn:aws:iam::{account}:role/{name}"}},
    }


def _service(service: str) -> dict[str, Any]:
    return {"type": "AWSService", "invokedBy": f"{service}.amazonaws.com"}


def _function_arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{account}:function:{name}"


def _background(b: _Builder, days: int) -> list[tuple[str, str, str]]:
    rng, spec = b.rng, b.spec
    functions = []
    for i in range(spec.functions):
        functions.append((f"svc-{i:02d}-worker", rng.choice(spec.accounts), rng.choice(spec.regions)))
    weights = [rng.uniform(0.3, 1.0) for _ in functions]
    invokers = ["sqs", "events", "apigateway", "s3"]
    controller = {a: _role(a, "eks-cluster-autoscaler", "controller") for a in spec.accounts}
    csi = {a: _role(a, "ebs-csi-driver", "node") for a in spec.accounts}
    asg = {
        a: {
            "type": "AssumedRole",
            "arn": f"arn:aws:sts::{a}:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling",
            "invokedBy": "autoscaling.amazonaws.com",
            "accountId": a,
            "sessionContext": {
                "sessionIssuer": {"arn": f"arn:aws:iam::{a}:role/aws-service-role/autoscaling.amazonaws.com/{ASG_ROLE}"}
            },
        }
        for a in spec.accounts
    }
    describe = ["DescribeInstances", "DescribeAutoScalingGroups", "DescribeLaunchTemplateVersions", "DescribeTags"]
    buckets = days * 288
    for k in range(buckets):
        t0 = START + timedelta(seconds=300 * k)
        f = daily_factor(t0)
        for (fn, account, region), w in zip(functions, weights, strict=True):
            for _ in range(_poisson(rng, spec.invoke_peak * w * (0.2 + 0.8 * f))):
                when = t0 + timedelta(seconds=rng.uniform(0, 299.9))
                b.record(
                    when,
                    "lambda",
                    "Invoke",
                    _service(rng.choice(invokers)),
                    region=region,
                    account=account,
                    params={"functionName": _function_arn(account, region, fn)},
                )
        for account in spec.accounts:
            for _ in range(_poisson(rng, spec.controller_peak * (0.5 + 0.5 * f) / len(spec.accounts))):
                when = t0 + timedelta(seconds=rng.uniform(0, 299.9))
                b.record(
                    when,
                    "ec2",
                    rng.choice(describe),
                    controller[account],
                    account=account,
                    region=rng.choice(spec.regions),
                    ip=f"10.0.{rng.randrange(4)}.{rng.randrange(2, 250)}",
                    agent="aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5 md/GOOS#linux",
                )
            for _ in range(_poisson(rng, 1.2 * f)):  # pods asking for volumes
                when = t0 + timedelta(seconds=rng.uniform(0, 299.9))
                b.record(
                    when,
                    "ec2",
                    "CreateVolume",
                    csi[account],
                    account=account,
                    region=spec.regions[0],
                    ip="10.0.1.17",
                    agent="aws-sdk-go-v2/1.30.3 ebs-csi-driver/1.33",
                    params={"volumeType": "gp3", "size": rng.choice([8, 20, 50, 100])},
                )
    for day in range(days):
        date = START + timedelta(days=day)
        weekend = date.weekday() >= 5
        for account in spec.accounts:
            # Morning scale-out in steps of two, evening scale-in; the autoscaling service-linked role.
            n = spec.asg_instances // (2 if weekend else 1)
            t = date + timedelta(hours=7, minutes=rng.uniform(0, 40))
            for _ in range(max(1, n // 2)):
                b.record(
                    t,
                    "ec2",
                    "RunInstances",
                    asg[account],
                    account=account,
                    ip="autoscaling.amazonaws.com",
                    agent="autoscaling.amazonaws.com",
                    params={"instancesSet": {"items": [{"instanceType": "m6i.large", "minCount": 2, "maxCount": 2}]}},
                )
                t += timedelta(minutes=rng.uniform(2, 6))
        # Deploys: the CI role updates the stack and functions, then smoke-tests them.
        if not weekend:
            for _ in range(rng.randint(1, 3)):
                t = date + timedelta(hours=rng.uniform(9, 18))
                account = rng.choice(spec.accounts)
                ci = _role(account, "github-actions-deploy", f"run-{rng.randrange(10**6)}")
                agent = "aws-cli/2.17.20 md/command#cloudformation.deploy"
                for name in ["CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet"] + [
                    "DescribeStackEvents"
                ] * rng.randint(20, 80):
                    b.record(t, "cloudformation", name, ci, account=account, ip="20.42.11.5", agent=agent)
                    t += timedelta(seconds=rng.uniform(0.5, 4))
                for fn, acc, region in functions:
                    if acc != account or rng.random() < 0.5:
                        continue
                    b.record(
                        t,
                        "lambda",
                        "UpdateFunctionCode20150331v2",
                        ci,
                        account=account,
                        region=region,
                        ip="20.42.11.5",
                        agent=agent,
                        params={"functionName": fn},
                    )
                    for _ in range(rng.randint(3, 15)):  # smoke tests
                        t += timedelta(seconds=rng.uniform(0.2, 2))
                        b.record(
                            t,
                            "lambda",
                            "Invoke",
                            ci,
                            account=account,
                            region=region,
                            ip="20.42.11.5",
                            agent=agent,
                            params={"functionName": _function_arn(account, region, fn)},
                        )
    return functions


def _episodes(
    b: _Builder,
    days: int,
    functions: list[tuple[str, str, str]],
    per_kind: int,
    kinds_wanted: tuple[str, ...] = EPISODE_KINDS,
    max_loop_calls: int | None = None,
) -> list[Episode]:
    rng, spec = b.rng, b.spec
    out: list[Episode] = []
    # Episodes after the first full day (the detector's warm-up), never two at once.
    slots = list(range(30, days * 24 - 2))
    rng.shuffle(slots)
    hours = sorted(slots[: per_kind * len(kinds_wanted)])
    kinds = [k for k in kinds_wanted for _ in range(per_kind)]
    rng.shuffle(kinds)
    for kind, hour in zip(kinds, hours, strict=True):
        start = START + timedelta(hours=hour, minutes=rng.uniform(0, 30))
        ep = Episode(kind, start, start)
        t = start
        if kind == "lambda_loop":
            fn, account, region = rng.choice(functions)
            rate = rng.uniform(5, 30)  # calls per second
            calls = int(rate * rng.uniform(300, 1500))
            for _ in range(min(calls, max_loop_calls) if max_loop_calls else calls):
                t += timedelta(seconds=rng.expovariate(rate))
                b.record(
                    t,
                    "lambda",
                    "Invoke",
                    _service("sqs"),
                    region=region,
                    account=account,
                    params={"functionName": _function_arn(account, region, fn)},
                    episode=ep,
                    api=f"lambda:Invoke:{fn}",
                )
        elif kind == "leaked_key":
            account = rng.choice(spec.accounts)
            user = f"deploy-bot-{rng.randrange(100)}"
            ident = {
                "type": "IAMUser",
                "arn": f"arn:aws:iam::{account}:user/{user}",
                "accountId": account,
                "userName": user,
                "accessKeyId": f"AKIA{rng.getrandbits(60):016X}"[:20],
            }
            ip = f"185.220.{rng.randrange(256)}.{rng.randrange(256)}"
            agent = "Boto3/1.28.0 Python/3.10.12 Linux/5.15 Botocore/1.31.0"
            for name in ["GetCallerIdentity", "ListUsers", "DescribeRegions"]:
                b.record(
                    t,
                    "sts" if name == "GetCallerIdentity" else "ec2",
                    name,
                    ident,
                    account=account,
                    ip=ip,
                    agent=agent,
                    episode=ep,
                )
                t += timedelta(seconds=rng.uniform(1, 5))
            regions = rng.sample(
                ["us-east-1", "us-east-2", "us-west-2", "eu-west-1", "ap-northeast-1", "sa-east-1"], rng.randint(3, 6)
            )
            family = rng.choice(["g5", "p3", "g4dn", "p4d"])
            size = {"g5": "12xlarge", "p3": "8xlarge", "g4dn": "12xlarge", "p4d": "24xlarge"}[family]
            for region in regions:
                for attempt in range(rng.randint(2, 6)):
                    error = "Client.InstanceLimitExceeded" if attempt % 3 == 2 else None
                    b.record(
                        t,
                        "ec2",
                        "RunInstances",
                        ident,
                        account=account,
                        region=region,
                        ip=ip,
                        agent=agent,
                        params={
                            "instancesSet": {
                                "items": [
                                    {"instanceType": f"{family}.{size}", "minCount": 1, "maxCount": rng.randint(2, 10)}
                                ]
                            }
                        },
                        error=error,
                        episode=ep,
                        api=f"ec2:RunInstances:{family}",
                    )
                    t += timedelta(seconds=rng.uniform(2, 20))
        elif kind == "createvolume_burst":
            account = rng.choice(spec.accounts)
            ident = _role(account, rng.choice(["batch-runner", "ebs-csi-driver"]), "burst")
            for _ in range(rng.randint(40, 120)):
                t += timedelta(seconds=rng.uniform(0.5, 6))
                b.record(
                    t,
                    "ec2",
                    "CreateVolume",
                    ident,
                    account=account,
                    ip="10.0.3.44",
                    agent="aws-sdk-go-v2/1.30.3",
                    params={"volumeType": "io2", "size": 1000},
                    episode=ep,
                    api="ec2:CreateVolume",
                )
        else:  # runinstances_burst
            account = rng.choice(spec.accounts)
            ident = _role(account, "legacy-batch", "compromised")
            family = rng.choice(["c5", "m5", "r5"])
            for _ in range(rng.randint(15, 40)):
                t += timedelta(seconds=rng.uniform(1, 15))
                b.record(
                    t,
                    "ec2",
                    "RunInstances",
                    ident,
                    account=account,
                    ip="203.0.113.80",
                    agent="aws-cli/2.9.0",
                    params={
                        "instancesSet": {"items": [{"instanceType": f"{family}.4xlarge", "minCount": 1, "maxCount": 1}]}
                    },
                    episode=ep,
                    api=f"ec2:RunInstances:{family}",
                )
        ep.end = t
        out.append(ep)
    return out


def generate_trail(
    seed: int = 1,
    days: int = 7,
    shape: str = "busy",
    episodes_per_kind: int = 2,
    kinds: tuple[str, ...] = EPISODE_KINDS,
    max_loop_calls: int | None = None,
) -> Trail:
    """A labelled trail; records sorted by eventTime."""
    if shape not in SHAPE_SPECS:
        raise ValueError(f"unknown account shape {shape!r}; one of {', '.join(SHAPES)}")
    if days < 2:
        raise ValueError("a trail needs at least 2 days (one of warm-up)")
    b = _Builder(seed, shape)
    functions = _background(b, days)
    episodes = _episodes(b, days, functions, episodes_per_kind, kinds, max_loop_calls) if episodes_per_kind else []
    b.records.sort(key=lambda r: r["eventTime"])
    return Trail(b.records, episodes, days, shape, seed)


def records_of(trails: Iterable[Trail]) -> Iterable[dict[str, Any]]:
    for trail in trails:
        yield from trail.records
