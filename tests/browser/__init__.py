"""Tests in a real browser: headless Chromium through Selenium (installed by
``.ci/install-services``)."""
