"""The stderr summary of a diagnosis: the counts, the top cause in one sentence with the first command to run,
and, with several failing pods, one line per distinct cause.

A failing pod's finding (``pod-pull-events``) is the symptom; the checks of its cause (``CAUSE_CHECKS``) say why.
So pods are grouped by the cause their pull error was classified as, and each group's line names the failing
check of that cause that explains it, or the pod's own finding when none does. Failing checks that no pod points
at get a line of their own. With ``-o table`` and no Remediation column (they did not fit), the remediations of
the table's findings follow, one a line.
"""
from .findings import ERROR, FAIL, STATUS_ORDER, WARNING

POD_CHECK = "pod-pull-events"
MAX_CAUSES = 5


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


def cause_line(label, finding, more=0, pods=()):
    """'<label> (<check>, <target>): <one sentence>. First fix to try: <command>', or with the pods it explains:
    '<label> on 2 pod(s) (default/web, default/api): <one sentence> (<check>, <target>). First fix to try: ...'."""
    where = "{}, {}".format(finding.check_id, finding.target) + (" and {} more".format(more) if more else "")
    if pods:
        names = ", ".join(pods[:3]) + (", ..." if len(pods) > 3 else "")
        text = "{} on {} pod(s) ({}): {} ({})".format(label, len(pods), names, _sentence(finding), where)
    else:
        text = "{} ({}): {}".format(label, where, _sentence(finding))
    if finding.remediation:
        text += " First fix to try: {}".format(finding.remediation)
    return text


def cause_lines(findings):
    """One line per distinct cause, the top one first."""
    from .checks.pod import CAUSE_CHECKS
    failed = [f for f in findings if f.status == FAIL]
    if not failed:
        warned = [f for f in findings if f.status == WARNING]
        if warned:
            return [cause_line("No check failed; first warning", warned[0])]
        erred = [f for f in findings if f.status == ERROR]
        return [cause_line("No check failed; not decided", erred[0])] if erred else []
    by_check = {}
    for f in failed:
        if f.check_id != POD_CHECK:
            by_check.setdefault(f.check_id, []).append(f)
    pods_by_cause = {}
    for f in failed:
        if f.check_id == POD_CHECK:
            cause = (f.evidence or {}).get("cause") or "unknown"
            pods_by_cause.setdefault(cause, []).append(f)
    lines, explained = [], set()
    for cause, pod_findings in pods_by_cause.items():
        pods = list(dict.fromkeys(_pod_name(f) for f in pod_findings))
        checks = [c for c in CAUSE_CHECKS.get(cause, ()) if c in by_check]
        lead = by_check[checks[0]][0] if checks else pod_findings[0]
        explained.update(checks)
        label = "Cause {}".format(cause) if cause != "unknown" else "Unclassified pull error"
        single = lead.check_id == POD_CHECK and len(pods) == 1   # the pod's own finding names it already
        lines.append(cause_line(label, lead, pods=() if single else pods))
    for check_id, found in by_check.items():
        if check_id not in explained:
            lines.append(cause_line("Cause", found[0], more=len(found) - 1))
    lines[0] = "Top " + lines[0][0].lower() + lines[0][1:] if lines[0].startswith("Cause") else lines[0]
    if len(lines) > MAX_CAUSES:
        lines = lines[:MAX_CAUSES] + ["... and {} more failing check(s): see the findings.".format(
            len(lines) - MAX_CAUSES)]
    return lines


def summary_lines(findings, remediations_below=False):
    """The lines for stderr (each its own warning)."""
    if not findings:
        return ["No checks ran."]
    causes = cause_lines(findings)
    lines = [_counts(findings)] + causes
    if remediations_below:
        listed = [f for f in sorted(findings, key=lambda f: STATUS_ORDER[f.status]) if f.remediation
                  and not any("({}, {}".format(f.check_id, f.target) in c and f.remediation in c for c in causes)]
        if listed:
            lines.append("Remediation of the other findings in the table:\n" + "\n".join(
                "  {} ({}): {}".format(f.check_id, f.target, f.remediation) for f in listed))
    return lines


def summary(findings):
    """The summary as one text (tests, scripts): its lines joined."""
    return " ".join(summary_lines(findings))
