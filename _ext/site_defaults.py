"""Theme defaults the `_config.yml` `html:` section cannot set: the colour mode a first visit starts in.

Without `default_mode` the theme writes an empty mode into the page and logs "Got invalid theme mode" as a
console error on every first visit (seen by `make site-check`).
"""

from __future__ import annotations

from typing import Any


def set_default_mode(app: Any, config: Any) -> None:
    """Start in the reader's system colour mode unless the page context already says otherwise (the theme's
    layout reads `default_mode` from `html_context`)."""
    context = dict(config.html_context or {})
    context.setdefault("default_mode", "auto")
    config.html_context = context


def setup(app: Any) -> dict[str, Any]:
    """Register the config hook."""
    app.connect("config-inited", set_default_mode)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
