"""Remedies: what `fix` changes for a failed finding, and how.

A remedy is one function keyed by check id. ``@remedy("check-id")`` registers
``func(finding, ctx) -> Change | None``: from the values the diagnosis found (the finding's
evidence, and ``ctx.facts``) it returns a ``Change`` that names the exact az command it stands for,
says in one sentence what will change, and knows how to make that change through az's own SDK
clients. ``None`` means this finding cannot be fixed safely by a machine; its remediation is then
printed as a step, like every finding of a check that has no remedy at all.

The engine turns failed findings into one plan item each, applies every distinct change once (two
findings may need the same change: both node pools of a cluster are healed by one reconcile), and
re-runs the checks whose changes were applied, with fresh facts, so each item says what the check
finds now. Nothing here prompts or prints: the command handler does.
"""
from dataclasses import dataclass

from knack.log import get_logger

from ..findings import FAIL, STATUS_ORDER, WARNING
from .changes import _REMEDIES, PLANNED, Change, ChangeFailed, error_code, remedy, write_error  # noqa: F401

logger = get_logger(__name__)

# Item actions and statuses (the README's contract for `fix`).
APPLY, MANUAL = "apply", "manual"
APPLIED, FAILED = "Applied", "Failed"
MANUAL_STATUS = "Manual"


def remedies():
    """Check id -> remedy function, for every registered remedy."""
    from . import auth, identity, network  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
    return dict(_REMEDIES)


@dataclass
class Item:
    """One failed finding in the plan: applied automatically, or a step to do by hand."""
    check_id: str
    target: str
    action: str
    command: str
    message: str
    status: str
    change: Change = None       # shared by every item that needs the same write
    status_after: str = ""

    def to_dict(self):
        """The flat camelCase record of `fix`'s output; key order is az's tsv column order."""
        return {"checkId": self.check_id, "target": self.target, "action": self.action, "command": self.command,
                "status": self.status, "message": self.message, "statusAfter": self.status_after}


class FixContext:
    """What a remedy may use: the diagnosis' facts and request, and az's SDK clients."""

    def __init__(self, cli_ctx, facts, show_progress=False, yes=False):
        self.cli_ctx = cli_ctx
        self.facts = facts
        self.request = facts.request
        self.show_progress = show_progress
        self.yes = yes              # --yes: some shared settings are changed only when asked for up front
        self._clients = {}

    def client(self, factory, subscription_id=None):
        from azure.cli.core.commands.client_factory import get_subscription_id
        sub = subscription_id or get_subscription_id(self.cli_ctx)
        key = (factory.__name__, sub.lower())
        if key not in self._clients:
            self._clients[key] = factory(self.cli_ctx, subscription_id=sub)
        return self._clients[key]


def plan(findings, ctx):
    """One item per Fail or Warning finding, in the findings' (catalog) order.

    A Fail whose check has a remedy that returns a Change is applied; everything else, Warnings
    included, is a step to do by hand with the finding's own remediation."""
    table = remedies()
    items, changes = [], {}
    for finding in findings:
        if finding.status not in (FAIL, WARNING):
            continue
        change = None
        func = table.get(finding.check_id)
        if func is not None and finding.status == FAIL:
            try:
                change = func(finding, ctx)
            except Exception:  # pylint: disable=broad-except
                # A remedy that cannot make sense of a finding leaves it to a person rather than guess.
                logger.debug("remedy of %s failed on %s", finding.check_id, finding.target, exc_info=True)
        if change is None:
            items.append(Item(finding.check_id, finding.target, MANUAL, finding.remediation, finding.message,
                              MANUAL_STATUS))
            continue
        change = changes.setdefault(change.key, change)
        items.append(Item(finding.check_id, finding.target, APPLY, change.command, change.summary, PLANNED,
                          change=change))
    return items


def changes_of(items):
    """The distinct changes of a plan, in order."""
    seen, out = set(), []
    for item in items:
        if item.change is not None and id(item.change) not in seen:
            seen.add(id(item.change))
            out.append(item.change)
    return out


def apply_plan(items, ctx):
    """Make every distinct change once, in order; one that fails does not stop the others."""
    for change in changes_of(items):
        try:
            change.result = change.apply(ctx) or "Done."
            change.status = APPLIED
        except ChangeFailed as err:
            change.status, change.result = FAILED, str(err)
        except Exception as err:  # pylint: disable=broad-except
            logger.debug("change %s failed", change.key, exc_info=True)
            change.status, change.result = FAILED, write_error(err)
    for item in items:
        if item.change is not None:
            item.status, item.message = item.change.status, item.change.result
    return items


def decline(items):
    """The plan as it stands when the user answers no: nothing was applied."""
    for item in items:
        if item.change is not None:
            item.status = PLANNED
            item.message = "Not applied (declined). " + item.change.summary
    return items


def rechecked_ids(items):
    """The checks a change was tried for: cleared when it was applied, and still telling the truth when it failed
    (someone may have fixed it meanwhile)."""
    ids = []
    for item in items:
        if item.status in (APPLIED, FAILED) and item.check_id not in ids:
            ids.append(item.check_id)
    return ids


def record_after(items, findings):
    """Fill each re-run item's ``statusAfter`` from the new findings of its check and target.

    A target no longer reported (e.g. renamed by the change) takes the worst status of its check."""
    by_check = {}
    for f in findings:
        by_check.setdefault(f.check_id, []).append(f)
    for item in items:
        found = by_check.get(item.check_id)
        if not found:
            continue
        same = [f for f in found if f.target == item.target] or found
        item.status_after = min((f.status for f in same), key=lambda s: STATUS_ORDER.get(s, 9))
    return items


def plan_text(items):
    """The plan as a person reads it before saying yes: each change with its az command, then the
    steps to do by hand."""
    changes = changes_of(items)
    manual = [i for i in items if i.action == MANUAL]
    lines = ["Plan: {} change(s) to apply, {} step(s) to do by hand.".format(len(changes), len(manual))]
    for n, change in enumerate(changes, 1):
        found = ", ".join("{} ({})".format(i.check_id, i.target) for i in items if i.change is change)
        lines.append("  {}. {}".format(n, change.summary))
        lines.append("     for: {}".format(found))
        lines.append("     $ {}".format(change.command))
    if manual:
        lines.append("  By hand (never applied by fix):")
        for item in manual:
            lines.append("   - {} ({}): {}".format(item.check_id, item.target, item.command or item.message))
    return "\n".join(lines)


def result_text(items):
    """One line for stderr after applying: what changed, what failed, what the checks say now."""
    changes = changes_of(items)
    applied = [c for c in changes if c.status == APPLIED]
    failed = [c for c in changes if c.status == FAILED]
    manual = [i for i in items if i.action == MANUAL]
    text = "Applied {} of {} change(s)".format(len(applied), len(changes))
    if failed:
        text += "; {} failed ({})".format(len(failed), failed[0].result)
    after = ["{} {}: {}".format(i.check_id, i.target, i.status_after) for i in items if i.status_after]
    if after:
        text += ". Checks now: " + "; ".join(after)
    if manual:
        text += ". {} step(s) to do by hand".format(len(manual))
    return text + "."


