"""Uploads a new version of one file with Box's legacy Python SDK (boxsdk 3.x, module boxsdk)
through its chunked uploader, `client.file(FILE_ID).get_chunked_uploader(path).start()`
(`CHUNK_UPLOAD_THREADS` parts at once, 5 by default). boxsdk 3.x knows no plan: it sends every
part. Prints one JSON line.

Written to target/bench/ and run by box-uploads-bench; not meant to be run by hand (but can be:
python boxsdk3_version.py BASE TOKEN FILE FILE_ID, BASE the emulator's http://HOST:PORT).
"""

import json
import resource
import sys
import time

from boxsdk3_client import IMPORT_S as import_s
from boxsdk3_client import boxsdk, emulator_client


def main():
    base, token, path, file_id = sys.argv[1:5]
    client = emulator_client(base, token)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    uploader = client.file(file_id).get_chunked_uploader(path)
    file = uploader.start()
    if file is None:
        # The commit was not processed yet (202): the SDK's documented way is to resume.
        file = uploader.resume()
    upload_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    if file is None:
        sys.exit("the commit was never processed")
    print(
        json.dumps(
            {
                "upload_s": upload_s,
                "import_s": import_s,
                "file_id": file.id,
                "sha1": file.response_object.get("sha1"),
                "concurrency": boxsdk.config.API.CHUNK_UPLOAD_THREADS,
                "upload_cpu_s": (after.ru_utime - before.ru_utime)
                + (after.ru_stime - before.ru_stime),
                "self_max_rss_kib": after.ru_maxrss,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
