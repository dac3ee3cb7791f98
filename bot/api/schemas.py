"""What the one-stop software sends and gets back. Field errors become a 422 naming the
field; our own messages are English msgids (type `FIELD_ERROR`), translated when answered."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.i18n import N_
from storage.dossiers import CODE_MAX, NAME_MAX, TEXT_MAX, DossierStatus

FIELD_ERROR = "hanchot_invalid"
# A dossier code as a path segment: no spaces or slashes (the one-stop software's codes look
# like 000.00.25.H20-261120-0001).
CODE_PATTERN = r"^[^\s/\\]+$"
HANDLERS_MAX = 20

_MOBILE = re.compile(r"^0[35789]\d{8}$")
_LANDLINE = re.compile(r"^02\d{9}$")
_PHONE_JUNK = re.compile(r"[\s.\-()]")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")

BAD_PHONE = N_("Not a Vietnamese phone number: give 10 digits starting with 0 (a mobile) or "
               "11 digits starting with 02 (a landline), or the same with +84.")
BAD_MOMENT = N_("Not an ISO date or date and time, such as 2026-11-24 or "
                "2026-11-24T08:30:00+07:00.")
DUE_TWICE = N_("Give either due_at or period_days, not both.")
MISSING_NEEDED = N_("A supplement request must list everything that is missing, in one message.")
MISSING_ALONE = N_("missing goes only with the status needs_supplement.")
APOLOGY_PAIR = N_("An apology needs both reason and new_appointment, with the status late.")


def _error(msgid: str) -> PydanticCustomError:
    return PydanticCustomError(FIELD_ERROR, msgid)


def normalize_phone(raw: str) -> str:
    """0912345678 from +84 912 345 678, 84-912-345-678, 0912.345.678…; "" stays "" (clears
    the phone on the dossier)."""
    text = _PHONE_JUNK.sub("", raw)
    if not text:
        return ""
    if text.startswith("+84"):
        text = "0" + text[3:].removeprefix("0")
    elif text.startswith("84") and len(text) in (11, 12):
        text = "0" + text[2:]
    if not (_MOBILE.match(text) or _LANDLINE.match(text)):
        raise _error(BAD_PHONE)
    return text


def _date_or_datetime(value: Any) -> Any:
    """A bare ISO date stays a date (it means the end of that working day); anything else
    with a time is a datetime. Deciding here keeps pydantic from reading one as the other."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        if _ISO_DATE.match(text):
            return date.fromisoformat(text)
        return datetime.fromisoformat(text)
    except ValueError:
        raise _error(BAD_MOMENT) from None


def _clean(text: str) -> str:
    return " ".join(text.split())


Phone = Annotated[str, StringConstraints(max_length=32), AfterValidator(normalize_phone)]
DateOrDateTime = Annotated[date | datetime, BeforeValidator(_date_or_datetime)]
Name = Annotated[str, StringConstraints(max_length=100), AfterValidator(_clean)]


