"""The image tests run on both storage backends, with the fixtures of tests/test_photos.py: a
local folder served by the API, and S3 against moto's server over real HTTP."""

from tests.test_photos import (  # noqa: F401 - fixtures, found by pytest in this namespace
    app,
    backend,
    fetch,
    keys,
    s3_endpoint,
    settings,
)
