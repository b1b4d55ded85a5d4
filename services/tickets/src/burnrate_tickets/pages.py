"""The customer's confirmation page, in English or Dutch: confirm the closure of a resolved
ticket (rating 1–5 and a comment) or reopen it. A plain HTML form, no script: it posts to
``{token}/form`` and is shown again (303) with the answer.

Every value put in the page is escaped; the page's one style block is allowed by its hash
(no inline script or style is allowed otherwise).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import html
from typing import Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from burnrate_tickets.schemas import ConfirmationPageOut

Lang = Literal["en", "nl"]
LANGS: tuple[Lang, ...] = ("en", "nl")

TEXTS: dict[Lang, dict[str, str]] = {
    "en": {
        "title": "Ticket {reference}",
        "resolved": "We resolved this ticket on {at}.",
        "ask": "Is it solved for you? Confirm to close it, or reopen it if it is not.",
        "rating": "How did we do? (1 = poor, 5 = excellent)",
        "comment": "Comment (optional)",
        "confirm": "Confirm and close",
        "reopen": "Not solved: reopen",
        "confirmed": "Thank you. You confirmed the closure on {at}.",
        "rated": "Your rating: {rating} of 5.",
        "not_waiting": "This ticket is not waiting for a confirmation (it was reopened or "
        "closed since).",
        "reopened": "We reopened the ticket and are working on it again.",
        "expired": "This link has expired or is not valid.",
        "expired_title": "Link not valid",
        "invalid": "Please check your answer: {what}.",
        "bad_rating": "the rating is a number from 1 to 5",
        "bad_comment": "the comment is at most 4,000 characters",
    },
    "nl": {
        "title": "Ticket {reference}",
        "resolved": "We hebben dit ticket opgelost op {at}.",
        "ask": "Is het voor u opgelost? Bevestig om het te sluiten, of heropen het als dat "
        "niet zo is.",
        "rating": "Hoe hebben we het gedaan? (1 = slecht, 5 = uitstekend)",
        "comment": "Opmerking (optioneel)",
        "confirm": "Bevestigen en sluiten",
        "reopen": "Niet opgelost: heropenen",
        "confirmed": "Dank u wel. U hebt de afsluiting bevestigd op {at}.",
        "rated": "Uw beoordeling: {rating} van 5.",
        "not_waiting": "Dit ticket wacht niet op een bevestiging (het is intussen heropend "
        "of gesloten).",
        "reopened": "We hebben het ticket heropend en werken er weer aan.",
        "expired": "Deze link is verlopen of ongeldig.",
        "expired_title": "Link ongeldig",
        "invalid": "Controleer uw antwoord: {what}.",
        "bad_rating": "de beoordeling is een getal van 1 tot en met 5",
        "bad_comment": "de opmerking is hoogstens 4.000 tekens",
    },
}

MONTHS: dict[Lang, list[str]] = {
    "en": "January February March April May June July August September October November "
    "December".split(),
    "nl": "januari februari maart april mei juni juli augustus september oktober november "
    "december".split(),
}

STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; color: #1f2933; background: #f5f7fa;
       margin: 0; padding: 2rem 1rem; }
main { max-width: 36rem; margin: 0 auto; background: #fff; padding: 1.5rem 2rem;
       border-radius: 8px; box-shadow: 0 1px 3px rgba(0,0,0,.12); }
h1 { font-size: 1.4rem; margin-top: 0; }
fieldset { border: 0; padding: 0; margin: 1rem 0; }
legend { font-weight: 600; margin-bottom: .5rem; }
.stars label { margin-right: 1rem; }
textarea { width: 100%; min-height: 6rem; box-sizing: border-box; font: inherit; }
.buttons { display: flex; gap: 1rem; flex-wrap: wrap; margin-top: 1rem; }
button { font: inherit; padding: .5rem 1rem; border-radius: 4px; border: 1px solid #3e4c59;
         background: #fff; cursor: pointer; }
button[value=confirm] { background: #2f6f4f; color: #fff; border-color: #2f6f4f; }
.error { color: #9b1c1c; font-weight: 600; }
.done { color: #2f6f4f; font-weight: 600; }
"""
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()

