"""The notifier's principals: API keys carrying these scopes (routes import them from here)."""

from typing import Annotated

from burnrate_common.auth import Principal, require
from fastapi import Depends

NotificationsReader = Annotated[Principal, Depends(require("notifications:read"))]
#: Changes, read state of the feed included: a read-only key (a dashboard) must not clear a
#: team's unread marks.
NotificationsWriter = Annotated[Principal, Depends(require("notifications:write"))]
