"""Selects the checks, gives them facts, and puts their findings in catalog order.

Checks run concurrently; the facts they share are read once (see ``Facts.once``), so independent
Azure calls overlap and the longest chain of dependent calls sets the wall time. Waiting stops at the
run's deadline (--timeout): a check still running then is reported as Error, with the reads it was
waiting for, and abandoned on its daemon thread.
"""
import dataclasses
import functools

from knack.log import get_logger

from . import sources
from .catalog import catalog, in_fleet
from .facts import FactError, FactUnavailable
from .findings import ERROR, SKIPPED
from .threads import call_all

logger = get_logger(__name__)

GROUPS = {"run": None, "check-auth": "auth", "check-image": "image", "check-network": "network",
          "check-registry": "registry"}


# Checks of this group are the starting point of a --pod diagnosis: every command runs them when --pod is given.
POD_GROUP = "pod"


def select_checks(group, check_ids=None, fleet=False, pod=False):
    """The checks of a command's group (all for `run`), plus the ``pod`` group's when the request names a pod."""
    wanted = GROUPS.get(group)
    selected = [c for c in catalog() if (wanted is None or wanted in c.groups or (pod and POD_GROUP in c.groups))
                and (not fleet or in_fleet(c))]
    if check_ids:
        ids = {c.lower() for c in check_ids}
        selected = [c for c in selected if c.check_id in ids]
    return selected


def commands_running(check_id):
    """The commands of the group that run ``check_id`` (list-checks, and the --checks error): ``run`` and ``fix``
    run every check; a ``check-*`` command its area's (and, given --pod, the pod's); ``fleet`` those marked for it."""
    chk = next((c for c in catalog() if c.check_id == check_id), None)
    if chk is None:
        return []
    commands = ["run"]
    for command, group in GROUPS.items():
        if group and group in chk.groups:
            commands.append(command)
    if POD_GROUP in chk.groups:
        commands.append("check-* --pod")
    commands.append("fix")
    if in_fleet(chk):
        commands.append("fleet")
    return commands


def run_checks(checks, facts, progress=None, max_workers=None):
    """Every selected check's findings; a check that cannot reach a verdict says Error and why.

    ``max_workers=1`` runs them one after another in the caller's thread (fleet: facts already in memory,
    thousands of clusters)."""
    if not checks:
        return []
    done, closed = [], []

    def one(chk):
        result = _run_one(chk, facts)
        done.append(chk.check_id)
        if progress and not closed:
            progress(len(done), len(checks), chk.check_id)
        return result

    if max_workers == 1:
        # One after another in this thread: the facts are in memory (fleet), so threads would only cost.
        return [f for chk in checks for f in one(chk)]
    deadline = facts.deadline
    outcomes = call_all([functools.partial(one, c) for c in checks], deadline, max_workers=max_workers,
                        name="acrpull-check")
    closed.append(True)   # a check abandoned at the deadline must not touch the progress bar afterwards
    findings = []
    for chk, outcome in zip(checks, outcomes, strict=True):
        if not outcome.done:
            findings.append(_unfinished(chk, facts, deadline))
        elif outcome.error is not None:
            raise outcome.error
        else:
            findings.extend(outcome.value)
    return findings


def _unfinished(chk, facts, deadline):
    waiting = facts.pending_reads()
    if waiting:
        message = "Could not reach a verdict: timed out reading {}; the check did not finish {}".format(
            "; ".join(waiting[:6]) + ("; ..." if len(waiting) > 6 else ""), deadline.words())
    else:
        message = "Could not reach a verdict: timed out; the check did not finish {}".format(deadline.words())
    message += ". Run it again with a longer --timeout, or alone with --checks {}.".format(chk.check_id)
    return chk.finding(_default_target(facts), ERROR, message, reason="timeout", timeoutSeconds=deadline.seconds,
                       waitingFor=waiting)


def _run_one(chk, facts):
    read, token = sources.begin()
    try:
        findings = _findings(chk, facts)
    finally:
        sources.end(token)
    if sources.KUBERNETES in read:   # only a reader that reads Kubernetes notes it as a source
        findings = [_kube_read_via(f, facts.kube_access()) for f in findings]
    return findings


def _findings(chk, facts):
    try:
        findings = list(chk.func(chk, facts) or [])
    except FactUnavailable as err:   # this reader does not read the fact at all: not judged here, not a failure
        return [chk.finding(_default_target(facts), SKIPPED, "Not judged here: {}.".format(err.reason.rstrip(".")),
                            reason=err.reason, fact=err.fact)]
    except FactError as err:
        return [chk.finding(_default_target(facts), ERROR, "Could not reach a verdict: {}.".format(
            err.reason.rstrip(".")), reason=err.reason)]
    except Exception as err:  # pylint: disable=broad-except
        logger.debug("check %s failed", chk.check_id, exc_info=True)
        return [chk.finding(_default_target(facts), ERROR, "The check stopped on an unexpected {}: {}".format(
            type(err).__name__, str(err).splitlines()[0] if str(err) else ""), reason=type(err).__name__)]
    if not findings:
        raise AssertionError("check {} returned no finding".format(chk.check_id))
    return findings


def _kube_read_via(finding, access):
    """A finding built from Kubernetes objects says how they were read: evidence.kubernetesReadVia is
    apiServer or runCommand, and the message says so when a private API server was read through run command."""
    evidence = dict(finding.evidence)
    evidence.setdefault("kubernetesReadVia", access["via"])
    message = finding.message
    if access["note"] and access["note"] not in message:
        message = "{} {}".format(message.rstrip(), access["note"])
    return dataclasses.replace(finding, message=message, evidence=evidence)


def _default_target(facts):
    return "cluster {}".format(facts.cluster_name)


def summary(findings):
    """The stderr summary as one text (see ``summary.py``)."""
    from .summary import summary as text
    return text(findings)
