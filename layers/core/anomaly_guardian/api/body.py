"""Strict JSON body decoding for the resolver (`json_body_deserializer`).

Bounded before anything is stored: size (64 KiB), nesting depth (16), no NaN/Infinity/overflowing
numbers (1e999, integers over 30 digits), and every
string must be valid Unicode (lone surrogates like "\\ud800" would later fail deep inside DynamoDB
serialisation as a 500). Problems raise `json.JSONDecodeError`, which Powertools' validation turns
into a request validation error, so the caller gets a 400 naming the problem; an oversized body is
a 413 of its own.
"""

from __future__ import annotations

import json
import math
from http import HTTPStatus
from typing import Any

from anomaly_guardian.api.errors import ApiError

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 16
MAX_INT_DIGITS = 30


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999 parses to inf, which no store can keep
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:  # DynamoDB numbers carry at most 38 digits
        raise ValueError(f"integer with more than {MAX_INT_DIGITS} digits")
    return int(text)


def _check(value: Any, doc: str, depth: int = 1) -> None:
    if depth > MAX_DEPTH:
        raise json.JSONDecodeError(f"nesting deeper than {MAX_DEPTH} levels", doc, 0)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise json.JSONDecodeError("string contains an unpaired surrogate (invalid Unicode)", doc, 0) from None
        if "\x00" in value:
            raise json.JSONDecodeError("string contains a NUL character", doc, 0)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check(key, doc, depth)
            _check(item, doc, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check(item, doc, depth + 1)


def decode_body(body: str) -> Any:
    if len(body) > MAX_BODY_BYTES or len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise ApiError(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            f"Request body is larger than {MAX_BODY_BYTES} bytes",
        )
    try:
        value = json.loads(body, parse_constant=_no_constants, parse_float=_finite_float, parse_int=_bounded_int)
    except RecursionError:
        raise json.JSONDecodeError(f"nesting deeper than {MAX_DEPTH} levels", body, 0) from None
    except ValueError as exc:
        if isinstance(exc, json.JSONDecodeError):
            raise
        raise json.JSONDecodeError(str(exc), body, 0) from None
    _check(value, body)
    return value
