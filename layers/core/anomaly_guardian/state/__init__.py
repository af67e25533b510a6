"""Detector state (windows, profiles, last location, control charts) behind one small interface."""

from anomaly_guardian.state.store import InMemoryStateStore, StateConflict, StateItem, StateStore, state_key

__all__ = ["InMemoryStateStore", "StateConflict", "StateItem", "StateStore", "state_key"]
