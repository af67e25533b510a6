"""Create the template's resources in moto: tables, queues, topics, buses, state machines, stream.

Two phases. First every resource gets its local physical id and ARNs (deterministic, like
CloudFormation would return them), so any `!Ref`/`!GetAtt`/`${X.Arn}` between resources resolves
regardless of order. Then resources are created, dead-letter queues before the queues that point
at them. Properties AWS would accept but moto cannot use (KMS keys owned by Terraform, PITR,
tags) are dropped: the shapes that matter for the code (keys, indexes, TTL, redrive) are kept.

The Kinesis stream and other Terraform-owned things are not in the SAM template; the template
reads them from SSM (`AWS::SSM::Parameter::Value<String>` parameters). Locally the stack creates
them by the name convention and publishes the same SSM parameters in moto.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.config import Config

from anomaly_guardian.local.cfn import (
    ACCOUNT_ID,
    REGION,
    Resolver,
    function_globals,
    parameter_defaults,
    ssm_typed_parameters,
)

log = logging.getLogger(__name__)

TABLE_TYPES = ("AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable")
FUNCTION_TYPES = ("AWS::Serverless::Function",)
STATE_MACHINE_TYPES = ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")


@dataclass
class FunctionSpec:
    """One Lambda function of the template, with everything the local runtime needs."""

    logical_id: str
    name: str
    arn: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    events: dict[str, dict[str, Any]]  # event name -> resolved {Type, Properties}
    timeout: int = 30
    memory: int = 512
    dead_letter_arn: str | None = None  # DeadLetterQueue.TargetArn (asynchronous invocations)
    async_retries: int = 2  # EventInvokeConfig.MaximumRetryAttempts


@dataclass
class LocalResources:
    resolver: Resolver
    tables: dict[str, str] = field(default_factory=dict)  # logical -> table name
    queues: dict[str, dict[str, str]] = field(default_factory=dict)  # logical -> {name, url, arn}
    topics: dict[str, str] = field(default_factory=dict)  # logical -> arn
    buses: dict[str, str] = field(default_factory=dict)  # logical -> name
    state_machines: dict[str, str] = field(default_factory=dict)  # logical -> arn
    streams: dict[str, str] = field(default_factory=dict)  # stream name -> arn
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    ssm: dict[str, str] = field(default_factory=dict)
    apis: dict[str, dict[str, Any]] = field(default_factory=dict)  # logical -> resolved properties


def _arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{resource}"


def stream_arn(name: str) -> str:
    return _arn("kinesis", f"stream/{name}")


def function_arn(name: str) -> str:
    return _arn("lambda", f"function:{name}")


_POLLER_CONFIG = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 3, "mode": "standard"})


class ResourceBuilder:
    def __init__(
        self,
        template: dict[str, Any],
        template_dir: Path,
        session: Any,
        endpoint_url: str,
        stack_name: str = "anomaly-guardian-local",
        env_name: str = "local",
        stream_name: str | None = None,
        shard_count: int = 2,
        parameter_overrides: dict[str, Any] | None = None,
        opensearch_url: str = "",
    ):
        self.t = template
        self.dir = Path(template_dir)
        self.session = session
        self.endpoint = endpoint_url
        self.stack = stack_name
        self.env_name = env_name
        self.stream_name = stream_name or f"{stack_name}-events"
        self.shard_count = shard_count
        self.opensearch_url = opensearch_url
        self.overrides = {"Environment": env_name, **(parameter_overrides or {})}
        self.resolver = Resolver(
            conditions=dict(template.get("Conditions") or {}),
            mappings=dict(template.get("Mappings") or {}),
            stack_name=stack_name,
            attr_fallback=self._attr_fallback,
        )
        self.out = LocalResources(resolver=self.resolver)
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            # The stack's own pollers: short timeouts, so a stalled emulation (a fault test stops its
            # process) costs them seconds, not botocore's default 60 s read timeout per lost request.
            self._clients[service] = self.session.client(
                service, region_name=REGION, endpoint_url=self.endpoint, config=_POLLER_CONFIG
            )
        return self._clients[service]

    # ---------------------------------------------------------------- phase 1: names and ARNs
    def _name(self, props: dict[str, Any], key: str, logical: str) -> str:
        value = self.resolver.resolve(props.get(key)) if props.get(key) is not None else None
        return str(value) if value else f"{self.stack}-{logical}"

    def _attr_fallback(self, logical: str, attr: str) -> Any:
        # SAM's implicit resources (e.g. `MyFunctionRole`) and attributes we did not pre-register.
        if attr == "Arn" and logical.endswith("Role"):
            return _arn("iam", f"role/{self.stack}-{logical}").replace(f":{REGION}:", "::")
        return None

    def register(self) -> None:
        r = self.resolver
        params = self.t.get("Parameters") or {}
        for name, value in parameter_defaults(self.t).items():
            r.refs[name] = value
        for name, spec in params.items():
            # An empty log group parameter (e.g. CloudTrailLogGroupName) gets a local log group, so the
            # subscription it enables runs locally: the local stack is the fully enabled deployment.
            if name.endswith("LogGroupName") and not spec.get("Default") and spec.get("Type") == "String":
                r.refs[name] = f"/aws/local/{self.stack}/{name.removesuffix('Name')}"
        for name, value in self.overrides.items():
            if name in params:
                r.refs[name] = value
        self._register_ssm_contract()
        for logical, res in self.t["Resources"].items():
            kind, props = res.get("Type", ""), res.get("Properties") or {}
            if kind in TABLE_TYPES:
                name = self._name(props, "TableName", logical)
                r.refs[logical] = name
                r.attrs[(logical, "Arn")] = _arn("dynamodb", f"table/{name}")
                r.attrs[(logical, "StreamArn")] = _arn("dynamodb", f"table/{name}/stream/local")
                self.out.tables[logical] = name
            elif kind == "AWS::SQS::Queue":
                name = self._name(props, "QueueName", logical)
                if props.get("FifoQueue") and not name.endswith(".fifo"):
                    name += ".fifo"
                url = f"{self.endpoint}/{ACCOUNT_ID}/{name}"
                arn = _arn("sqs", name)
                r.refs[logical] = url
                r.attrs[(logical, "Arn")] = arn
                r.attrs[(logical, "QueueName")] = name
                r.attrs[(logical, "QueueUrl")] = url
                self.out.queues[logical] = {"name": name, "url": url, "arn": arn}
            elif kind == "AWS::SNS::Topic":
                name = self._name(props, "TopicName", logical)
                arn = _arn("sns", name)
                r.refs[logical] = arn
                r.attrs[(logical, "TopicArn")] = arn
                r.attrs[(logical, "TopicName")] = name
                self.out.topics[logical] = arn
            elif kind == "AWS::Events::EventBus":
                name = self._name(props, "Name", logical)
                r.refs[logical] = name
                r.attrs[(logical, "Arn")] = _arn("events", f"event-bus/{name}")
                r.attrs[(logical, "Name")] = name
                self.out.buses[logical] = name
            elif kind in STATE_MACHINE_TYPES:
                name = self._name(props, "Name" if "Name" in props else "StateMachineName", logical)
                arn = _arn("states", f"stateMachine:{name}")
                r.refs[logical] = arn
                r.attrs[(logical, "Arn")] = arn
                r.attrs[(logical, "Name")] = name
                self.out.state_machines[logical] = arn
            elif kind in FUNCTION_TYPES:
                name = self._name(props, "FunctionName", logical)
                r.refs[logical] = name
                r.attrs[(logical, "Arn")] = function_arn(name)
            elif kind == "AWS::Kinesis::Stream":
                name = self._name(props, "Name", logical)
                r.refs[logical] = name
                r.attrs[(logical, "Arn")] = stream_arn(name)
                self.out.streams[name] = stream_arn(name)
            elif kind == "AWS::S3::Bucket":
                name = self._name(props, "BucketName", logical).lower()
                r.refs[logical] = name
                r.attrs[(logical, "Arn")] = f"arn:aws:s3:::{name}"
            elif kind in ("AWS::Serverless::Api", "AWS::ApiGateway::RestApi"):
                r.refs[logical] = "local"
                r.attrs[(logical, "RootResourceId")] = "root"
            elif kind == "AWS::Logs::LogGroup":
                name = self._name(props, "LogGroupName", logical)
                r.refs[logical] = name
                r.attrs[(logical, "Arn")] = _arn("logs", f"log-group:{name}:*")
            elif kind == "AWS::KMS::Key":
                r.refs[logical] = None  # created lazily (moto ids are random)
            elif kind == "AWS::SSM::Parameter":
                r.refs[logical] = self.resolver.resolve(props.get("Name")) or f"/{self.stack}/{logical}"

    def _register_ssm_contract(self) -> None:
        """Parameters that CloudFormation would read from SSM get local values by convention."""
        for param, path in ssm_typed_parameters(self.t).items():
            value = self._local_value_for(param, path)
            self.resolver.refs[param] = value
            self.resolver.ssm[path] = value
            self.out.ssm[path] = value

    def _local_value_for(self, param: str, path: str) -> str:
        key = f"{param} {path}".lower().replace("_", "-")
        if "/console/" in path or "/cognito/" in path:
            # Locally the console is served by the local gateway at the API's own origin (no CORS) and
            # tokens are the stack's own (no Cognito pool): unset, as the settings models read "".
            return ""
        if param.endswith("LogGroupName"):  # e.g. the CloudTrail group: a local log group, subscription enabled
            return f"/aws/local/{self.stack}/{param.removesuffix('Name')}"
        if key.endswith("key-param") or "key-param " in key or "keyparam " in key:
            return self._secret_param(key)
        if "pipeline-name" in key:
            return f"{self.stack}-retrain"  # terraform: anomaly-guardian-<env>-retrain
        if "model-package-group" in key:
            return f"{self.stack}-detector"
        if "stream" in key:
            if "arn" in key:
                self.out.streams[self.stream_name] = stream_arn(self.stream_name)
                return stream_arn(self.stream_name)
            self.out.streams[self.stream_name] = stream_arn(self.stream_name)
            return self.stream_name
        if "kms" in key or "key-arn" in key or "keyarn" in key:
            return self._kms_key_arn()
        if "bucket" in key:
            name = f"{self.stack}-{param}".lower()
            self.client("s3").create_bucket(Bucket=name)
            return f"arn:aws:s3:::{name}" if "arn" in key else name
        if "ip-set" in key or "ipset" in key:
            return self._waf_ip_set(key)
        if "opensearch" in key and "arn" in key:
            return _arn("es", f"domain/{self.stack}")
        if "opensearch" in key or "endpoint" in key:
            return self.opensearch_url  # the local OpenSearch fake ("" without one: search indexing disabled)
        if "subnet" in key:
            return "subnet-local1,subnet-local2"
        if "security-group" in key or "sg" in key.split("-"):
            return "sg-local"
        if "vpc" in key:
            return "vpc-local"
        return f"local-{param}"

    def _secret_param(self, key: str) -> str:
        """The contract names a SecureString holding a key: create it with the local key value.

        The same value `guardian token` and the pseudonymiser use locally (GUARDIAN_TOKEN_KEY /
        GUARDIAN_PSEUDONYM_KEY, else their development defaults), so a token minted in another shell
        is accepted and pseudonyms agree between ingest and the detector.
        """
        import os

        if "token" in key:
            from anomaly_guardian.auth.keys import DEV_TOKEN_KEY

            name, value = "token-signing-key", os.environ.get("GUARDIAN_TOKEN_KEY") or DEV_TOKEN_KEY.decode()
        else:
            from anomaly_guardian.privacy import DEV_KEY

            name, value = "pseudonym-key", os.environ.get("GUARDIAN_PSEUDONYM_KEY") or DEV_KEY.decode()
        path = f"/anomaly-guardian/{self.env_name}/secrets/{name}"
        self.client("ssm").put_parameter(Name=path, Value=value, Type="SecureString", Overwrite=True)
        return path

    _kms_arn: str | None = None

    def _kms_key_arn(self) -> str:
        if self._kms_arn is None:
            self._kms_arn = self.client("kms").create_key(Description=f"{self.stack} local key")["KeyMetadata"]["Arn"]
        return self._kms_arn

    _ip_set: dict[str, str] | None = None

    def _waf_ip_set(self, key: str) -> str:
        if self._ip_set is None:
            res = self.client("wafv2").create_ip_set(
                Name=f"{self.stack}-blocked", Scope="REGIONAL", IPAddressVersion="IPV4", Addresses=[]
            )["Summary"]
            self._ip_set = {"arn": res["ARN"], "id": res["Id"], "name": res["Name"]}
        if "arn" in key:
            return self._ip_set["arn"]
        if "id" in key.split("-"):
            return self._ip_set["id"]
        return self._ip_set["name"]

    # ---------------------------------------------------------------- phase 2: create
    def build(self) -> LocalResources:
        self.register()
        for path, value in self.out.ssm.items():
            self.client("ssm").put_parameter(Name=path, Value=value or "-", Type="String", Overwrite=True)
        resources = self.t["Resources"]
        for logical, res in resources.items():
            if res.get("Type") in TABLE_TYPES:
                self._create_table(logical, res)
        self._create_queues(resources)
        for logical, res in resources.items():
            kind = res.get("Type")
            if kind == "AWS::SNS::Topic":
                self._create_topic(logical, res)
            elif kind == "AWS::Events::EventBus":
                self.client("events").create_event_bus(Name=self.out.buses[logical])
            elif kind == "AWS::S3::Bucket":
                self.client("s3").create_bucket(Bucket=self.resolver.refs[logical])
            elif kind == "AWS::SSM::Parameter":
                props = self.resolver.resolve(res.get("Properties") or {})
                self.client("ssm").put_parameter(
                    Name=self.resolver.refs[logical], Value=str(props.get("Value", "")), Type="String", Overwrite=True
                )
        for logical, res in resources.items():
            if res.get("Type") in FUNCTION_TYPES:
                self.out.functions[logical] = self._function(logical, res)
            elif res.get("Type") in ("AWS::Serverless::Api", "AWS::ApiGateway::RestApi"):
                self.out.apis[logical] = self.resolver.resolve(res.get("Properties") or {})
        self._collect_streams()
        for name in self.out.streams:
            self._create_stream(name)
        for logical, res in resources.items():
            if res.get("Type") in STATE_MACHINE_TYPES:
                self._create_state_machine(logical, res)
            elif res.get("Type") == "AWS::SNS::Subscription":
                self._create_subscription(res)
        return self.out

    def _create_table(self, logical: str, res: dict[str, Any]) -> None:
        props = self.resolver.resolve(res.get("Properties") or {})
        name = self.out.tables[logical]
        if res["Type"] == "AWS::Serverless::SimpleTable":
            pk = props.get("PrimaryKey") or {"Name": "id", "Type": "String"}
            kind = {"String": "S", "Number": "N", "Binary": "B"}[pk.get("Type", "String")]
            props = {
                "KeySchema": [{"AttributeName": pk["Name"], "KeyType": "HASH"}],
                "AttributeDefinitions": [{"AttributeName": pk["Name"], "AttributeType": kind}],
            }
        args: dict[str, Any] = {
            "TableName": name,
            "KeySchema": props["KeySchema"],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "BillingMode": "PAY_PER_REQUEST",
        }
        gsis = [
            {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
            for gsi in props.get("GlobalSecondaryIndexes") or []
        ]
        if gsis:
            args["GlobalSecondaryIndexes"] = gsis
        lsis = [
            {k: v for k, v in lsi.items() if k in ("IndexName", "KeySchema", "Projection")}
            for lsi in props.get("LocalSecondaryIndexes") or []
        ]
        if lsis:
            args["LocalSecondaryIndexes"] = lsis
        if props.get("StreamSpecification", {}).get("StreamViewType"):
            args["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": props["StreamSpecification"]["StreamViewType"],
            }
        ddb = self.client("dynamodb")
        ddb.create_table(**args)
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled") not in (False, "false"):
            ddb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True}
            )

    def _create_queues(self, resources: dict[str, Any]) -> None:
        pending = {k: v for k, v in resources.items() if v.get("Type") == "AWS::SQS::Queue"}
        created: set[str] = set()
        arn_to_logical = {q["arn"]: k for k, q in self.out.queues.items()}
        while pending:
            progressed = False
            for logical, res in list(pending.items()):
                props = self.resolver.resolve(res.get("Properties") or {})
                redrive = props.get("RedrivePolicy") or {}
                dlq = arn_to_logical.get(str(redrive.get("deadLetterTargetArn", "")))
                if dlq and dlq not in created:
                    continue
                self._create_queue(logical, props)
                created.add(logical)
                del pending[logical]
                progressed = True
            if not progressed:
                raise ValueError(f"SQS redrive policies form a cycle: {sorted(pending)}")

    def _create_queue(self, logical: str, props: dict[str, Any]) -> None:
        attrs: dict[str, str] = {}
        for key in (
            "VisibilityTimeout",
            "MessageRetentionPeriod",
            "DelaySeconds",
            "MaximumMessageSize",
            "ReceiveMessageWaitTimeSeconds",
            "FifoQueue",
            "ContentBasedDeduplication",
        ):
            if props.get(key) is not None:
                value = props[key]
                attrs[key] = str(value).lower() if isinstance(value, bool) else str(value)
        if props.get("RedrivePolicy"):
            attrs["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
        self.client("sqs").create_queue(QueueName=self.out.queues[logical]["name"], Attributes=attrs)

    def _create_topic(self, logical: str, res: dict[str, Any]) -> None:
        props = self.resolver.resolve(res.get("Properties") or {})
        arn = self.client("sns").create_topic(Name=self.resolver.attrs[(logical, "TopicName")])["TopicArn"]
        for sub in props.get("Subscription") or []:
            self.client("sns").subscribe(TopicArn=arn, Protocol=sub["Protocol"], Endpoint=sub["Endpoint"])

    def _create_subscription(self, res: dict[str, Any]) -> None:
        props = self.resolver.resolve(res.get("Properties") or {})
        if props.get("Protocol") in ("sqs", "sns", "http", "https", "email") and props.get("TopicArn"):
            attrs = {}
            if props.get("FilterPolicy"):
                attrs["FilterPolicy"] = json.dumps(props["FilterPolicy"])
            if props.get("RawMessageDelivery") is not None:
                attrs["RawMessageDelivery"] = str(props["RawMessageDelivery"]).lower()
            self.client("sns").subscribe(
                TopicArn=props["TopicArn"], Protocol=props["Protocol"], Endpoint=props["Endpoint"], Attributes=attrs
            )

    def _create_stream(self, name: str) -> None:
        kinesis = self.client("kinesis")
        kinesis.create_stream(StreamName=name, ShardCount=self.shard_count)
        kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})

    def _collect_streams(self) -> None:
        for spec in self.out.functions.values():
            for event in spec.events.values():
                if event.get("Type") == "Kinesis":
                    stream = str(event.get("Properties", {}).get("Stream") or "")
                    name = stream.rsplit("/", 1)[-1] if stream else self.stream_name
                    self.out.streams.setdefault(name, stream_arn(name))

    def _definition(self, props: dict[str, Any]) -> str:
        if props.get("Definition") is not None:
            text = json.dumps(props["Definition"])
        elif props.get("DefinitionString") is not None:
            text = str(props["DefinitionString"])
        else:
            uri = props.get("DefinitionUri")
            if not isinstance(uri, str):
                raise ValueError(f"state machine DefinitionUri must be a local path, got {uri!r}")
            text = (self.dir / uri).read_text(encoding="utf-8")
        subs = props.get("DefinitionSubstitutions") or {}
        for key, value in subs.items():
            text = text.replace("${" + key + "}", str(value))
        return text

    def _create_state_machine(self, logical: str, res: dict[str, Any]) -> None:
        props = self.resolver.resolve(res.get("Properties") or {})
        definition = self._definition(props)
        name = self.resolver.attrs[(logical, "Name")]
        role = props.get("Role") or _arn("iam", f"role/{self.stack}-{logical}Role").replace(f":{REGION}:", "::")
        kind = str(props.get("Type", "STANDARD")).upper()
        self.client("stepfunctions").create_state_machine(name=name, definition=definition, roleArn=role, type=kind)

    def _function(self, logical: str, res: dict[str, Any]) -> FunctionSpec:
        glob = function_globals(self.t)
        raw = res.get("Properties") or {}
        props = self.resolver.resolve(raw)
        env = dict(self.resolver.resolve((glob.get("Environment") or {}).get("Variables") or {}))
        env.update((props.get("Environment") or {}).get("Variables") or {})
        code_uri = props.get("CodeUri") or glob.get("CodeUri") or "."
        handler = props.get("Handler") or glob.get("Handler") or "app.lambda_handler"
        name = self.resolver.refs[logical]
        return FunctionSpec(
            logical_id=logical,
            name=name,
            arn=function_arn(name),
            code_dir=(self.dir / str(code_uri)).resolve(),
            handler=str(handler),
            environment={k: "" if v is None else str(v) for k, v in env.items()},
            events={k: v for k, v in (props.get("Events") or {}).items()},
            timeout=int(props.get("Timeout") or glob.get("Timeout") or 30),
            memory=int(props.get("MemorySize") or glob.get("MemorySize") or 512),
            dead_letter_arn=self._async_failure_target(props, glob),
            async_retries=int((props.get("EventInvokeConfig") or {}).get("MaximumRetryAttempts", 2)),
        )

    def _async_failure_target(self, props: dict[str, Any], glob: dict[str, Any]) -> str | None:
        dlq = props.get("DeadLetterQueue") or self.resolver.resolve(glob.get("DeadLetterQueue")) or {}
        if dlq.get("TargetArn"):
            return str(dlq["TargetArn"])
        on_failure = ((props.get("EventInvokeConfig") or {}).get("DestinationConfig") or {}).get("OnFailure") or {}
        return str(on_failure["Destination"]) if on_failure.get("Destination") else None
