"""TM Accounts API (ACOE): one member's profile, SigV4-signed with an API key, normalized."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from workers.shared.errors import (
    PermanentError,
    PermanentVendorError,
    RetryableVendorError,
    SecretError,
    validation_reason,
)
from workers.shared.vendor_http import SigV4Signer, VendorClient, secret_value

VENDOR = "accounts"
MEMBER_PATH = "/v1/members/{member_id}"
API_KEY_HEADER = "x-api-key"  # the API Gateway usage-plan key in front of the IAM-authorized API
MEMBER_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MEMBER_ID_RULE = "1 to 64 letters, digits, '-' or '_'"
E164_PATTERN = re.compile(r"^\+[1-9]\d{6,14}$")
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
COUNTRY_PATTERN = re.compile(r"^[A-Z]{2}$")
LOCALE_PATTERN = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
# North American numbering plan: national numbers are 10 digits behind the +1 country code.
NANP_COUNTRIES = frozenset({"US", "CA"})
NANP_DIGITS = 10
# A resolver answers within AppSync's 30 s: 3 attempts of at most VENDOR_TIMEOUT_SECONDS, short pauses.
BACKOFF_CAP_SECONDS = 1.0


class InvalidMemberIdError(PermanentError):
    """The member id is malformed (checked before any call) or the Accounts API rejected it."""


class MemberNotFoundError(PermanentVendorError):
    """The Accounts API has no member with this id (404)."""


# --------------------------------------------------------------------------------------------
# Wire format of GET /v1/members/{memberId}
# --------------------------------------------------------------------------------------------


class _Wire(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        extra="ignore",
        defer_build=True,
    )


class EmailAddress(_Wire):
    """One of the member's email addresses."""

    address: str
    primary: bool = False


class PhoneNumber(_Wire):
    """One of the member's phone numbers, as entered (any punctuation, maybe without country code)."""

    number: str
    country_code: str | None = None
    primary: bool = False


class MemberDocument(_Wire):
    """The Accounts API's member document (only the fields we expose)."""

    member_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    emails: list[EmailAddress] = Field(default_factory=list)
    phones: list[PhoneNumber] = Field(default_factory=list)
    country_code: str | None = None
    locale: str | None = None


