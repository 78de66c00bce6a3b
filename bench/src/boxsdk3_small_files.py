"""Uploads every file of a directory, one after another, with Box's legacy Python SDK
(boxsdk 3.x, module boxsdk): `client.folder(FOLDER_ID).upload(path)` per file, with the SDK's
own retries (it retries 429s after `retry-after`). Prints one JSON line.

Written to target/bench/ and run by box-uploads-bench; not meant to be run by hand (but can be:
python boxsdk3_small_files.py BASE TOKEN DIR FOLDER_ID, BASE the emulator's http://HOST:PORT).
"""

import json
import os
import resource
import sys
import time

from boxsdk3_client import IMPORT_S as import_s
from boxsdk3_client import emulator_client


def main():
    base, token, directory, folder_id = sys.argv[1:5]
    client = emulator_client(base, token)
    folder = client.folder(folder_id)
    names = sorted(os.listdir(directory))
    uploaded = 0
    errors = []
    start = time.perf_counter()
    for name in names:
        try:
            file = folder.upload(os.path.join(directory, name))
            if file.id:
                uploaded += 1
        except Exception as e:  # noqa: BLE001 - counted and reported, the loop goes on
            errors.append(f"{name}: {type(e).__name__}: {str(e)[:200]}")
    upload_s = time.perf_counter() - start
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "upload_s": upload_s,
                "import_s": import_s,
                "uploaded": uploaded,
                "failed": len(errors),
                "errors": errors[:5],
                "self_max_rss_kib": usage.ru_maxrss,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
