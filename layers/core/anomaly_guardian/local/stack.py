"""The local stack: moto on loopback + the template's resources + the real handlers wired together.

`LocalStack(options).start()` brings up, in order: the moto server, the template's resources,
the function environment (template variables resolved to the local resources, AWS_ENDPOINT_URL,
dummy credentials), the real handlers, the API Gateway adapter and the event source mappings
(Kinesis, DynamoDB streams, SQS, EventBridge rules). `stop()` shuts everything down in reverse order.
A local OpenSearch fake (`local/opensearch.py`) stands in for the Terraform-owned domain.

Every delivery of a template event source to its function is counted per `Function.EventName`
(`deliveries` in `/_local/stats`): the template-coverage test reads those counters.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from anomaly_guardian.local.apigw import ApiGateway, Authorizer, Route
from anomaly_guardian.local.asyncinvoke import AsyncInvoker
from anomaly_guardian.local.cfn import ACCOUNT_ID, load_template, resources_of
from anomaly_guardian.local.console import ConsoleFiles, console_url
from anomaly_guardian.local.ddbstreams import DynamoDBStreamPoller
from anomaly_guardian.local.eventbridge import AwsServiceEvents, EventBridgeRouter, collect_rules
from anomaly_guardian.local.firehose import FirehoseArchiver, firehose_specs
from anomaly_guardian.local.isolation import restore_router_state, thread_local_router_state
from anomaly_guardian.local.kinesis import KinesisMapping, KinesisPoller
from anomaly_guardian.local.lambda_service import LambdaEndpoint
from anomaly_guardian.local.logs import LogSubscription
from anomaly_guardian.local.opensearch import FakeOpenSearch
from anomaly_guardian.local.resources import FunctionSpec, LocalResources, ResourceBuilder
from anomaly_guardian.local.runtime import FunctionPool, LocalFunction, load_function
from anomaly_guardian.local.schedules import LocalClock, Schedule, Scheduler, parse_duration
from anomaly_guardian.local.server import DUMMY_CREDENTIALS, MotoServer
from anomaly_guardian.local.sqs import SqsMapping, SqsPoller

log = logging.getLogger(__name__)


class _Totals:
    """Counters summed over a function's execution environments."""

    def __init__(self, envs: list[LocalFunction]):
        self.invocations = sum(e.invocations for e in envs)
        self.errors = sum(e.errors for e in envs)
        self.busy_seconds = sum(e.busy_seconds for e in envs)
        self.waited_seconds = sum(e.waited_seconds for e in envs)


class Delivered:
    """One template event source feeding its function: counts every delivery under `key`."""

    def __init__(self, inner: Any, counter: Counter[str], key: str, lock: threading.Lock):
        self.inner, self.spec, self.counter, self.key, self._lock = inner, inner.spec, counter, key, lock

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            self.counter[self.key] += 1
        return self.inner.invoke(event)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def find_repo_root(start: Path | None = None) -> Path:
    """The directory holding `sam/template.yaml`: from cwd upwards, else next to this package."""
    for base in [Path(start or Path.cwd()).resolve(), Path(__file__).resolve()]:
        for candidate in [base, *base.parents]:
            if (candidate / "sam" / "template.yaml").is_file():
                return candidate
    raise FileNotFoundError("sam/template.yaml not found (run from the repository)")


@dataclass
class StackOptions:
    template: Path | None = None
    host: str = "127.0.0.1"
    api_port: int = 3000
    moto_port: int = 0
    shard_count: int = 2
    stack_name: str = "anomaly-guardian-local"
    log_level: str = "INFO"
    metrics: bool = False  # EMF lines on stdout are noise locally
    kinesis_max_retries: int = 3
    model: Path | None = None  # exported detector model to upload for the detector (opt-in)
    schedule_speedup: float = 1.0  # <1 runs rate() schedules more often (tests)
    api_concurrency: int = 3  # execution environments per API function
    moto_in_process: bool = False  # True: ThreadedMotoServer (shares the GIL with the handlers)
    opensearch_port: int = 0  # the local OpenSearch fake (0: a free port)
    archive_buffer_seconds: float = 2.0  # Firehose buffering interval locally (deployed: as Terraform says)
    state_dir: Path | None = None  # write stack.json / env.json here (local/state.py); None: nowhere
    env: dict[str, str] = field(default_factory=dict)
    console_dir: Path | None = None  # the built analyst console (default: <repo>/build/console)


