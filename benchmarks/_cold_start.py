"""A fresh process: import skmf, read MovieLens 100K, fit it, predict raw ids.

    python benchmarks/_cold_start.py DATA_DIR SPAWNED_AT [N_PREDICT]

``SPAWNED_AT`` is the parent's ``time.time()`` just before it started this
process, so that ``fitted_after_spawn_s`` also counts the interpreter's own
start. Only the standard library is imported before the clock starts. Prints
one line of JSON. Run by ``speed.py --cold-start``.
"""

import json
import sys
import time


def main():
    data_dir, spawned_at = sys.argv[1], float(sys.argv[2])
    n_predict = int(sys.argv[3]) if len(sys.argv) > 3 else 1_000_000
    start = time.perf_counter()
    import numpy as np
    import pandas as pd

    from skmf import MatrixFactorization

    imported = time.perf_counter()
    ratings = pd.read_csv(
        f"{data_dir}/u.data", sep="\t", names=["user", "item", "rating", "timestamp"]
    )
    loaded = time.perf_counter()
    model = MatrixFactorization(50, max_iter=20, random_state=0)
    model.fit(ratings[["user", "item"]], ratings["rating"])
    fitted = time.perf_counter()
    fitted_after_spawn = time.time() - spawned_at

    # Raw ids as a user holds them: ML-100K's own ids, some of them unknown.
    rng = np.random.default_rng(0)
    pairs = np.column_stack(
        (rng.integers(1, 1000, n_predict), rng.integers(1, 1750, n_predict))
    )
    frame = pd.DataFrame(pairs, columns=["user", "item"])
    first = time.perf_counter()
    model.predict(pairs)
    first = time.perf_counter() - first
    best_array = best_frame = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        model.predict(pairs)
        t1 = time.perf_counter()
        model.predict(frame)
        t2 = time.perf_counter()
        best_array, best_frame = min(best_array, t1 - t0), min(best_frame, t2 - t1)
    print(
        json.dumps(
            {
                "import_s": imported - start,
                "load_s": loaded - imported,
                "fit_s": fitted - loaded,
                "fitted_after_spawn_s": fitted_after_spawn,
                "first_predict_s": first,
                "predict_array_s": best_array,
                "predict_frame_s": best_frame,
                "n_predict": n_predict,
            }
        )
    )


if __name__ == "__main__":
    main()
