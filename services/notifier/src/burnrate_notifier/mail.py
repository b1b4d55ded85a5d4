"""Alert mails: rendered from the Jinja2 template files in ``templates/``, assembled as MIME.

User data (contract titles, contact names) only ever fills template variables: it is never
compiled as a template, HTML escapes it, every value a template interpolates has its line
breaks and other control characters folded into a space (so a name can add no line to the
plain-text part), and the subject is forced onto one line.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from jinja2 import Environment, PackageLoader, StrictUndefined, Template, select_autoescape

from burnrate_notifier.domain.recipients import supported_language

# Only a plain identifier may pick a template file (a trigger comes from another service).
_TEMPLATE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


def one_line(text: str) -> str:
    """Every run of whitespace, CR, LF and other line breaks included, becomes one space."""
    return " ".join(text.split())


#: C0 and C1 controls (CR, LF, VT, FF, the file/group/record separators, NEL, ESC, TAB …)
#: and the Unicode line and paragraph separators: whatever may start a line or steer a reader.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def fold_controls(value: object) -> object:
    """A template value with each run of control characters folded into one space (Jinja's
    ``finalize``: every ``{{ }}`` goes through it). Values that are not text pass unchanged,
    and so does markup a template marked safe itself (``__html__``): no user data is that."""
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return _CONTROLS.sub(" ", value)
    return value


class Templates:
    """The alert templates: ``<language>/<part>``, overridable per trigger as
    ``<language>/<trigger>/<part>`` (parts: ``subject.txt``, ``body.txt``, ``body.html``)."""

    def __init__(self) -> None:
        self._env = Environment(
            loader=PackageLoader("burnrate_notifier", "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            finalize=fold_controls,
        )

    def _pick(self, language: str, trigger: str, part: str) -> Template:
        names = [f"{language}/{part}"]
        if _TEMPLATE_NAME.match(trigger):
            names.insert(0, f"{language}/{trigger}/{part}")
        return self._env.select_template(names)

    def render_alert(self, context: Mapping[str, object]) -> RenderedMail:
        language = supported_language(str(context["language"]))
        trigger = str(context["trigger"])
        return RenderedMail(
            subject=one_line(self._pick(language, trigger, "subject.txt").render(context)),
            text=self._pick(language, trigger, "body.txt").render(context),
            html=self._pick(language, trigger, "body.html").render(context),
        )


def new_message_id(domain: str) -> str:
    """An RFC 5322 Message-ID, made once per delivery and stored, so a resend keeps it."""
    return make_msgid(idstring=uuid.uuid4().hex[:12], domain=domain)


@dataclass(frozen=True)
class OutgoingMail:
    """What the sender needs of a stored delivery to rebuild the identical message."""

    recipient: str
    subject: str
    text: str
    html: str
    message_id: str
    created_at: dt.datetime
    alert_id: uuid.UUID
    stage: str
    #: the signed unsubscribe link (None: the owner's mail, which has none)
    unsubscribe_url: str | None = None


def build_message(mail: OutgoingMail, mail_from: str) -> EmailMessage:
    """A multipart/alternative message: plain text first, HTML preferred by capable readers.

    Date is when the delivery was made (not when it is sent), so a resend is the same message.
    """
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = mail.recipient
    message["Subject"] = one_line(mail.subject)
    message["Date"] = format_datetime(mail.created_at.astimezone(dt.UTC))
    message["Message-ID"] = mail.message_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    message["X-Burnrate-Alert-Id"] = str(mail.alert_id)
    message["X-Burnrate-Stage"] = one_line(mail.stage)
    if mail.unsubscribe_url:
        # RFC 2369 and RFC 8058: mail clients offer "unsubscribe" and POST
        # "List-Unsubscribe=One-Click" to the link, no page in between.
        message["List-Unsubscribe"] = f"<{one_line(mail.unsubscribe_url)}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")
    return message
