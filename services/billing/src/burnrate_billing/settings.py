from burnrate_common.report_links import ReportLinkSettings
from burnrate_common.timezones import is_valid_timezone
from pydantic import Field, field_validator


class BillingSettings(ReportLinkSettings):
    """``BURNRATE_BILLING_*`` besides the shared ones; the customer's approval links are
    signed with ``BURNRATE_REPORT_LINK_SECRET`` (``report_links``), scoped to statements."""

    service_name: str = "billing"
    port: int = Field(default=8006, validation_alias="BURNRATE_BILLING_PORT")
    #: where customers reach billing's approval page (the signed links are built on it)
    billing_public_url: str = "http://127.0.0.1:8006"
    #: lifetime of a statement's approval link
    billing_approval_link_days: int = Field(default=30, ge=1, le=366)
    #: the seller on invoices and UBL exports
    billing_seller_name: str = "Burnrate MSP"
    billing_seller_vat_id: str = "NL000099998B01"
    billing_seller_country: str = Field(default="NL", min_length=2, max_length=2)
    #: The seller's time zone: an invoice's date, and so the year whose numbers it takes,
    #: is the seller's calendar day (an invoice issued just after midnight on 1 January
    #: belongs to the new year).
    billing_seller_timezone: str = "Europe/Amsterdam"
    #: the seller's Peppol endpoint as ``scheme:id`` (0106: Dutch KvK number)
    billing_seller_endpoint: str = "0106:12345678"
    #: days from issue to the payment due date
    billing_payment_terms_days: int = Field(default=30, ge=0, le=365)

    @field_validator("billing_seller_timezone")
    @classmethod
    def _a_zone(cls, value: str) -> str:
        if not is_valid_timezone(value):
            raise ValueError(f"{value!r} is not an IANA time zone")
        return value
