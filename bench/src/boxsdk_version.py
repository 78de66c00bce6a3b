"""Uploads a new version of one file with Box's official Python SDK (boxsdk 10.x, module
box_sdk_gen) through `chunked_uploads.upload_big_file_version`, which asks the session's `plan`
endpoint about each part (one part per request) and uploads only the misses. Prints one JSON line.

Written to target/bench/ and run by box-uploads-bench; not meant to be run by hand (but can be:
python boxsdk_version.py BASE_URL UPLOAD_URL TOKEN FILE FILE_ID).
"""

import os
import sys

from boxsdk_client import IMPORT_S as import_s
from boxsdk_client import emulator_client
from sdk_measure import measured, print_report


def main():
    base_url, upload_url, token, path, file_id = sys.argv[1:6]
    client = emulator_client(base_url, upload_url, token)
    size = os.path.getsize(path)

    def upload():
        with open(path, "rb") as stream:
            return client.chunked_uploads.upload_big_file_version(file_id, stream, size)

    file, upload_s, before, after = measured(upload)
    print_report(
        {
            "upload_s": upload_s,
            "import_s": import_s,
            # None: the commit answered 202 ("the file did not change").
            "file_id": file.id if file is not None else None,
            "sha1": file.sha_1 if file is not None else None,
        },
        before,
        after,
    )


if __name__ == "__main__":
    main()
