"""Fake vendor services over real HTTP on loopback: the SMS service, Bitly, the Discovery API and TM Accounts.

Each fake speaks exactly the wire contract the workers' clients use (`workers/shared/sms_service.py`,
`bitly.py`, `discovery.py`, `accounts.py`), checks the credential the client sends (the values the
sandbox puts into the stack's secrets, `VendorFakes.secret_values`), and counts what it received per
endpoint and per key (SMS reference, event id, member id) so duplicates are measurable. The same
fakes serve the sandbox and the workers' tests.

Modules: `faults` (the `--faults` language and each vendor's faults at run time), `server` (the
HTTP plumbing, request log and scripted replies), `counters`, `sms` and `status_events` (the SMS
service and its status stream), `bitly`, `discovery` and `discovery_events` (the API and payloads
to seed it), `accounts`, and `fakes` (all four together).
"""

from sandbox.vendors.accounts import ACCOUNTS_API_KEY, SAMPLE_MEMBERS, Accounts
from sandbox.vendors.bitly import BITLY_BASE_PATH, BITLY_TOKEN, Bitly, bitly_key
from sandbox.vendors.counters import VendorCounters
from sandbox.vendors.discovery import DISCOVERY_API_KEY, DISCOVERY_BASE_PATH, Discovery
from sandbox.vendors.discovery_events import DiscoverySale, DiscoveryVenue, discovery_event
from sandbox.vendors.fakes import URL_VARIABLES, VendorFakes, VendorPorts
from sandbox.vendors.faults import (
    FAULT_ALIASES,
    FAULT_KINDS,
    NO_FAULTS,
    VENDORS,
    Effect,
    FaultKind,
    FaultPlan,
    FaultSpecError,
    VendorFaults,
    Window,
    fault_vocabulary,
    parse_faults,
)
from sandbox.vendors.server import (
    HOST,
    REQUEST_LOG_SIZE,
    Headers,
    Reply,
    Route,
    VendorRequest,
    VendorServer,
    is_sigv4_signed,
)
from sandbox.vendors.sms import (
    DEFAULT_HANG_SECONDS,
    IDEMPOTENCY_KEY_HEADER,
    SMS_API_KEY,
    SMS_MESSAGES_PATH,
    SmsService,
)
from sandbox.vendors.status_events import (
    DEFAULT_DELAYS,
    KinesisStatusSink,
    SmsStatusDelays,
    StatusPublisher,
    StatusSink,
    status_event,
)

__all__ = [
    "ACCOUNTS_API_KEY",
    "BITLY_BASE_PATH",
    "BITLY_TOKEN",
    "DEFAULT_DELAYS",
    "DEFAULT_HANG_SECONDS",
    "DISCOVERY_API_KEY",
    "DISCOVERY_BASE_PATH",
    "FAULT_ALIASES",
    "FAULT_KINDS",
    "HOST",
    "IDEMPOTENCY_KEY_HEADER",
    "NO_FAULTS",
    "REQUEST_LOG_SIZE",
    "SAMPLE_MEMBERS",
    "SMS_API_KEY",
    "SMS_MESSAGES_PATH",
    "URL_VARIABLES",
    "VENDORS",
    "Accounts",
    "Bitly",
    "Discovery",
    "DiscoverySale",
    "DiscoveryVenue",
    "Effect",
    "FaultKind",
    "FaultPlan",
    "FaultSpecError",
    "Headers",
    "KinesisStatusSink",
    "Reply",
    "Route",
    "SmsService",
    "SmsStatusDelays",
    "StatusPublisher",
    "StatusSink",
    "VendorCounters",
    "VendorFakes",
    "VendorFaults",
    "VendorPorts",
    "VendorRequest",
    "VendorServer",
    "Window",
    "bitly_key",
    "discovery_event",
    "fault_vocabulary",
    "is_sigv4_signed",
    "parse_faults",
    "status_event",
]