class Member(BaseModel):
    """A member's normalized profile: the GraphQL `TmAccount` type."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, frozen=True, defer_build=True)

    member_id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone_number: str | None = None
    country_code: str | None = None
    locale: str | None = None

    def graphql(self) -> dict[str, str | None]:
        """The `TmAccount` object AppSync returns (camelCase, nulls kept)."""
        return self.model_dump(by_alias=True)


# --------------------------------------------------------------------------------------------
# Normalization
# --------------------------------------------------------------------------------------------


def check_member_id(member_id: str) -> str:
    """The member id when well-formed; InvalidMemberIdError naming the rule otherwise."""
    if not MEMBER_ID_PATTERN.fullmatch(member_id):
        shown = repr(member_id)[:40]
        raise InvalidMemberIdError(f"memberId {shown} is not a valid member id: use {MEMBER_ID_RULE}")
    return member_id


def clean_name(value: str | None) -> str | None:
    """A name with surrounding and repeated whitespace removed (case kept: McCartney, de la Cruz)."""
    if value is None:
        return None
    cleaned = " ".join(value.split())
    return cleaned or None


def clean_email(value: str) -> str | None:
    """The address trimmed, its domain lower-cased (the local part is case-sensitive); None if invalid."""
    address = value.strip()
    if not EMAIL_PATTERN.fullmatch(address):
        return None
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


def primary_email(addresses: Iterable[EmailAddress]) -> str | None:
    """The primary address if valid, else the first valid one."""
    ordered = sorted(addresses, key=lambda entry: not entry.primary)  # stable: primary first
    return next((found for entry in ordered if (found := clean_email(entry.address))), None)


def e164(number: str | None, country_code: str | None = None) -> str | None:
    """The number in E.164 (+15555550123), or None when it cannot be made one unambiguously."""
    if not number:
        return None
    written = number.strip()
    digits = re.sub(r"\D", "", written)
    if written.startswith("+"):
        candidate = f"+{digits}"
    elif written.startswith("00"):
        candidate = f"+{digits[2:]}"
    elif country_code in NANP_COUNTRIES and len(digits) == NANP_DIGITS:
        candidate = f"+1{digits}"
    elif country_code in NANP_COUNTRIES and len(digits) == NANP_DIGITS + 1 and digits.startswith("1"):
        candidate = f"+{digits}"
    else:
        # Without a country's dialing rules a national number is ambiguous: better none than wrong.
        return None
    return candidate if E164_PATTERN.fullmatch(candidate) else None


def primary_phone(phones: Iterable[PhoneNumber], member_country: str | None) -> str | None:
    """The primary number in E.164 if it converts, else the first one that does."""
    ordered = sorted(phones, key=lambda entry: not entry.primary)
    for entry in ordered:
        found = e164(entry.number, clean_country(entry.country_code) or member_country)
        if found:
            return found
    return None


def clean_country(value: str | None) -> str | None:
    """An ISO 3166-1 alpha-2 code in upper case (us → US), else None."""
    if value is None:
        return None
    code = value.strip().upper()
    return code if COUNTRY_PATTERN.fullmatch(code) else None


def clean_locale(value: str | None) -> str | None:
    """A locale in lower case with hyphens, as the rest of the fleet writes it (en_US → en-us)."""
    if value is None:
        return None
    locale = value.strip().replace("_", "-").lower()
    return locale if LOCALE_PATTERN.fullmatch(locale) else None


def normalize_member(document: MemberDocument, *, requested_id: str) -> Member:
    """The GraphQL profile of an Accounts API member document."""
    country = clean_country(document.country_code)
    return Member(
        member_id=document.member_id or requested_id,
        first_name=clean_name(document.first_name),
        last_name=clean_name(document.last_name),
        email=primary_email(document.emails),
        phone_number=primary_phone(document.phones, country),
        country_code=country,
        locale=clean_locale(document.locale),
    )


# --------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------


class AccountsClient:
    """Reads member profiles from the Accounts API on a configured vendor client."""

    def __init__(self, vendor: VendorClient) -> None:
        self._vendor = vendor

    def member(self, member_id: str) -> Member:
        """The member's normalized profile; InvalidMemberIdError, MemberNotFoundError or a VendorError."""
        check_member_id(member_id)
        try:
            response = self._vendor.request("GET", MEMBER_PATH.format(member_id=quote(member_id, safe="")))
        except PermanentVendorError as error:
            if error.status_code == 404:
                raise MemberNotFoundError(
                    error.vendor, f"no member with id {member_id!r}", status_code=404
                ) from None
            if error.status_code == 400:
                raise InvalidMemberIdError(
                    f"memberId {member_id!r} was rejected by the accounts service: {error.reason}"
                ) from None
            raise
        try:
            document = MemberDocument.model_validate(response.json())
        except ValueError as error:
            reason = validation_reason(error) if isinstance(error, ValidationError) else str(error)
            raise RetryableVendorError(
                VENDOR, f"unexpected member response: {reason}", status_code=response.status
            ) from None
        return normalize_member(document, requested_id=member_id)


def api_key(secret_arn: str) -> str:
    """The API key in the Accounts secret (`{"apiKey": "..."}`)."""
    key = secret_value(secret_arn).get("apiKey")
    if not isinstance(key, str) or not key:
        raise SecretError(f"secret {secret_arn} has no non-empty 'apiKey'")
    return key


def accounts_client(
    base_url: str,
    *,
    secret_arn: str,
    role_arn: str | None,
    region: str,
    timeout_seconds: float = 5.0,
    max_attempts: int = 3,
    sleep: Callable[[float], None] = time.sleep,
) -> AccountsClient:
    """An Accounts client: API key from the secret, SigV4 (execute-api) as `role_arn` when one is given."""
    # Stacks that name no role (the local sandbox's fake API) call with the API key alone.
    signer = SigV4Signer(role_arn, region, "execute-api") if role_arn else None
    vendor = VendorClient(
        base_url,
        name=VENDOR,
        timeout_seconds=timeout_seconds,
        max_attempts=max_attempts,
        backoff_cap=BACKOFF_CAP_SECONDS,
        signer=signer,
        headers_provider=lambda: {API_KEY_HEADER: api_key(secret_arn)},
        sleep=sleep,
    )
    return AccountsClient(vendor)
