"""`dmd sandbox demo`: fans opt in, the window opens, every reminder goes out, and the run is checked.

What it does, on a fresh sandbox (emulator and fake vendors on free ports):

1. **Seed.** The Discovery fake serves five events (Chicago, Montréal in French, Toronto, a Live
   Nation show in Los Angeles, and one by a suppressed artist). Each is looked up once through
   AppSync `eventDetails` as the fan app would, which caches it and requests its short URL (Bitly).
   N fans then opt in to sales of the coming window (demand records): a mix of locales (en-us, en-ca,
   fr-ca), markets (TM_US, TM_CA, LN_US) and contact methods (sms, email, both), with a few invalid
   numbers (malformed, or well-formed but not in service), some fans of the suppressed artist and
   some for a "Verified Fan Registration" sale (both must produce nothing).
2. **Tick.** Once the sandbox is idle, its clock jumps to the next half hour: EventBridge fires the
   scheduler, which finds the window's sales → generation jobs → notifications → the table stream →
   the sender → SMS service / SES → SMS status events → the status consumer.
3. **Run** until every expected notification is terminal or the deadline passes, with a live view.
4. **Report**: a summary table and a JSON report; the exit code says whether the invariants held.

Email is terminal at TRIGGERED here. SES takes the email (SendTemplatedEmail answers a MessageId) and
the product has no SES event stream: nothing ever moves an email notification past TRIGGERED, in AWS
as in the sandbox. The demo therefore counts an email as delivered when SES accepted it, and the
"nothing stuck" invariant treats TRIGGERED email as terminal (TRIGGERED SMS is not: it waits for
the SMS service's status events).

Sandbox overrides (printed at the start): the functions' vendor URLs point at the fakes' free ports,
the send backoff is 2 s instead of the stack's 30 s (the backoff runs on the workers' wall clock,
which the sandbox clock cannot speed up), the demo's suppressed artist is added to the suppression
list (`SUPPRESSED_ARTIST_IDS`), as an operator would, and with `sms-timeout` faults the vendor
timeout is 2 s instead of 10 s (each timeout holds the send shard that long).

Fault drills (`--faults ddb-throttle=…,timeout=…,poison=…`, `sandbox.drill_faults`): the throttle
and the timeouts start at the tick with the vendors' faults (`drills.apply_drills`); the poison
records are written with the demand (`poison`). The report's `faultDrills` section says what each
injected and how it ended (`drills.drill_report`), and "poison records accounted for" is checked.

The package: `catalogue` (venues, events), `options` (what the command takes), `plan` (the window,
Discovery's payloads, the fans' demand and the notifications it must produce), `poison` (the
malformed demand of the poison drill), `drills` (turning the drills on, reading back what they did),
`snapshot` (the run's state), `report` (the JSON report and its invariants), `display` (live view,
summary), `run` (the run).
"""

from sandbox.demo.options import (
    DEFAULT_DEADLINE_SECONDS,
    DEFAULT_FANS,
    DEFAULT_REPORT,
    DEFAULT_SALES,
    DEFAULT_SEED,
    DEFAULT_SPEED,
    DEFAULT_WORKER_LOG,
    MAX_FANS,
    DemoOptions,
)
from sandbox.demo.plan import demo_catalogue
from sandbox.demo.report import DemoReport
from sandbox.demo.run import run_demo

__all__ = [
    "DEFAULT_DEADLINE_SECONDS",
    "DEFAULT_FANS",
    "DEFAULT_REPORT",
    "DEFAULT_SALES",
    "DEFAULT_SEED",
    "DEFAULT_SPEED",
    "DEFAULT_WORKER_LOG",
    "MAX_FANS",
    "DemoOptions",
    "DemoReport",
    "demo_catalogue",
    "run_demo",
]
