"""Every metric the dashboard plots and the alarms watch in our namespace is one the code emits.

Emitted names are read from the code itself (AST of functions/ and the core package): the `name`
of `add_metric(...)`, `single_metric(...)` and the drift monitor's `emit(...)` calls and `(name, unit)`
tuples that helpers hand to them, following a
variable to its assignment, an f-string to a pattern (`Webhook_{outcome}` -> `Webhook_<word>`) and
`DICT[key]` to the module-level dict's values. AWS namespaces (AWS/Lambda, AWS/SQS, ...) are
AWS's own metrics and are not checked here.
"""

from __future__ import annotations

import ast
import json
import re

import pytest
from infra_tools import ROOT

NAMESPACE = "AnomalyGuardian"
CALLS = {"add_metric", "single_metric", "emit"}
WORD = "[A-Za-z0-9_]+"
SOURCES = [*(ROOT / "functions").rglob("*.py"), *(ROOT / "layers/core/anomaly_guardian").rglob("*.py")]


def key_values() -> dict[str, set[str]]:
    """Every string value a string key takes in a dict literal of the code ({"outcome": "retry"})."""
    out: dict[str, set[str]] = {}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Dict):
                for k, v in zip(node.keys, node.values, strict=True):
                    if isinstance(k, ast.Constant) and isinstance(v, ast.Constant) and isinstance(v.value, str):
                        out.setdefault(str(k.value), set()).add(v.value)
    return out


KEYS = key_values()


def _formatted(node: ast.AST) -> str:
    """`{result['outcome']}` / `{event.get('op')}` -> the values that key takes in the code, else any word."""
    key = None
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        key = node.slice.value
    elif isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "get" and node.args:
        key = getattr(node.args[0], "value", None)
    if isinstance(key, str) and key in KEYS:
        return "(?:" + "|".join(re.escape(v) for v in sorted(KEYS[key])) + ")"
    return WORD


def _pattern(node: ast.AST, scope: dict[str, ast.AST], module: dict[str, ast.AST]) -> str | None:
    """A regex for the metric names an expression can produce (None: unknown)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return re.escape(node.value)
    if isinstance(node, ast.JoinedStr):
        parts = [re.escape(v.value) if isinstance(v, ast.Constant) else _formatted(v.value) for v in node.values]
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _pattern(node.left, scope, module), _pattern(node.right, scope, module)
        return None if left is None or right is None else left + right
    if isinstance(node, ast.IfExp):
        a, b = _pattern(node.body, scope, module), _pattern(node.orelse, scope, module)
        return None if a is None or b is None else f"(?:{a}|{b})"
    if isinstance(node, ast.Name) and node.id in scope:
        return _pattern(scope[node.id], {}, module)
    if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name):
        table = module.get(node.value.id)
        if isinstance(table, ast.Dict):
            values = [_pattern(v, {}, module) for v in table.values]
            return None if None in values else "(?:" + "|".join(v for v in values if v) + ")"
    return None


UNITS = {"Count", "Milliseconds", "Seconds", "Microseconds", "None", "Percent", "Bytes", "Kilobytes", "Megabytes"}


def emitted_patterns() -> list[str]:
    out: list[str] = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # (name, unit, ...) tuples that helpers return for a loop to pass to add_metric (KPI metrics)
        for node in ast.walk(tree):
            if isinstance(node, ast.Tuple) and len(node.elts) >= 2:
                name, unit = node.elts[0], node.elts[1]
                if isinstance(name, ast.Constant) and isinstance(unit, ast.Constant) and unit.value in UNITS:
                    out.append(re.escape(str(name.value)))
        module = {
            t.id: n.value for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)
        }
        for fn in [tree, *(n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))]:
            scope = {
                t.id: n.value
                for n in ast.walk(fn)
                if isinstance(n, ast.Assign)
                for t in n.targets
                if isinstance(t, ast.Name)
            }
            for call in (n for n in ast.walk(fn) if isinstance(n, ast.Call)):
                callee = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
                if callee not in CALLS:
                    continue
                arg = next((k.value for k in call.keywords if k.arg == "name"), call.args[0] if call.args else None)
                pattern = _pattern(arg, scope, module) if arg is not None else None
                if pattern:
                    out.append(pattern)
    return sorted(set(out))


def _render_sub(value) -> str:
    text, _variables = (value["Fn::Sub"], {}) if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"]
    return re.sub(r"\$\{([^}!]+)\}", lambda m: f"placeholder-{m.group(1)}", text)


def plotted(template) -> list[tuple[str, str, str]]:
    """(widget title, namespace, metric name) for every metric of every dashboard widget."""
    out = []
    for logical, res in template["Resources"].items():
        if res["Type"] != "AWS::CloudWatch::Dashboard":
            continue
        body = json.loads(_render_sub(res["Properties"]["DashboardBody"]))
        for widget in body["widgets"]:
            props = widget.get("properties") or {}
            namespace = metric = None
            for row in props.get("metrics") or []:
                head = row[0]
                if isinstance(head, dict):
                    expr = head.get("expression", "")
                    for ns, name in re.findall(r"\{([^,}]+)[^}]*\}\s*MetricName=\\?\"([^\\\"]+)", expr):
                        out.append((props.get("title", logical), ns, name))
                    continue
                if head != "...":
                    namespace = namespace if head == "." else head
                    metric = metric if row[1] == "." else row[1]
                out.append((props.get("title", logical), namespace, metric))
    for logical, res in template["Resources"].items():
        if res["Type"] == "AWS::CloudWatch::Alarm":
            props = res["Properties"]
            stats = [m["MetricStat"]["Metric"] for m in props.get("Metrics") or [] if "MetricStat" in m]
            if props.get("MetricName"):
                stats.append(props)
            out += [(logical, m["Namespace"], m["MetricName"]) for m in stats]
    return out


def test_the_code_emits_the_metrics_the_checker_should_find():
    patterns = emitted_patterns()
    for name in ("AnomalyScore", "AnomalyDetected", "EventsAccepted", "BlocksLifted", "FeaturePSI"):
        assert any(re.fullmatch(p, name) for p in patterns), name
    assert any(re.fullmatch(p, "Webhook_delivered") for p in patterns)
    assert not any(re.fullmatch(p, "Webhook failed") for p in patterns)


def test_every_dashboard_and_alarm_metric_in_our_namespace_is_emitted_by_the_code(template):
    patterns = emitted_patterns()
    ours = [(where, name) for where, ns, name in plotted(template) if ns == NAMESPACE]
    assert len(ours) >= 6
    unknown = [f"{where}: {name}" for where, name in ours if not any(re.fullmatch(p, name) for p in patterns)]
    assert unknown == []


@pytest.mark.parametrize("bad", ["Webhook_failed", "EventsAccepted2"])
def test_a_widget_plotting_a_name_nothing_emits_is_reported(template, bad):
    import copy

    broken = copy.deepcopy(template)
    sub = broken["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    sub[0] = sub[0].replace('"BlocksLifted"', f'"{bad}"')
    patterns = emitted_patterns()
    names = [name for _, ns, name in plotted(broken) if ns == NAMESPACE]
    assert bad in names and not any(re.fullmatch(p, bad) for p in patterns)