SECURITY_HEADERS = {
    "Content-Security-Policy": f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def wants_html(accept: str | None) -> bool:
    """True when the client prefers ``text/html`` to JSON (a browser); API clients sending
    nothing, ``*/*`` or ``application/json`` get JSON."""
    html_q = json_q = 0.0
    for part in (accept or "").split(","):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.strip().lower()
        if media in ("text/html", "application/xhtml+xml"):
            html_q = max(html_q, q)
        elif media in ("application/json", "application/problem+json"):
            json_q = max(json_q, q)
    return html_q > 0 and html_q > json_q


def language(accept_language: str | None, asked: str | None = None) -> Lang:
    """``asked`` (the ``lang`` query) if known, else the first of en/nl the browser
    prefers by ``Accept-Language``; English by default."""
    if asked in LANGS:
        return asked
    best: tuple[float, int, Lang] | None = None
    for n, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in LANGS:
            continue
        q = 1.0
        name, _, value = params.strip().partition("=")
        if name == "q":
            try:
                q = float(value)
            except ValueError:
                q = 0.0
        candidate = (-q, n, primary)
        if q > 0 and (best is None or candidate < best):
            best = candidate
    return best[2] if best else "en"


def _when(at: dt.datetime, timezone: str | None, lang: Lang) -> str:
    try:
        local = at.astimezone(ZoneInfo(timezone or "UTC"))
    except (KeyError, ValueError):
        local = at.astimezone(dt.UTC)
    month = MONTHS[lang][local.month - 1]
    return f"{local.day} {month} {local.year}, {local:%H:%M}"


def _document(lang: Lang, title: str, body: str) -> str:
    return (
        f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def confirmation_page(
    page: ConfirmationPageOut,
    token: str,
    lang: Lang,
    *,
    error: str | None = None,
    message: str | None = None,
    values: dict[str, str] | None = None,
) -> str:
    """The page of a valid link: the form while the ticket waits for a confirmation, else
    what became of it. ``error``: a text key of what was wrong with the answer sent;
    ``message``: a text key of what the answer did; ``values``: the answer, shown again."""
    t = TEXTS[lang]
    esc = html.escape
    title = t["title"].format(reference=page.reference)
    parts = [f'<h1 id="title">{esc(title)}</h1>']
    if page.resolved_at is not None:
        resolved = t["resolved"].format(at=_when(page.resolved_at, page.timezone, lang))
        parts.append(f"<p>{esc(resolved)}</p>")
    if message is not None:
        parts.append(f'<p class="done" id="message">{esc(t[message])}</p>')
    if page.confirmation is not None:
        confirmed = t["confirmed"].format(
            at=_when(page.confirmation.confirmed_at, page.timezone, lang)
        )
        parts.append(f'<p class="done" id="confirmed">{esc(confirmed)}</p>')
        if page.confirmation.rating is not None:
            rated = t["rated"].format(rating=page.confirmation.rating)
            parts.append(f'<p id="rating">{esc(rated)}</p>')
        if page.confirmation.comment:
            parts.append(f'<blockquote id="comment">{esc(page.confirmation.comment)}</blockquote>')
    elif page.status_kind == "resolved":
        values = values or {}
        if error is not None:
            what = t["invalid"].format(what=t[error])
            parts.append(f'<p class="error" id="error" role="alert">{esc(what)}</p>')
        stars = "".join(
            f'<label><input type="radio" name="rating" value="{n}"'
            f"{' checked' if values.get('rating') == str(n) else ''}> {n}</label>"
            for n in range(1, 6)
        )
        query = "?" + urlencode({"lang": lang})
        parts.append(
            f'<p>{esc(t["ask"])}</p><form method="post" id="answer" '
            f'action="{esc(token)}/form{esc(query)}">'
            f'<fieldset class="stars"><legend>{esc(t["rating"])}</legend>{stars}</fieldset>'
            f'<label for="comment-text">{esc(t["comment"])}</label>'
            f'<textarea id="comment-text" name="comment" maxlength="4000">'
            f"{esc(values.get('comment', ''))}</textarea>"
            '<div class="buttons">'
            f'<button type="submit" name="action" value="confirm">{esc(t["confirm"])}</button>'
            f'<button type="submit" name="action" value="reopen">{esc(t["reopen"])}</button>'
            "</div></form>"
        )
    elif message is None:
        parts.append(f'<p id="not-waiting">{esc(t["not_waiting"])}</p>')
    return _document(lang, title, "".join(parts))


def expired_page(lang: Lang) -> str:
    t = TEXTS[lang]
    return _document(lang, t["expired_title"], f'<h1 id="title">{html.escape(t["expired"])}</h1>')
