"""The pieces of ``demo.py``: the embedded demo data, the baseline, the step runner, the table."""
