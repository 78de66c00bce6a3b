"""Uploads every file of a directory, one after another, with Box's official Python SDK
(boxsdk 10.x, module box_sdk_gen): `client.uploads.upload_file(...)` per file as Box's docs
show, with the SDK's default retry strategy (it retries 429s after `retry-after`). Prints one
JSON line.

Written to target/bench/ and run by box-uploads-bench; not meant to be run by hand (but can be:
python boxsdk_small_files.py BASE_URL UPLOAD_URL TOKEN DIR FOLDER_ID).
"""

import json
import os
import resource
import sys
import time

t_import = time.perf_counter()
from box_sdk_gen import (  # noqa: E402
    BaseUrls,
    BoxClient,
    BoxDeveloperTokenAuth,
    UploadFileAttributes,
    UploadFileAttributesParentField,
)

import_s = time.perf_counter() - t_import


def main():
    base_url, upload_url, token, directory, folder_id = sys.argv[1:6]
    client = BoxClient(auth=BoxDeveloperTokenAuth(token=token)).with_custom_base_urls(
        BaseUrls(base_url=base_url, upload_url=upload_url, oauth_2_url=base_url + "/oauth2")
    )
    names = sorted(os.listdir(directory))
    uploaded = 0
    errors = []
    start = time.perf_counter()
    for name in names:
        try:
            with open(os.path.join(directory, name), "rb") as stream:
                files = client.uploads.upload_file(
                    UploadFileAttributes(
                        name=name, parent=UploadFileAttributesParentField(id=folder_id)
                    ),
                    stream,
                )
            if files.entries:
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