class LocalStack:
    def __init__(self, options: StackOptions | None = None):
        self.o = options or StackOptions()
        self.moto: MotoServer | None = None
        self.resources: LocalResources | None = None
        self.functions: dict[str, LocalFunction] = {}
        self.gateway: ApiGateway | None = None
        self.kinesis_pollers: list[KinesisPoller] = []
        self.sqs_pollers: list[SqsPoller] = []
        self.ddb_pollers: list[DynamoDBStreamPoller] = []
        self.log_subscriptions: list[LogSubscription] = []
        self.invoker: AsyncInvoker | None = None
        self.opensearch: FakeOpenSearch | None = None
        self.archivers: list[FirehoseArchiver] = []
        self.deliveries: Counter[str] = Counter()
        self._deliveries_lock = threading.Lock()
        self.extra_environments: dict[str, list[LocalFunction]] = {}
        self.scheduler = Scheduler(LocalClock(speed=1.0 / (self.o.schedule_speedup or 1.0)))
        self.router: EventBridgeRouter | None = None
        self.service_events: AwsServiceEvents | None = None
        self.api_url = ""
        self.notes: list[str] = []
        self._saved_env: dict[str, str | None] = {}

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> LocalStack:
        import warnings

        import boto3

        warnings.filterwarnings("ignore", message="No application metrics to publish")

        template_path = Path(self.o.template) if self.o.template else find_repo_root() / "sam" / "template.yaml"
        template = load_template(template_path)
        self.lambda_endpoint = LambdaEndpoint(self._by_arn)
        lambda_port = self.lambda_endpoint.serve(self.o.host, 0)
        self.moto = MotoServer(
            self.o.host, self.o.moto_port, in_process=self.o.moto_in_process, lambda_port=lambda_port
        ).start()
        self._set_env(
            {
                **DUMMY_CREDENTIALS,
                "AWS_ENDPOINT_URL": self.moto.url,
                "AWS_ENDPOINT_URL_LAMBDA": f"http://{self.o.host}:{lambda_port}",
            }
        )
        session = boto3.session.Session()
        self.session = session
        self.opensearch = FakeOpenSearch()
        self.opensearch.serve(self.o.host, self.o.opensearch_port)
        builder = ResourceBuilder(
            template,
            template_path.parent,
            session,
            self.moto.url,
            stack_name=self.o.stack_name,
            shard_count=self.o.shard_count,
            opensearch_url=self.opensearch.url,
        )
        self.resources = res = builder.build()
        self.notes.extend(sorted(set(res.resolver.unresolved)))
        self._set_env(self._function_env(res))
        self._seed_model(builder)
        self._start_archive(builder, template_path.parent.parent)
        for logical, spec in res.functions.items():
            try:
                self.functions[logical] = self._load(spec)
            except Exception as exc:  # a broken function must not take the whole stack down
                self.notes.append(f"function {logical} not loaded: {type(exc).__name__}: {exc}")
        self._wire_api(template)
        self._wire_event_sources(builder)
        self._write_state()
        return self

    def _write_state(self) -> None:
        """stack.json for the CLI (cloudtrail send, schedules), env.json for `sam local invoke --env-vars`."""
        if self.o.state_dir is None:
            return
        from anomaly_guardian.local.state import ENV_FILE, STACK_FILE, write_json

        assert self.resources is not None and self.moto is not None
        state = Path(self.o.state_dir)
        write_json(state / STACK_FILE, self.describe())
        endpoint = {"AWS_ENDPOINT_URL": self.moto.url, "LOCAL_AWS_ENDPOINT_URL": self.moto.url}
        env = {
            logical: {**spec.environment, **self._local_overrides(), **endpoint}
            for logical, spec in self.resources.functions.items()
        }
        write_json(state / ENV_FILE, env)
        self._state_files = [state / STACK_FILE, state / ENV_FILE]

    def _load(self, spec: FunctionSpec, instance: int = 0) -> LocalFunction:
        """Import with the function's own variables set, so module-level objects (Logger service
        name, clients) see them; the shared environment is restored afterwards."""
        shared = dict(os.environ)
        own = {**spec.environment, **self._local_overrides()}
        os.environ.update(own)
        try:
            fn = load_function(spec, instance)
        finally:
            for key in own:
                if key in shared:
                    os.environ[key] = shared[key]
                else:
                    os.environ.pop(key, None)
        if instance:
            self.extra_environments.setdefault(spec.logical_id, []).append(fn)
        return fn

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.shutdown()
        if getattr(self, "lambda_endpoint", None) is not None:
            self.lambda_endpoint.shutdown()
        pollers = [*self.kinesis_pollers, *self.ddb_pollers, *self.log_subscriptions, *self.sqs_pollers]
        pollers += self.archivers  # after the producers: their last records are still archived
        for poller in [*pollers, self.scheduler, *([self.router] if self.router else [])]:
            poller.stop()
        if self.service_events is not None:
            self.service_events.stop()
        if self.opensearch is not None:
            self.opensearch.shutdown()
        if self.moto is not None:
            self.moto.stop()
        restore_router_state()
        for path in getattr(self, "_state_files", []):
            path.unlink(missing_ok=True)
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    def __enter__(self) -> LocalStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ environment
    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _function_env(self, res: LocalResources) -> dict[str, str]:
        """One process hosts every function: the union of their variables stays set for calls made at
        invocation time; per-function values (service names) are applied while each module is imported."""
        env: dict[str, str] = {}
        differing: set[str] = set()
        for spec in res.functions.values():
            for key, value in spec.environment.items():
                if env.setdefault(key, value) != value:
                    differing.add(key)
        for key in differing:  # per-function only (e.g. POWERTOOLS_SERVICE_NAME)
            env.pop(key)
        if "EVENTS_STREAM_NAME" not in env and res.streams:
            env["EVENTS_STREAM_NAME"] = next(iter(res.streams))
        env.update(self._local_overrides())
        return env

    def _seed_model(self, builder: ResourceBuilder) -> None:
        """Opt-in (`guardian local --model ml/artifacts/model.npz`): put an exported model where the
        detector loads it from. Without it the detector runs its statistical detectors only."""
        bucket, key = os.environ.get("MODEL_BUCKET"), os.environ.get("MODEL_KEY")
        if not self.o.model or not (bucket and key):
            return
        model = Path(self.o.model)
        if not model.is_file():
            raise FileNotFoundError(f"model {model} not found (make train writes ml/artifacts/model.npz)")
        builder.client("s3").put_object(Bucket=bucket, Key=key, Body=model.read_bytes())
        self.notes.append(f"model {model} uploaded to s3://{bucket}/{key}")

    def _start_archive(self, builder: ResourceBuilder, root: Path) -> None:
        """Terraform's Kinesis -> Firehose -> S3 archive (local/firehose.py), into the template's bucket."""
        res = self.resources
        assert res is not None
        stream = os.environ.get("EVENTS_STREAM_NAME") or next(iter(res.streams), None)
        for spec in firehose_specs(root):
            params = builder.t.get("Parameters") or {}
            bucket_param = next(
                (p for p, d in params.items() if str(d.get("Default", "")).endswith(f"/{spec.bucket_key}-bucket")), None
            )
            bucket = res.resolver.refs.get(bucket_param) if bucket_param else None
            if not stream or not bucket:
                self.notes.append(
                    f"Firehose {spec.resource}: no local stream or {spec.bucket_key} bucket; not archived"
                )
                continue
            name = f"{self.o.stack_name}-{spec.name_suffix}"
            kms = builder._kms_key_arn()
            with contextlib.suppress(Exception):  # DescribeDeliveryStream locally; the archiver does the work
                builder.client("firehose").create_delivery_stream(
                    DeliveryStreamName=name,
                    DeliveryStreamType="KinesisStreamAsSource",
                    KinesisStreamSourceConfiguration={
                        "KinesisStreamARN": res.streams.get(stream, ""),
                        "RoleARN": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}-firehose",
                    },
                    ExtendedS3DestinationConfiguration={
                        "RoleARN": f"arn:aws:iam::{ACCOUNT_ID}:role/{name}-firehose",
                        "BucketARN": f"arn:aws:s3:::{bucket}",
                        "Prefix": spec.prefix,
                        "ErrorOutputPrefix": spec.error_prefix,
                        "BufferingHints": {"SizeInMBs": spec.buffer_mb, "IntervalInSeconds": spec.buffer_seconds},
                        "CompressionFormat": spec.compression,
                    },
                )
            archiver = FirehoseArchiver(
                spec,
                stream,
                name,
                str(bucket),
                kms,
                builder.client("kinesis"),
                builder.client("s3"),
                buffer_seconds=self.o.archive_buffer_seconds,
            )
            archiver.start()
            self.archivers.append(archiver)

    def _local_overrides(self) -> dict[str, str]:
        return {
            "ENVIRONMENT": "local",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": self.o.log_level,
            "LOG_LEVEL": self.o.log_level,
            "POWERTOOLS_METRICS_DISABLED": "false" if self.o.metrics else "true",
            # Local only: webhooks may target a receiver on 127.0.0.1 (never set in the template).
            "GUARDIAN_WEBHOOK_ALLOW_LOOPBACK": "true",
            "MODEL_REFRESH_SECONDS": "2",  # a promoted model is picked up in seconds (60 s deployed)
            **self.o.env,
        }

    # ------------------------------------------------------------------ wiring
    def _by_arn(self, arn: Any) -> LocalFunction | None:
        for fn in self.functions.values():
            if fn.spec.arn == arn or fn.spec.name == arn:
                return fn
        return None

    def _wire_api(self, template: dict[str, Any]) -> None:
        res = self.resources
        assert res is not None
        routes: list[Route] = []
        keys: list[str] = []
        for logical, spec in res.functions.items():
            for event_name, event in spec.events.items():
                if event.get("Type") != "Api" or logical not in self.functions:
                    continue
                keys.append(f"{logical}.{event_name}")
                props = event.get("Properties") or {}
                auth = (props.get("Auth") or {}).get("Authorizer")
                if auth == "AWS_IAM":
                    self.notes.append(
                        f"{props.get('Method', 'ANY').upper()} {props['Path']} is AWS_IAM in the template; locally it "
                        "takes the same bearer token as the other routes (checked by the template's authorizer)"
                    )
                routes.append(
                    Route(
                        method=str(props.get("Method", "ANY")).upper(),
                        resource=str(props["Path"]),
                        function=self.functions[logical],
                        auth=auth != "NONE",
                    )
                )
        # Powertools' event handler keeps the current event on a class attribute (one per process in
        # Lambda). Make it per-thread so API functions run concurrently; if that is not possible,
        # every API function shares one lock (correct, slower).
        if thread_local_router_state():
            # Concurrent requests get their own execution environments, as Lambda would scale out.
            pools: dict[str, FunctionPool] = {}
            for route in routes:
                logical = route.function.spec.logical_id
                if logical not in pools:
                    extra = [self._load(route.function.spec, i) for i in range(1, self.o.api_concurrency)]
                    pools[logical] = FunctionPool([route.function, *extra])
                route.function = pools[logical]  # type: ignore[assignment]
        else:
            self.notes.append("Powertools router state is process-wide: API functions take turns")
            resolver_lock = threading.Lock()
            for route in routes:
                route.function.lock = resolver_lock
        for route, key in zip(routes, keys, strict=True):
            route.function = self._counted(route.function, key)  # type: ignore[assignment]
        authorizer = None
        api_props = [*res.apis.values(), (template.get("Globals") or {}).get("Api") or {}]
        for props in api_props:
            auth = props.get("Auth") or {}
            default = auth.get("DefaultAuthorizer")
            spec = (auth.get("Authorizers") or {}).get(default) if default else None
            if not spec:
                continue
            fn_arn = res.resolver.resolve(spec.get("FunctionArn"))
            fn = self._by_arn(fn_arn)
            if fn is None:
                self.notes.append(f"authorizer {default}: function {fn_arn} not found")
                continue
            identity = spec.get("Identity") or {}
            kind = str(spec.get("FunctionPayloadType", "TOKEN")).upper()
            header = identity.get("Header") or (identity.get("Headers") or ["Authorization"])[0]
            ttl = int(identity.get("ReauthorizeEvery", 300))
            authorizer = Authorizer(function=fn, kind=kind, header=header, ttl=ttl)
            break
        self.gateway = ApiGateway(routes, authorizer, stage="local")
        self.gateway.extra["/_local/stats"] = self.stats
        self.gateway.console = ConsoleFiles(self.o.console_dir or find_repo_root() / "build" / "console")
        self.gateway.extra["/_local/schedules"] = self.scheduler.describe
        self.gateway.admin += [
            ("POST", re.compile(r"^/_local/schedules/([^/]+)/run$"), self._admin_run_schedule),
            ("POST", re.compile(r"^/_local/clock$"), self._admin_clock),
            ("POST", re.compile(r"^/_local/archive/flush$"), self._admin_flush_archive),
        ]
        port = self.gateway.serve(self.o.host, self.o.api_port)
        self.api_url = f"http://{self.o.host}:{port}"
        self._publish_api_url(template)

    def _publish_api_url(self, template: dict[str, Any]) -> None:
        """SSM parameters the template fills with the API's URL (`${Api}` in the Value) get the local one."""
        for raw in template["Resources"].values():
            props = raw.get("Properties") or {}
            if raw.get("Type") != "AWS::SSM::Parameter" or "${Api}" not in json.dumps(props.get("Value")):
                continue
            name = self.resources.resolver.resolve(props.get("Name"))
            self.session.client("ssm", endpoint_url=self.moto.url).put_parameter(
                Name=str(name), Value=self.api_url, Type="String", Overwrite=True
            )

    def _counted(self, fn: Any, key: str) -> Delivered:
        return Delivered(fn, self.deliveries, key, self._deliveries_lock)

    @staticmethod
    def _stream_mapping(props: dict[str, Any], fn: Any, stream: str, stream_arn: str, retries: int) -> KinesisMapping:
        return KinesisMapping(
            stream_name=stream,
            stream_arn=stream_arn,
            function=fn,
            batch_size=int(props.get("BatchSize") or 100),
            starting_position=str(props.get("StartingPosition") or "TRIM_HORIZON"),
            max_retries=retries,
            report_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            on_failure_arn=((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination"),
            bisect_on_error=bool(props.get("BisectBatchOnFunctionError")),
        )

    def _wire_event_sources(self, builder: ResourceBuilder) -> None:
        res = self.resources
        assert res is not None
        kinesis = builder.client("kinesis")
        sqs = builder.client("sqs")
        sns = builder.client("sns")
        self.invoker = AsyncInvoker(sqs, sns)
        for logical, spec in res.functions.items():
            fn = self.functions.get(logical)
            if fn is None:
                continue
            for name, event in spec.events.items():
                kind, props = event.get("Type"), event.get("Properties") or {}
                key = f"{logical}.{name}"
                item_failures = "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])
                retries = props.get("MaximumRetryAttempts")
                retries = self.o.kinesis_max_retries if retries in (None, -1) else int(retries)
                if kind == "Kinesis":
                    stream_arn = str(props.get("Stream") or "")
                    stream = stream_arn.rsplit("/", 1)[-1] or next(iter(res.streams))
                    envs = [fn, *(self._load(spec, i) for i in range(1, self.o.shard_count))]
                    counted = [self._counted(e, key) for e in envs]
                    arn = res.streams.get(stream, stream_arn)
                    mapping = self._stream_mapping(props, counted[0], stream, arn, retries)
                    poller = KinesisPoller(mapping, kinesis, sqs=sqs, sns=sns, environments=counted)  # type: ignore[arg-type]
                    poller.start()
                    self.kinesis_pollers.append(poller)
                elif kind == "DynamoDB":
                    stream_arn = str(props.get("Stream") or "")
                    table = stream_arn.split(":table/", 1)[-1].split("/stream", 1)[0]
                    if table not in res.tables.values():
                        self.notes.append(f"{key}: DynamoDB stream {stream_arn} is not a table of the template")
                        continue
                    mapping = self._stream_mapping(props, self._counted(fn, key), table, stream_arn, retries)
                    ddb_poller = DynamoDBStreamPoller(
                        mapping, builder.client("dynamodbstreams"), table, builder.client("dynamodb"), sqs=sqs, sns=sns
                    )
                    ddb_poller.start()
                    self.ddb_pollers.append(ddb_poller)
                elif kind == "SQS":
                    queue_arn = str(props.get("Queue"))
                    queue = next((q for q in res.queues.values() if q["arn"] == queue_arn), None)
                    if queue is None:
                        self.notes.append(f"{logical}.{name}: queue {queue_arn} not in template")
                        continue
                    poller = SqsPoller(
                        SqsMapping(
                            queue["url"],
                            queue["arn"],
                            self._counted(fn, key),  # type: ignore[arg-type]
                            int(props.get("BatchSize") or 10),
                            item_failures,
                        ),
                        sqs,
                    )
                    poller.start()
                    self.sqs_pollers.append(poller)
                elif kind == "CloudWatchLogs":
                    self._wire_log_subscription(builder, key, props, self._counted(fn, key))
                elif kind in ("EventBridgeRule", "CloudWatchEvent") and props.get("Pattern"):
                    pass  # wired with the template's other rules (_wire_rules)
                elif kind in ("Schedule", "ScheduleV2"):
                    expression = str(props.get("ScheduleExpression") or props.get("Schedule"))
                    if str(props.get("ScheduleExpressionTimezone") or "UTC") != "UTC":
                        self.notes.append(f"{key}: {props['ScheduleExpressionTimezone']} is evaluated as UTC locally")
                    self._add_schedule(key, str(props.get("Name") or key), expression, props.get("Input"), fn)
                elif kind not in ("Api", None):
                    what = f"{kind} {props.get('ScheduleExpression', '')}".strip()
                    self.notes.append(f"{logical}.{name}: {what} events are not emulated locally")
        self._wire_rules(builder)
        self.scheduler.start()

    def _add_schedule(self, key: str, name: str, expression: str, payload: Any, fn: Any) -> None:
        assert self.invoker is not None
        invoker, counted = self.invoker, self._counted(fn, key)

        def deliver(event: dict[str, Any]) -> bool:
            return invoker.invoke(counted, event)

        text = payload if payload is None or isinstance(payload, str) else json.dumps(payload)
        try:
            self.scheduler.add(Schedule(key=key, name=name, expression=expression, deliver=deliver, payload=text))
        except ValueError as exc:
            self.notes.append(f"{key}: {exc}")

    def _wire_rules(self, builder: ResourceBuilder) -> None:
        """EventBridge rules with patterns (function events and AWS::Events::Rule resources) and the
        template's other schedules (rules with a ScheduleExpression, AWS::Scheduler::Schedule)."""
        res = self.resources
        assert res is not None and self.invoker is not None
        template = builder.t["Resources"]
        for logical, raw in template.items():
            kind = raw.get("Type")
            if kind not in ("AWS::Events::Rule", "AWS::Scheduler::Schedule"):
                continue
            props = res.resolver.resolve(raw.get("Properties") or {})
            expression = props.get("ScheduleExpression")
            if not expression:
                continue
            targets = props.get("Targets") or ([props["Target"]] if props.get("Target") else [])
            for t in targets:
                fn = self._by_arn(t.get("Arn"))
                key = f"{logical}.{t.get('Id', 'Target')}"
                if fn is None:
                    self.notes.append(f"{key}: schedule target {t.get('Arn')} is not a function of the template")
                    continue
                self._add_schedule(key, str(props.get("Name") or logical), str(expression), t.get("Input"), fn)
        rules = collect_rules(template, res.functions, res.resolver.resolve)
        self._stand_in_pipelines(builder, rules)
        self.router = EventBridgeRouter(
            builder.client, self.o.stack_name, self._by_arn, self.invoker, self._count_delivery
        )
        self.router.wire(rules)
        self.service_events = AwsServiceEvents(builder.client, rules)
        self.service_events.start()

    def _stand_in_pipelines(self, builder: ResourceBuilder, rules: list[Any]) -> None:
        """SageMaker pipelines the template starts (rule targets) are upserted outside it (`make
        ml-pipeline`); locally a minimal pipeline of that name stands in, so starting it works."""
        sm = builder.client("sagemaker")
        for rule in rules:
            for target in rule.targets:
                if ":sagemaker:" not in target.arn or ":pipeline/" not in target.arn:
                    continue
                name = target.arn.rsplit("/", 1)[-1]
                params = [{"Name": p["Name"], "Type": "String", "DefaultValue": ""} for p in target.pipeline_parameters]
                params.append({"Name": "ChampionPrAuc", "Type": "Float", "DefaultValue": 0.0})
                definition = {"Version": "2020-12-01", "Parameters": params, "Steps": []}
                if name in {p["PipelineName"] for p in sm.list_pipelines().get("PipelineSummaries", [])}:
                    continue  # already upserted (e.g. by the ML tooling against the emulation)
                sm.create_pipeline(
                    PipelineName=name,
                    PipelineDefinition=json.dumps(definition),
                    RoleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{self.o.stack_name}-sagemaker",
                )
                self.notes.append(f"SageMaker pipeline {name}: a stand-in with no steps (make ml-pipeline upserts it)")

    def _count_delivery(self, key: str) -> None:
        with self._deliveries_lock:
            self.deliveries[key] += 1

    # ------------------------------------------------------------------ admin endpoints (local only)
    def _admin_run_schedule(self, match: Any, body: bytes) -> tuple[int, Any]:
        try:
            return 200, self.scheduler.run(match.group(1))
        except KeyError:
            names = [s.name for s in self.scheduler.schedules]
            return 404, {"message": f"no schedule {match.group(1)!r}; schedules: {names}"}

    def _admin_flush_archive(self, match: Any, body: bytes) -> tuple[int, Any]:
        keys = [k for k in (a.flush() for a in self.archivers) if k]
        return 200, {"written": keys, "archives": [a.stats.as_dict() | {"bucket": a.bucket} for a in self.archivers]}

    def _admin_clock(self, match: Any, body: bytes) -> tuple[int, Any]:
        try:
            request = json.loads(body or b"{}")
            self.scheduler.advance(parse_duration(request.get("advance", 0)))
        except (ValueError, AttributeError) as exc:
            return 400, {"message": f'{exc}; send {{"advance": "1d"}} (s, m, h, d, w)'}
        return 200, self.scheduler.describe()

    def _wire_log_subscription(self, builder: ResourceBuilder, key: str, props: dict[str, Any], fn: Any) -> None:
        group = str(props.get("LogGroupName") or "")
        if not group:
            self.notes.append(f"{key}: CloudWatchLogs event without a log group name")
            return
        logs = builder.client("logs")
        with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
            logs.create_log_group(logGroupName=group)
        assert self.invoker is not None
        pattern = str(props.get("FilterPattern") or "")
        sub = LogSubscription(logs, group, key.replace(".", "-"), pattern, fn, self.invoker)
        sub.start()
        self.log_subscriptions.append(sub)

    # ------------------------------------------------------------------ introspection
    def stats(self) -> dict[str, Any]:
        return {
            "kinesis": [p.stats.as_dict() | {"stream": p.m.stream_name} for p in self.kinesis_pollers],
            "dynamodb_streams": [p.stats.as_dict() | {"table": p.table_name} for p in self.ddb_pollers],
            "log_subscriptions": [s.stats.as_dict() | {"logGroup": s.log_group} for s in self.log_subscriptions],
            "archive": [a.stats.as_dict() | {"deliveryStream": a.name, "bucket": a.bucket} for a in self.archivers],
            "async_invocations": self.invoker.stats.as_dict() if self.invoker else {},
            "sqs": [p.stats.as_dict() | {"queue": p.m.queue_arn.rsplit(":", 1)[-1]} for p in self.sqs_pollers],
            "deliveries": dict(sorted(self.deliveries.items())),
            "opensearch": self.opensearch.stats() if self.opensearch else {},
            "functions": {
                k: {
                    "invocations": f.invocations,
                    "errors": f.errors,
                    "busy_s": round(f.busy_seconds, 3),
                    "waited_s": round(f.waited_seconds, 3),
                }
                for k, f in ((k, _Totals([f, *self.extra_environments.get(k, [])])) for k, f in self.functions.items())
            },
            "requests": self.gateway.requests if self.gateway else 0,
            "schedules": {s.key: s.runs for s in self.scheduler.schedules},
            "clock": self.scheduler.describe()["clock"],
            "eventbridge": {
                "rules": len(self.router.pollers) if self.router else 0,
                "target_failures": dict(self.router.failures) if self.router else {},
                "aws_service_events": self.service_events.emitted if self.service_events else 0,
            },
            "kinesis_caught_up": self.kinesis_caught_up(),
        }

    def kinesis_caught_up(self) -> bool:
        return all(p.caught_up for p in self.kinesis_pollers)

    def describe(self) -> dict[str, Any]:
        res = self.resources
        assert res is not None and self.moto is not None
        return {
            "api": self.api_url,
            "console": console_url(self.api_url),
            "aws_endpoint_url": self.moto.url,
            # the emulation's own process (None when in-process): fault tests stall it (SIGSTOP/SIGCONT)
            "aws_emulation_pid": self.moto.pid,
            "opensearch_url": self.opensearch.url if self.opensearch else "",
            "log_groups": {s.filter_name: s.log_group for s in self.log_subscriptions},
            "schedules": {s.name: s.expression for s in self.scheduler.schedules},
            "archive": {a.name: f"s3://{a.bucket}/{a.spec.prefix}" for a in self.archivers},
            "tables": res.tables,
            "streams": res.streams,
            "queues": {k: v["url"] for k, v in res.queues.items()},
            "topics": res.topics,
            "state_machines": res.state_machines,
            "functions": sorted(self.functions),
            "routes": [f"{r.method} {r.resource} -> {r.function.spec.logical_id}" for r in self.gateway.routes]
            if self.gateway
            else [],
            "notes": self.notes,
        }


__all__ = ["FunctionSpec", "LocalStack", "StackOptions", "find_repo_root", "resources_of"]
