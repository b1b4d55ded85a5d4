"""Who receives an alert: the audience of the rule resolved against the recipients replica."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

LANGUAGES = ("en", "nl")
DEFAULT_LANGUAGE = "en"


class Role(StrEnum):
    OWNER = "owner"
    CONTACT = "contact"
    EXTRA = "extra"
    WEBHOOK = "webhook"


@dataclass(frozen=True)
class ContactInfo:
    name: str
    email: str
    language: str


@dataclass(frozen=True)
class Recipient:
    address: str
    language: str
    role: Role
    name: str | None = None

    @property
    def internal(self) -> bool:
        """The contract owner works for the MSP; contacts and extra addresses may not."""
        return self.role is Role.OWNER


def supported_language(language: str | None) -> str:
    """The language we have templates for; anything else falls back to English."""
    value = (language or "").strip().lower()
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


def resolve_recipients(
    *,
    owner: bool,
    customer_contacts: bool,
    emails: Sequence[str],
    owner_email: str,
    contacts: Sequence[ContactInfo],
) -> list[Recipient]:
    """Owner, then the customer's contacts, then extra addresses; one entry per address.

    Addresses compare case-insensitively and the first mention keeps its place and role, but
    a contact's own language wins over the English we assume for the owner and extras.
    """
    candidates: list[Recipient] = []
    if owner:
        candidates.append(Recipient(owner_email.strip(), DEFAULT_LANGUAGE, Role.OWNER))
    if customer_contacts:
        candidates += [
            Recipient(c.email.strip(), supported_language(c.language), Role.CONTACT, c.name)
            for c in contacts
        ]
    candidates += [Recipient(e.strip(), DEFAULT_LANGUAGE, Role.EXTRA) for e in emails]

    chosen: dict[str, Recipient] = {}
    for candidate in candidates:
        key = candidate.address.casefold()
        first = chosen.get(key)
        if first is None:
            chosen[key] = candidate
        elif candidate.role is Role.CONTACT and first.role is not Role.CONTACT:
            chosen[key] = Recipient(first.address, candidate.language, first.role, candidate.name)
    return list(chosen.values())
