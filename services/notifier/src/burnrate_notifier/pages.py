"""The HTML pages the notifier serves to people without an API key: the unsubscribe page."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape


class Pages:
    """The page templates in ``templates/pages`` (bootstrap builds the only one)."""

    def __init__(self) -> None:
        self._env = Environment(
            loader=PackageLoader("burnrate_notifier", "templates/pages"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def unsubscribe(self, **context: Any) -> str:
        return self._env.get_template("unsubscribe.html").render(**context)
