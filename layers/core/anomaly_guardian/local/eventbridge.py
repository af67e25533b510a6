"""EventBridge rules of the template on the local stack, generic over where they are declared and
what they target.

Rules come from two places: `EventBridgeRule`/`CloudWatchEvent` events of functions (target: that
function) and `AWS::Events::Rule` resources with an `EventPattern` (targets: their `Targets`), on
any bus (`EventBusName` as a name or ARN; none = the account's `default` bus). Each rule is created
in moto on its bus with its pattern, so moto's own pattern matcher decides what matches, and
targets an internal SQS queue; a poller takes matched events from there and delivers them to the
rule's real targets:

- a function of the template: asynchronous invocation (retries, then its dead-letter queue);
- a SageMaker pipeline (`arn:...:pipeline/NAME`): `StartPipelineExecution` on the emulation with
  the target's `SageMakerPipelineParameters`;
- an SQS queue, SNS topic, Step Functions state machine or another event bus: the matching call.

`Input` replaces the event, `InputPath` selects part of it (moto applies `InputTransformer` on the
way to the queue). A delivery that fails goes to the target's `DeadLetterConfig` queue after its
`RetryPolicy` attempts, like EventBridge; deliveries are counted per `Rule.TargetId`.

Events AWS services emit on their own are emitted locally by `AwsServiceEvents` where the
template listens for them: "SageMaker Model Package State Change" (source `aws.sagemaker`) when a
model package in the emulation is created or its approval status changes.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from anomaly_guardian.local.asyncinvoke import send_to
from anomaly_guardian.local.sqs import SqsMapping, SqsPoller

log = logging.getLogger(__name__)


@dataclass
class Target:
    key: str  # "Rule.TargetId" or "Function.EventName": what the delivery counters are keyed by
    arn: str
    input: str | None = None
    input_path: str | None = None
    pipeline_parameters: list[dict[str, str]] = field(default_factory=list)
    dead_letter_arn: str | None = None
    retries: int = 185  # EventBridge's default MaximumRetryAttempts; locally bounded below
    function_key: str | None = None  # set for function-event rules (the function's logical id)


@dataclass
class Rule:
    name: str
    bus: str
    pattern: dict[str, Any]
    targets: list[Target]


def _bus_name(value: Any) -> str:
    text = str(value or "default")
    return text.rsplit("event-bus/", 1)[-1] if "event-bus/" in text else text


def _pattern(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value or {})


def collect_rules(resources: dict[str, Any], functions: dict[str, Any], resolve: Callable[[Any], Any]) -> list[Rule]:
    """Every rule with an event pattern in the template (resolved), function events first."""
    rules: list[Rule] = []
    for logical, spec in functions.items():
        for name, event in spec.events.items():
            if event.get("Type") not in ("EventBridgeRule", "CloudWatchEvent"):
                continue
            props = event.get("Properties") or {}
            if not props.get("Pattern"):
                continue
            target = Target(
                key=f"{logical}.{name}",
                arn=spec.arn,
                input=props.get("Input"),
                input_path=props.get("InputPath"),
                dead_letter_arn=(props.get("DeadLetterConfig") or {}).get("Arn"),
                retries=int((props.get("RetryPolicy") or {}).get("MaximumRetryAttempts", 185)),
                function_key=logical,
            )
            rules.append(
                Rule(f"{logical}-{name}"[:64], _bus_name(props.get("EventBusName")), props["Pattern"], [target])
            )
    for logical, res in resources.items():
        if res.get("Type") != "AWS::Events::Rule":
            continue
        props = resolve(res.get("Properties") or {})
        if not props.get("EventPattern") or str(props.get("State", "ENABLED")).upper() == "DISABLED":
            continue
        targets = [
            Target(
                key=f"{logical}.{t.get('Id')}",
                arn=str(t.get("Arn")),
                input=t.get("Input"),
                input_path=t.get("InputPath"),
                pipeline_parameters=list(
                    (t.get("SageMakerPipelineParameters") or {}).get("PipelineParameterList") or []
                ),
                dead_letter_arn=(t.get("DeadLetterConfig") or {}).get("Arn"),
                retries=int((t.get("RetryPolicy") or {}).get("MaximumRetryAttempts", 185)),
            )
            for t in props.get("Targets") or []
        ]
        name = str(props.get("Name") or logical)[:64]
        rules.append(Rule(name, _bus_name(props.get("EventBusName")), _pattern(props["EventPattern"]), targets))
    return rules


def select_input(target: Target, event: dict[str, Any]) -> Any:
    if target.input is not None:
        return json.loads(target.input) if isinstance(target.input, str) else target.input
    if target.input_path:
        value: Any = event
        for part in target.input_path.removeprefix("$").strip(".").split("."):
            if part:
                value = value.get(part) if isinstance(value, dict) else None
        return value
    return event


class EventBridgeRouter:
    """Creates the rules in moto and delivers what matches to the targets."""

    def __init__(
        self,
        client: Callable[[str], Any],
        stack_name: str,
        function_by_arn: Callable[[str], Any],
        invoker: Any,
        deliveries: Callable[[str], None],
        max_retries: int = 2,
    ):
        self.client = client
        self.stack = stack_name
        self.function_by_arn = function_by_arn
        self.invoker = invoker
        self.count = deliveries
        self.max_retries = max_retries  # local bound on EventBridge's retry policy (185 by default)
        self.pollers: list[SqsPoller] = []
        self.failures: dict[str, int] = {}
        self.notes: list[str] = []

    def wire(self, rules: list[Rule]) -> None:
        sqs, events = self.client("sqs"), self.client("events")
        buses = {b["Name"] for b in events.list_event_buses().get("EventBuses", [])}
        for rule in rules:
            if rule.bus not in buses:
                events.create_event_bus(Name=rule.bus)
                buses.add(rule.bus)
            queue = f"{self.stack}-eb-{rule.name}"[:80]
            url = sqs.create_queue(QueueName=queue)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            events.put_rule(Name=rule.name, EventBusName=rule.bus, EventPattern=json.dumps(rule.pattern))
            events.put_targets(Rule=rule.name, EventBusName=rule.bus, Targets=[{"Id": "local", "Arn": arn}])
            poller = SqsPoller(SqsMapping(url, arn, _Dispatch(self, rule), batch_size=10), sqs)  # type: ignore[arg-type]
            poller.start()
            self.pollers.append(poller)

    def deliver(self, rule: Rule, event: dict[str, Any]) -> None:
        for target in rule.targets:
            payload = select_input(target, event)
            fn = self.function_by_arn(target.arn)
            if fn is not None:
                self.count(target.key)
                self.invoker.invoke(fn, payload)  # asynchronous: retries, then the function's DLQ
                continue
            error = ""
            for _attempt in range(1 + min(target.retries, self.max_retries)):
                try:
                    self._send(target, payload)
                    self.count(target.key)
                    error = ""
                    break
                except Exception as exc:  # the target's API refused: retry, then its DLQ
                    error = f"{type(exc).__name__}: {exc}"
            if error:
                self._failed(target, payload, error)

    def _send(self, target: Target, payload: Any) -> None:
        arn = target.arn
        body = json.dumps(payload)
        if ":sagemaker:" in arn and ":pipeline/" in arn:
            self.client("sagemaker").start_pipeline_execution(
                PipelineName=arn.rsplit("/", 1)[-1],
                PipelineParameters=[{"Name": p["Name"], "Value": str(p["Value"])} for p in target.pipeline_parameters],
                PipelineExecutionDescription="started by an EventBridge rule (local stack)",
            )
        elif ":states:" in arn:
            self.client("stepfunctions").start_execution(stateMachineArn=arn, input=body)
        elif ":events:" in arn and ":event-bus/" in arn:
            e = payload if isinstance(payload, dict) else {}
            self.client("events").put_events(
                Entries=[
                    {
                        "Source": e.get("source", "local"),
                        "DetailType": e.get("detail-type", "local"),
                        "Detail": json.dumps(e.get("detail", {})),
                        "EventBusName": _bus_name(arn),
                    }
                ]
            )
        elif ":sqs:" in arn or ":sns:" in arn:
            send_to(self.client("sqs"), self.client("sns"), arn, body)
        elif ":lambda:" in arn:
            raise LookupError(f"function {arn} is not part of the template")
        else:
            raise NotImplementedError(f"target type of {arn} is not emulated locally")

    def _failed(self, target: Target, payload: Any, error: str) -> None:
        self.failures[target.key] = self.failures.get(target.key, 0) + 1
        log.error("EventBridge target %s failed: %s", target.key, error)
        if target.dead_letter_arn:
            attrs = {
                "RULE_ARN": {"DataType": "String", "StringValue": target.key.split(".", 1)[0]},
                "TARGET_ARN": {"DataType": "String", "StringValue": target.arn},
                "ERROR_MESSAGE": {"DataType": "String", "StringValue": error[:1000]},
            }
            send_to(self.client("sqs"), self.client("sns"), target.dead_letter_arn, json.dumps(payload), attrs)

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop()


class _Dispatch:
    """The internal queue's consumer: each message is one matched event of `rule`."""

    def __init__(self, router: EventBridgeRouter, rule: Rule):
        self.router, self.rule = router, rule
        self.spec = type("Spec", (), {"logical_id": f"rule:{rule.name}", "arn": rule.name})()

    def invoke(self, batch: dict[str, Any]) -> Any:
        for record in batch["Records"]:
            self.router.deliver(self.rule, json.loads(record["body"]))
        return {"batchItemFailures": []}


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if k != "ResponseMetadata"}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _listens_for(rules: list[Rule], source: str) -> bool:
    return any(source in (r.pattern.get("source") or []) for r in rules)


