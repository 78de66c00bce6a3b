"""Uploads a new version of one file with Box's legacy Python SDK (boxsdk 3.x, module boxsdk)
through its chunked uploader, `client.file(FILE_ID).get_chunked_uploader(path).start()`
(`CHUNK_UPLOAD_THREADS` parts at once, 5 by default). boxsdk 3.x knows no plan: it sends every
part. Prints one JSON line.

Written to target/bench/ and run by box-uploads-bench; not meant to be run by hand (but can be:
python boxsdk3_version.py BASE TOKEN FILE FILE_ID, BASE the emulator's http://HOST:PORT).
"""

import sys

from boxsdk3_client import emulator_client, report_upload, start_or_resume
from sdk_measure import measured


def main():
    base, token, path, file_id = sys.argv[1:5]
    client = emulator_client(base, token)
    file, upload_s, before, after = measured(
        lambda: start_or_resume(client.file(file_id).get_chunked_uploader(path))
    )
    report_upload(file, upload_s, before, after)


if __name__ == "__main__":
    main()
