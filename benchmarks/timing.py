"""Timing shared by the benchmark scripts (imported from beside them: ``python benchmarks/<name>.py``)."""
import time


def side_by_side(fns, repeats):
    """Best-of-``repeats`` wall times of several functions run in turn, so machine load hits all alike.

    Returns:
        tuple[list[float], list]: The best time (s) and the last output of each function.
    """
    times = [[] for _ in fns]
    outs = [None] * len(fns)
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            t0 = time.perf_counter()
            outs[i] = fn()
            times[i].append(time.perf_counter() - t0)
    return [min(t) for t in times], outs
