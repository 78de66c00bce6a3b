"""Shared by the boxsdk 3.x bench scripts: the legacy SDK (module boxsdk), imported and timed,
and a client of it pointed at the emulator. Written to target/bench/ beside those scripts."""

import sys
import time

_t_import = time.perf_counter()
import boxsdk  # noqa: E402
from boxsdk import Client, OAuth2  # noqa: E402

IMPORT_S = time.perf_counter() - _t_import

from sdk_measure import print_report  # noqa: E402


def emulator_client(base, token):
    """A boxsdk 3.x client whose every URL is the emulator at `base` (http://HOST:PORT)."""
    boxsdk.config.API.BASE_API_URL = f"{base}/2.0"
    boxsdk.config.API.UPLOAD_URL = f"{base}/api/2.0"
    boxsdk.config.API.OAUTH2_API_URL = f"{base}/oauth2"
    return Client(
        OAuth2(client_id="bench-client", client_secret="bench-secret", access_token=token)
    )


def start_or_resume(uploader):
    """The file a chunked uploader made, or None: a commit not processed yet (202) is resumed,
    the SDK's documented way."""
    file = uploader.start()
    if file is None:
        file = uploader.resume()
    return file


def report_upload(file, upload_s, before, after, **extra):
    """Prints a chunked upload's JSON line (`extra` after the file's SHA-1), or exits when the
    commit was never processed (`file` None)."""
    if file is None:
        sys.exit("the commit was never processed")
    print_report(
        {
            "upload_s": upload_s,
            "import_s": IMPORT_S,
            "file_id": file.id,
            "sha1": file.response_object.get("sha1"),
            **extra,
            "concurrency": boxsdk.config.API.CHUNK_UPLOAD_THREADS,
        },
        before,
        after,
    )