class AwsServiceEvents:
    """Emits on the default bus the events AWS services send by themselves, where a rule listens."""

    def __init__(self, client: Callable[[str], Any], rules: list[Rule], poll: float = 0.5):
        self.client = client
        self.poll = poll
        self.sagemaker = _listens_for(rules, "aws.sagemaker")
        self.emitted = 0
        self._approval: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if not self.sagemaker:
            return
        self._thread = threading.Thread(target=self._run, name="aws-service-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.model_package_changes()
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("watching SageMaker model packages failed")

    def model_package_changes(self) -> int:
        """ "SageMaker Model Package State Change" for every new package or approval status change."""
        sm, events = self.client("sagemaker"), self.client("events")
        emitted = 0
        for group in sm.list_model_package_groups().get("ModelPackageGroupSummaryList", []):
            name = group["ModelPackageGroupName"]
            for summary in sm.list_model_packages(ModelPackageGroupName=name).get("ModelPackageSummaryList", []):
                arn = summary["ModelPackageArn"]
                status = str(summary.get("ModelApprovalStatus") or "")
                if self._approval.get(arn) == status:
                    continue
                self._approval[arn] = status
                detail = _jsonable(sm.describe_model_package(ModelPackageName=arn))
                events.put_events(
                    Entries=[
                        {
                            "Source": "aws.sagemaker",
                            "DetailType": "SageMaker Model Package State Change",
                            "Resources": [arn],
                            "Detail": json.dumps(detail),
                        }
                    ]
                )
                emitted += 1
        self.emitted += emitted
        return emitted
