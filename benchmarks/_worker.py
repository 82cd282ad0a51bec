"""Run one benchmark task in a fresh process and print its result as JSON.

    python benchmarks/_worker.py TASK_JSON

``TASK_JSON`` holds ``runner`` (a key of ``_peers.RUNNERS``), ``folds`` (a list
of ``{"train": path, "test": path or null}`` of ``.npz`` files with the arrays
``users``, ``items``, ``ratings``) and ``kwargs`` for the runner. The result is
printed on one line after :data:`MARKER`, with the peak resident memory of this
process and its children (a JVM) added: one fit per process, so that the
memory measurements do not mix. Run by ``speed.py``.
"""

import json
import os
import sys
import time

MARKER = "SKMF-BENCH-RESULT "


def _load(path):
    import numpy as np

    with np.load(path) as arrays:
        return arrays["users"], arrays["items"], arrays["ratings"]


def main():
    task = json.loads(sys.argv[1])
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from _peers import RUNNERS, peak_rss_mb

    folds = [
        {
            "train": _load(fold["train"]),
            "test": _load(fold["test"]) if fold.get("test") else None,
        }
        for fold in task.get("folds", [])
    ]
    data_rss = peak_rss_mb()
    start = time.perf_counter()
    result = RUNNERS[task["runner"]](folds, **task.get("kwargs", {}))
    result["wall_s"] = time.perf_counter() - start
    result["data_rss_mb"] = data_rss
    result["peak_rss_mb"] = max(peak_rss_mb(), result.pop("peak_rss_mb_tree", 0))
    sys.stdout.flush()
    print(MARKER + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
