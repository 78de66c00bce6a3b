"""Uploads a new version of one file with Box's official Python SDK (boxsdk 10.x, module
box_sdk_gen) through `chunked_uploads.upload_big_file_version`, which asks the session's `plan`
endpoint about each part (one part per request) and uploads only the misses. Prints one JSON line.

Written to target/bench/ and run by box-uploads-bench; not meant to be run by hand (but can be:
python boxsdk_version.py BASE_URL UPLOAD_URL TOKEN FILE FILE_ID).
"""

import json
import os
import resource
import sys
import time

t_import = time.perf_counter()
from box_sdk_gen import BaseUrls, BoxClient, BoxDeveloperTokenAuth  # noqa: E402

import_s = time.perf_counter() - t_import


def main():
    base_url, upload_url, token, path, file_id = sys.argv[1:6]
    client = BoxClient(auth=BoxDeveloperTokenAuth(token=token)).with_custom_base_urls(
        BaseUrls(base_url=base_url, upload_url=upload_url, oauth_2_url=base_url + "/oauth2")
    )
    size = os.path.getsize(path)
    before = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    with open(path, "rb") as stream:
        file = client.chunked_uploads.upload_big_file_version(file_id, stream, size)
    upload_s = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "upload_s": upload_s,
                "import_s": import_s,
                # None: the commit answered 202 ("the file did not change").
                "file_id": file.id if file is not None else None,
                "sha1": file.sha_1 if file is not None else None,
                "upload_cpu_s": (after.ru_utime - before.ru_utime)
                + (after.ru_stime - before.ru_stime),
                "self_max_rss_kib": after.ru_maxrss,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
