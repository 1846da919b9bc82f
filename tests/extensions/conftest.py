"""Quart's extensions, run unchanged on trioquart.

The opt-in comes first, as an app module would have it: every ``import quart`` below (the
extensions' own) resolves to trioquart. It is process-wide, which is harmless for the rest
of the suite: nothing else imports ``quart``.
"""

import trioquart.quart_patch  # noqa: F401  (before any extension is imported)
