"""Step Functions: start remediation executions (idempotent by name) and resume task tokens."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from anomaly_guardian.adapters.dynamodb import client

# The token is gone: the execution timed out, was stopped, or the task was already resumed.
_TOKEN_GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class TaskTokenGone(LookupError):
    """Nothing is waiting on this token any more."""


class ResumeFailed(RuntimeError):
    """Step Functions did not take the decision (throttling, outage); the caller may try again."""


class Workflows:
    def __init__(self, state_machine_arn: str, sfn: Any = None):
        self.arn = state_machine_arn
        self.sfn = sfn or client("stepfunctions")

    def start(self, name: str, payload: Mapping[str, Any]) -> tuple[str, bool]:
        """(execution arn, started); an existing execution with this name counts as started before."""
        try:
            resp = self.sfn.start_execution(stateMachineArn=self.arn, name=name, input=json.dumps(payload, default=str))
            return resp["executionArn"], True
        except self.sfn.exceptions.ExecutionAlreadyExists:
            arn = self.arn.replace(":stateMachine:", ":execution:") + f":{name}"
            return arn, False

    def succeed(self, token: str, output: Mapping[str, Any]) -> None:
        self._resume(self.sfn.send_task_success, taskToken=token, output=json.dumps(output, default=str))

    def fail(self, token: str, error: str, cause: str) -> None:
        self._resume(self.sfn.send_task_failure, taskToken=token, error=error[:256], cause=cause[:32768])

    @staticmethod
    def _resume(call: Any, **kwargs: Any) -> None:
        try:
            call(**kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _TOKEN_GONE:
                raise TaskTokenGone(code) from None
            raise ResumeFailed(code or type(exc).__name__) from exc
