"""The config reference table in docs/configuration.md, generated from ``configs.schema.KEYS``.

``python3 -m configs.reference`` prints it; a test checks the page holds exactly this
table, so the documented keys and defaults cannot drift from the code.
"""

from __future__ import annotations

from configs.schema import KEYS


def _default(value) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def markdown_table() -> str:
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, key in KEYS.items():
        kind = key.kind.replace("?", " or none")
        if key.choices:
            kind = " \\| ".join(key.choices)
        lines.append(f"| `{name}` | {kind} | `{_default(key.default)}` | {key.doc} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
