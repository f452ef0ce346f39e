"""The stderr summary of a diagnosis: the counts, the top cause in one sentence and the first command to run, then
one line per other distinct cause.

A failing pod's finding (``pod-pull-events``) is the symptom; the checks of its cause say why (``evidence.lookAt``,
in the order the failed token points at: B.token). So pods are grouped by the cause their pull error was
classified as, and each group's line names the failing check that explains it (the first of ``lookAt`` that
failed), or the pod's own finding when none does. Failing checks that no pod points at get a line of their own.
With ``-o table`` and no Remediation column (they did not fit), the remediations of the table's other findings
follow, one a line.
"""
from .findings import ERROR, FAIL, STATUS_ORDER, WARNING

POD_CHECK = "pod-pull-events"
MAX_CAUSES = 5
TOKEN_WORDS = {"anonymous": "no credential was offered", "oauth": "the credential offered was refused"}


def _sentence(finding):
    from .._format import first_sentence
    return first_sentence(finding.message).rstrip(".") + "."


def _counts(findings):
    counts = {}
    for f in findings:
        counts[f.status] = counts.get(f.status, 0) + 1
    checks = {f.check_id for f in findings}
    failed = {f.check_id for f in findings if f.status == FAIL}
    errors = {f.check_id for f in findings if f.status == ERROR}
    parts = ", ".join("{} {}".format(counts[s], s) for s in sorted(counts, key=STATUS_ORDER.get))
    text = "{} of {} checks failed".format(len(failed), len(checks))
    if errors:
        text += ", {} could not reach a verdict".format(len(errors))
    return text + " ({} findings: {}).".format(len(findings), parts)


def _pod_name(finding):
    target = finding.target
    return target[len("pod "):].split(" (", 1)[0] if target.startswith("pod ") else target


def cause_line(label, finding, more=0, pods=(), fix=True):
    """'<label> (<check>, <target>): <one sentence> Fix: <command>', or with the pods it explains:
    '<label> on 2 pod(s) (default/web, default/api): <one sentence> (<check>, <target>) Fix: ...'."""
    where = "{}, {}".format(finding.check_id, finding.target) + (" and {} more".format(more) if more else "")
    if pods:
        names = ", ".join(pods[:3]) + (", ..." if len(pods) > 3 else "")
        text = "{} on {} pod(s) ({}): {} ({})".format(label, len(pods), names, _sentence(finding), where)
    else:
        text = "{} ({}): {}".format(label, where, _sentence(finding))
    if fix and finding.remediation:
        text += " Fix: {}".format(finding.remediation)
    return text


def first_fix_line(finding, token=None):
    """'First fix to try (<check>, <target>[, as the pod's error says ...]): <command>'."""
    why = ", as the pod's error says {}".format(TOKEN_WORDS[token]) if token in TOKEN_WORDS else ""
    return "First fix to try ({}, {}{}): {}".format(finding.check_id, finding.target, why, finding.remediation)


def _causes(findings):
    """[(label, lead finding, more, pods, token)] for each distinct cause of failure, the top one first."""
    from .checks.pod import CAUSE_CHECKS
    failed = [f for f in findings if f.status == FAIL]
    by_check = {}
    for f in failed:
        if f.check_id != POD_CHECK:
            by_check.setdefault(f.check_id, []).append(f)
    pods_by_cause = {}
    for f in failed:
        if f.check_id == POD_CHECK:
            pods_by_cause.setdefault((f.evidence or {}).get("cause") or "unknown", []).append(f)
    causes, explained = [], set()
    for cause, pod_findings in pods_by_cause.items():
        pods = list(dict.fromkeys(p for f in pod_findings    # a group's other pods (evidence.samePods) count too
                                  for p in [_pod_name(f)] + list((f.evidence or {}).get("samePods") or ())))
        look_at = list(pod_findings[0].evidence.get("lookAt") or CAUSE_CHECKS.get(cause, ()))
        checks = [c for c in look_at if c in by_check]
        fixing = [c for c in checks if any(f.remediation for f in by_check[c])]
        lead_id = (fixing or checks or [None])[0]
        lead = next((f for f in by_check[lead_id] if f.remediation), by_check[lead_id][0]) if lead_id else \
            pod_findings[0]
        explained.update(checks)
        label = "cause {}".format(cause) if cause != "unknown" else "unclassified pull error"
        single = lead.check_id == POD_CHECK and len(pods) == 1   # the pod's own finding names it already
        token = pod_findings[0].evidence.get("token") if lead.check_id != POD_CHECK else None
        causes.append((label, lead, 0, () if single else pods, token))
    for found in by_check.values():
        if found[0].check_id not in explained:
            lead = next((f for f in found if f.remediation), found[0])
            causes.append(("cause", lead, len(found) - 1, (), None))
    return causes


def cause_lines(findings):
    """The top cause in one sentence, the first fix to try, then one line per other distinct cause."""
    causes = _causes(findings)
    if not causes:
        for status, label in ((WARNING, "No check failed; first warning"), (ERROR, "No check failed; not decided")):
            first = next((f for f in findings if f.status == status), None)
            if first:
                return [cause_line(label, first, fix=False)] + ([first_fix_line(first)] if first.remediation else [])
        return []
    (label, lead, more, pods, token), others = causes[0], causes[1:]
    lines = [cause_line("Top " + label, lead, more, pods, fix=False)]
    fixer = lead if lead.remediation else next(
        iter(sorted((f for f in findings if f.remediation), key=lambda f: STATUS_ORDER[f.status])), None)
    if fixer:
        lines.append(first_fix_line(fixer, token if fixer is lead else None))
    for label, lead, more, pods, _ in others[:MAX_CAUSES - 1]:
        lines.append(cause_line(label[0].upper() + label[1:], lead, more, pods))
    if len(others) > MAX_CAUSES - 1:
        lines.append("... and {} more failing check(s): see the findings.".format(len(others) - MAX_CAUSES + 1))
    return lines


def summary_lines(findings, remediations_below=False):
    """The lines for stderr (each its own warning)."""
    if not findings:
        return ["No checks ran."]
    causes = cause_lines(findings)
    lines = [_counts(findings)] + causes
    if remediations_below:
        said = " ".join(causes)
        listed = [f for f in sorted(findings, key=lambda f: STATUS_ORDER[f.status]) if f.remediation
                  and not ("{}, {}".format(f.check_id, f.target) in said and f.remediation in said)]
        if listed:
            lines.append("Remediation of the other findings in the table:\n" + "\n".join(
                "  {} ({}): {}".format(f.check_id, f.target, f.remediation) for f in listed))
    return lines


def summary(findings):
    """The summary as one text (tests, scripts): its lines joined."""
    return " ".join(summary_lines(findings))
