"""`guardian eval-metrics`: labelled metric series from disk, scored NAB-style through the system detector."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from anomaly_guardian.cli import main
from anomaly_guardian.config import DetectionConfig
from anomaly_guardian.scenario.metrics_eval import MetricsDataError, evaluate_dir, read_series, score_series

FIXTURE = Path(__file__).parent / "fixtures" / "metrics_eval"
STEP = 300.0


def quiet_series(n, seed=1):
    rng = random.Random(seed)
    return [(i * STEP, 50 + 5 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, 1)) for i in range(n)]


def test_given_the_fixture_when_scored_then_windows_false_alarms_and_delay_are_counted():
    # Given: 600 five-minute points, a spike at 250 outside every window, an incident at 400 inside the
    # first window (which opens at 395), nothing in the second window, one missing sample
    # When
    [s] = evaluate_dir(FIXTURE, FIXTURE / "windows.json")
    # Then
    assert (s.name, s.points, s.windows, s.detected) == ("web/latency.csv", 599, 2, 1)
    assert s.false_alarms == 1 and s.rules == {"spike": 1}
    assert s.delays == [5] and s.early == 1
    assert s.false_per_1000 == pytest.approx(1000 / 599)


def test_given_an_alarm_just_before_a_window_when_scored_then_the_tolerance_decides():
    # Given: a shift that starts 3 points before the labelled window opens
    pts = [(t, x + (30.0 if 600 <= i < 640 else 0.0)) for i, (t, x) in enumerate(quiet_series(800))]
    window = [(603 * STEP, 650 * STEP)]
    # When / Then: within the default tolerance it detects the window; without tolerance it is a false alarm
    early = score_series("s", pts, window, DetectionConfig())
    assert (early.detected, early.false_alarms, early.delays) == (1, 0, [-3])
    strict = score_series("s", pts, window, DetectionConfig(), tolerance=0)
    assert (strict.detected, strict.false_alarms) == (0, 1)


def test_given_the_fixture_dir_when_the_command_runs_then_it_prints_per_series_and_overall(capsys):
    assert main(["eval-metrics", "--dir", str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    assert "web/latency.csv" in out
    assert "windows detected 1/2 (recall 0.500); false alarms 1 = 1.67 per 1,000 points" in out
    assert "early detection: 1 of 1 detections" in out


def test_given_a_bad_value_when_the_command_runs_then_it_names_the_file_and_line(tmp_path, capsys):
    (tmp_path / "a.csv").write_text("timestamp,value\n2024-01-01 00:00:00,1\n2024-01-01 00:05:00,oops\n")
    (tmp_path / "windows.json").write_text('{"a.csv": []}')
    assert main(["eval-metrics", "--dir", str(tmp_path)]) == 2
    assert f"{tmp_path / 'a.csv'}:3: value 'oops' is not a number" in capsys.readouterr().err


def test_given_no_header_or_no_windows_entry_then_a_clear_error(tmp_path):
    (tmp_path / "a.csv").write_text("2024-01-01 00:00:00,1\n")
    with pytest.raises(MetricsDataError, match="header 'timestamp,value'"):
        read_series(tmp_path / "a.csv")
    (tmp_path / "windows.json").write_text('{"other.csv": []}')
    with pytest.raises(MetricsDataError, match="no CSV file there has an entry"):
        evaluate_dir(tmp_path, tmp_path / "windows.json")
