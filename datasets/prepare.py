"""``python3 -m datasets.prepare ...``: the preparation command under its earlier name.

The command lives in ``prepare`` now (``python3 -m prepare``); this runs it.
"""

import runpy

if __name__ == "__main__":
    runpy.run_module("prepare", run_name="__main__", alter_sys=True)
