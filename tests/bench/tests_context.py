"""A minimal Lambda context for the benches (the handlers' Powertools decorators read these fields)."""

from dataclasses import dataclass


@dataclass
class LambdaContext:
    function_name: str = "bench-detector"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:bench-detector"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_group_name: str = "/aws/lambda/bench-detector"
    log_stream_name: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000