class DossierIn(BaseModel):
    """A dossier as the one-stop software knows it. On an update, a field left out (or
    null) keeps what the dossier has."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={
        "examples": [{
            "procedure_code": "1.001193", "procedure_name": "Đăng ký khai sinh",
            "citizen_name": "Nguyễn Văn An", "citizen_phone": "0912 345 678",
            "received_at": "2026-11-20T10:00:00", "period_days": 3,
            "handlers": ["Lê Minh Tâm"],
        }],
    })

    procedure_code: str | None = Field(None, max_length=32)
    procedure_name: str | None = Field(None, min_length=1, max_length=NAME_MAX,
                                       description="Needed for a new dossier.")
    citizen_name: Annotated[str, AfterValidator(_clean)] | None = Field(
        None, max_length=NAME_MAX)
    citizen_phone: Phone | None = Field(
        None, description="Vietnamese number in any usual spelling; answered as 0…. "
                          "An empty string removes it.")
    unit_code: str | None = Field(
        None, max_length=32, description="The unit the dossier belongs to: the key's unit "
                                         "(the default) or a unit under it.")
    received_at: datetime | None = Field(
        None, description="Time of receipt, needed for a new dossier. Without an offset it "
                          "is local time (Asia/Ho_Chi_Minh).")
    due_at: DateOrDateTime | None = Field(
        None, description="The due date the software computed: the truth, not recomputed. "
                          "A bare date means 17:00 local that day.")
    period_days: int | None = Field(
        None, ge=0, le=365, description="Instead of due_at: the procedure's period in "
                                        "working days, counted from the day after receipt.")
    appointment_at: DateOrDateTime | None = Field(
        None, description="The date on the appointment slip, when it differs from due_at.")
    handlers: list[Name] | None = Field(
        None, max_length=HANDLERS_MAX, description="Names of the civil servants handling it; "
                                                    "matched to the bot's staff by name.")
    status: DossierStatus | None = None
    missing: str | None = Field(
        None, max_length=TEXT_MAX, description="Everything that is missing; required with "
                                               "the status needs_supplement.")

    @model_validator(mode="after")
    def _consistent(self) -> DossierIn:
        if self.due_at is not None and self.period_days is not None:
            raise _error(DUE_TWICE)
        _check_missing(self.status, self.missing)
        return self


class StatusIn(BaseModel):
    """A status change. `late` with a reason and a new appointment is an apology (form 04):
    the citizens following the dossier are told."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra={
        "examples": [
            {"status": "processing"},
            {"status": "needs_supplement", "missing": "Bản sao giấy chứng sinh"},
            {"status": "late", "reason": "Chờ kết quả xác minh của cơ quan khác",
             "new_appointment": "2026-11-30"},
        ],
    })

    status: DossierStatus
    missing: str | None = Field(None, max_length=TEXT_MAX)
    reason: str | None = Field(None, max_length=500)
    new_appointment: date | None = Field(
        None, description="A working day after today.")

    @model_validator(mode="after")
    def _consistent(self) -> StatusIn:
        _check_missing(self.status, self.missing)
        if (self.reason is None) != (self.new_appointment is None) or (
                self.reason is not None and self.status != DossierStatus.late):
            raise _error(APOLOGY_PAIR)
        return self

    @property
    def is_apology(self) -> bool:
        return self.status == DossierStatus.late and self.reason is not None


def _check_missing(status: DossierStatus | None, missing: str | None) -> None:
    if status == DossierStatus.needs_supplement and not missing:
        raise _error(MISSING_NEEDED)
    if missing and status != DossierStatus.needs_supplement:
        raise _error(MISSING_ALONE)


class ApologyOut(BaseModel):
    reason: str
    new_appointment: date
    previous_appointment: datetime
    created_at: datetime


class DossierOut(BaseModel):
    """Times are in local time (+07:00)."""

    code: str = Field(max_length=CODE_MAX)
    procedure_code: str
    procedure_name: str
    unit_code: str
    status: DossierStatus
    citizen_name: str | None
    citizen_phone: str | None
    received_at: datetime
    due_at: datetime
    appointment_at: datetime
    supplement_count: int
    missing: str | None
    handlers: list[str]
    apologies: list[ApologyOut]
    resolved_at: datetime | None
    returned_at: datetime | None
    updated_at: datetime
    subscribe_payload: str = Field(
        description="For the QR code on the slip: the bot's /start payload (d_…). On Zalo, "
                    "where links carry no payload, the citizen sends this code to the bot.")
    subscribe_link: str | None = Field(
        description="The bot's deep link with that payload, when the bot is on Telegram.")


class UpsertOut(DossierOut):
    created: bool
    changed: bool
    unmatched_handlers: list[str] = Field(
        description="Handler names no civil servant of the unit answers to (kept as text).")


class StatusOut(DossierOut):
    changed: bool


class FieldError(BaseModel):
    field: str
    message: str


class ErrorOut(BaseModel):
    error: str = Field(description="unauthorized, forbidden, not_found, refused, invalid, "
                                   "conflict, too_large or internal")
    reason: str = Field(description="Why, in the deployment's language.")
    kind: str | None = Field(None, description="For a refusal: which rule (e.g. "
                                               "forbidden_transition, second_supplement).")
    fields: list[FieldError] | None = None
