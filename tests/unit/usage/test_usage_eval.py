"""Given a generated trail (daily cycles, deploys, autoscaling, labelled episodes), when it runs through
the default pipeline, then every episode is found with at most 0.5 false alarms a day, and the
generic velocity rule on the same calls would have fired (the problem the routing solves)."""

from __future__ import annotations

from anomaly_guardian.cli import main
from anomaly_guardian.scenario.cloudtrail import EPISODE_KINDS, generate_trail
from anomaly_guardian.scenario.usage_eval import score_trail


def test_generator_labels_every_episode_and_is_deterministic():
    a, b = generate_trail(5, 3, "small", 1), generate_trail(5, 3, "small", 1)
    assert [r["eventID"] for r in a.records] == [r["eventID"] for r in b.records]
    assert sorted(e.kind for e in a.episodes) == sorted(EPISODE_KINDS)
    assert all(e.event_ids and e.apis for e in a.episodes if e.kind != "leaked_key") and all(
        e.event_ids for e in a.episodes
    )
    times = [r["eventTime"] for r in a.records]
    assert times == sorted(times)


def test_small_account_trail_every_episode_found_few_false_alarms():
    result = score_trail(generate_trail(4, 3, "small", 1), compare_velocity=True)
    assert result.found == result.episodes == len(EPISODE_KINDS), result.missed
    assert result.false_alarms_per_day <= 0.5, result.false_alarm_examples
    assert set(result.by_type) <= {"usage"}
    assert result.velocity_rule_alarms and result.velocity_rule_alarms > result.false_alarms


def test_cli_rejects_unknown_shape(capsys):
    assert main(["eval-usage", "--shapes", "huge"]) == 2
    assert "unknown shape" in capsys.readouterr().err
