"""Shared by the Python SDK bench scripts (boxsdk 10.x and 3.x): the upload timed inside the
process, and the one JSON line each prints. Written to target/bench/ beside those scripts."""

import json
import resource
import time


def measured(upload):
    """Runs `upload()`: its result, its seconds, and the process's usage before and after it."""
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    result = upload()
    upload_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    return result, upload_s, before, after


def print_report(fields, before, after):
    """Prints `fields` and the upload's CPU seconds and the peak RSS as one JSON line."""
    print(
        json.dumps(
            {
                **fields,
                "upload_cpu_s": (after.ru_utime - before.ru_utime)
                + (after.ru_stime - before.ru_stime),
                "self_max_rss_kib": after.ru_maxrss,
            }
        ),
        flush=True,
    )
