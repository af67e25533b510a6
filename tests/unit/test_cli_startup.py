"""`guardian COMMAND` loads only that command's module (issue 16: replay's whole-process start-up).

Given every command of the full parser, When a parser is built for it alone, Then it knows the command
with the same options; Given `guardian replay` in a fresh interpreter, Then JWT/crypto, urllib.request and
the OpenSearch definitions are never imported.
"""

from __future__ import annotations

import json
import subprocess
import sys

from anomaly_guardian.cli import build_parser


def _options(parser, command):
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(opt for action in sub.choices[command]._actions for opt in action.option_strings)


def test_given_each_command_when_its_parser_is_built_alone_then_same_command_and_options():
    full = build_parser()
    sub = next(a for a in full._actions if a.dest == "command")
    assert {"replay", "eval-usage", "token", "webhooks"} <= set(sub.choices)
    for command in sub.choices:
        assert _options(build_parser(command), command) == _options(full, command), command


def test_given_guardian_replay_when_started_then_unrelated_command_modules_are_not_imported(tmp_path):
    events = tmp_path / "e.jsonl"
    events.write_text('{"eventId":"a","userId":"u","timestamp":"2026-03-02T10:00:00Z","eventType":"login"}\n')
    code = (
        "import sys, json\n"
        "from anomaly_guardian.cli import main\n"
        f"rc = main(['replay', {str(events)!r}, '--output', {str(tmp_path / 'o.jsonl')!r}, '--no-progress'])\n"
        "heavy = ['jwt', 'cryptography', 'urllib.request', 'anomaly_guardian.search.sync', 'anomaly_guardian.auth']\n"
        "print(json.dumps({'rc': rc, 'loaded': [m for m in heavy if m in sys.modules]}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"rc": 0, "loaded": []}
