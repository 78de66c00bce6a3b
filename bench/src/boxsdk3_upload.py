"""Uploads one file with Box's legacy Python SDK (boxsdk 3.x, module boxsdk) through its chunked
uploader, `client.folder('0').get_chunked_uploader(path, name).start()`, which uploads
`boxsdk.config.API.CHUNK_UPLOAD_THREADS` parts at once (5 by default, left as is). Prints one
JSON line.

Written to target/bench/ and run by box-uploads-bench; not meant to be run by hand (but can be:
python boxsdk3_upload.py BASE TOKEN FILE NAME, BASE the emulator's http://HOST:PORT).
"""

import os
import sys

from boxsdk3_client import emulator_client, report_upload, start_or_resume
from sdk_measure import measured


def main():
    base, token, path, name = sys.argv[1:5]
    client = emulator_client(base, token)
    size = os.path.getsize(path)
    file, upload_s, before, after = measured(
        lambda: start_or_resume(client.folder("0").get_chunked_uploader(path, name))
    )
    report_upload(file, upload_s, before, after, size=size)


if __name__ == "__main__":
    main()
