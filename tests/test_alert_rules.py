"""The documented Prometheus rules (docs/alerts/tack.rules.yml) are well formed and only name metrics
that Tack exports: a rule on a renamed metric would never fire."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import REGISTRY

RULES = Path(__file__).resolve().parents[1] / "docs" / "alerts" / "tack.rules.yml"
SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")


def exported_names() -> set[str]:
    import tack.app  # noqa: F401  (registers every metric)
    import tack.rooms.routes  # noqa: F401

    names: set[str] = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES)
    return names


def test_alert_rules_are_well_formed_and_name_real_metrics():
    document = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert len(rules) >= 8
    exported = exported_names()
    for rule in rules:
        assert rule["alert"].startswith("Tack") and rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]
        for metric in re.findall(r"\btack_[a-z_]+", rule["expr"]):
            assert metric in exported, f"{rule['alert']} names {metric}, which Tack does not export"
