"""The configuration page's table is the one generated from the schema (no drift)."""

from __future__ import annotations

from conftest import ROOT

from configs import KEYS
from configs.reference import markdown_table


def test_docs_hold_the_generated_config_table():
    assert markdown_table() in (ROOT / "docs" / "configuration.md").read_text()


def test_every_key_is_documented():
    table = markdown_table()
    for name, key in KEYS.items():
        assert f"| `{name}` |" in table and key.doc
