"""docs/iam-policy.json is exactly what a run needs: the actions preflight proves plus the documented write actions."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from harness.observe import preflight
from harness.observe.preflight import READ_ACTIONS, WRITE_ACTIONS

ROOT = Path(__file__).resolve().parents[2]
POLICY = ROOT / "docs" / "iam-policy.json"


def _policy_actions() -> list[str]:
    policy = json.loads(POLICY.read_text(encoding="utf-8"))
    assert policy["Version"] == "2012-10-17"
    actions: list[str] = []
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow", statement
        action = statement["Action"]
        actions += [action] if isinstance(action, str) else action
    return actions


def _actions_preflight_calls() -> set[str]:
    """The first argument of every ``self.call("service:Action", ...)`` in preflight.py, read from the source."""
    tree = ast.parse(Path(preflight.__file__).read_text(encoding="utf-8"))
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "call"
            and node.args and isinstance(node.args[0], ast.Constant)}


def test_the_policy_file_grants_exactly_the_preflight_actions_and_the_write_actions() -> None:
    actions = _policy_actions()
    assert len(actions) == len(set(actions)), "an action is granted twice"
    assert len(READ_ACTIONS + WRITE_ACTIONS) == len(set(READ_ACTIONS + WRITE_ACTIONS))
    assert set(actions) == set(READ_ACTIONS) | set(WRITE_ACTIONS)


def test_preflight_exercises_every_read_action_it_lists_and_no_other() -> None:
    # sts:GetCallerIdentity needs no IAM permission, so it is called but not listed (nor granted)
    assert _actions_preflight_calls() == set(READ_ACTIONS) | {"sts:GetCallerIdentity"}
