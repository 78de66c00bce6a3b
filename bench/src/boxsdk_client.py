"""Shared by the boxsdk 10.x bench scripts: Box's official SDK (module box_sdk_gen), imported and
timed, and a client of it pointed at the URLs given. Written to target/bench/ beside those
scripts."""

import time

_t_import = time.perf_counter()
from box_sdk_gen import BaseUrls, BoxClient, BoxDeveloperTokenAuth  # noqa: E402

IMPORT_S = time.perf_counter() - _t_import


def emulator_client(base_url, upload_url, token):
    """A boxsdk 10.x client whose API, upload and OAuth URLs are the ones given."""
    return BoxClient(auth=BoxDeveloperTokenAuth(token=token)).with_custom_base_urls(
        BaseUrls(base_url=base_url, upload_url=upload_url, oauth_2_url=base_url + "/oauth2")
    )
