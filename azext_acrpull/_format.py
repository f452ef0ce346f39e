"""Table transformers: what a person reads first is what failed, in a table that fits a 120-column terminal.

az prints a table with tabulate's "simple" format: each column as wide as its longest cell, two spaces between
columns. Findings' messages and remediations are written for JSON (whole sentences with every fact), so the table
shows a short form of each: the message's first sentence cut at a word, the target without its parenthesised
detail, the remediation in a column only when every one fits beside a readable message. When they do not, the
stderr summary lists them under the table (``remediation_in_table`` decides, for the table and the summary alike).
``-o json`` keeps every word.
"""
import re
from collections import OrderedDict

WIDTH = 120          # the terminal the table is made for
GAP = 2              # tabulate's "simple" format: two spaces between columns
MIN_MESSAGE = 36     # below this a message says nothing: the remediation moves under the table instead
TARGET_MAX = 36
CLUSTER_MAX = 20
ELLIPSIS = "..."

_ORDER = {"Fail": 0, "Error": 1, "Warning": 2, "Pass": 3, "Skipped": 4}
_FIX_ORDER = {"Failed": 0, "Applied": 1, "Planned": 2, "Manual": 3}
# A sentence ends at '.', '!' or '?' followed by a space and a capital or a backquote (not "e.g. x", "6d015... ").
_SENTENCE_END = re.compile(r"(?<![.\s][a-z])(?<!\.\.)[.!?](?=\s+[A-Z`(])")


def cut(text, width):
    """``text`` in at most ``width`` characters: whole when it fits, else cut at a word with '...'."""
    text = " ".join((text or "").split())
    if len(text) <= width:
        return text
    if width <= len(ELLIPSIS):
        return text[:width]
    room = width - len(ELLIPSIS)
    head = text[:room + 1]
    space = head.rfind(" ")
    head = head[:space] if space > room // 2 else text[:room]
    return head.rstrip(" ,;:(") + ELLIPSIS


def cut_middle(text, width):
    """Keep both ends (names differ at their ends: aks-userpool-59856254-vmss), drop the middle."""
    text = " ".join((text or "").split())
    if len(text) <= width:
        return text
    if width <= len(ELLIPSIS) + 2:
        return text[:width]
    left = (width - len(ELLIPSIS) + 1) // 2
    right = width - len(ELLIPSIS) - left
    return text[:left] + ELLIPSIS + text[len(text) - right:]


def first_sentence(text):
    """The message's first sentence: what was found, without the facts that follow it."""
    text = " ".join((text or "").split())
    match = _SENTENCE_END.search(text)
    return text[:match.start() + 1] if match else text


def short_message(text):
    """The first sentence without its parenthesised asides (object ids, whose network): the table's message."""
    sentence = first_sentence(text)
    plain = re.sub(r"\s*\((?:[^()]|\([^()]*\))*\)", "", sentence)
    return re.sub(r"\s+([,.;:])", r"\1", plain).strip() or sentence


def short_target(target, width=TARGET_MAX):
    """'node pool userpool (aks-userpool-59856254-vmss)' -> 'node pool userpool'; an image without its registry
    host when that is what makes it long; otherwise both ends kept."""
    text = " ".join((target or "").split())
    if len(text) <= width:
        return text
    plain = re.sub(r"\s*\([^()]*\)", "", text).strip()
    if plain and len(plain) <= width:
        return plain
    text = plain or text
    shorter = re.sub(r" to registry ", " to ", text)
    if len(shorter) <= width:
        return shorter
    match = re.match(r"^(image\s+)[^/\s]+\.[^/\s]+/(\S+)$", text)
    if match and len(match.group(1) + match.group(2)) <= width:
        return match.group(1) + match.group(2)
    return cut_middle(text, width)


def _keys(article, width):
    """Article keys 'C4.S2,X.tls,M.nsg,...' in ``width``: whole keys, then '...'."""
    if len(article) <= width:
        return article
    kept = ""
    for key in article.split(","):
        if len(kept) + len(key) + 1 + len(ELLIPSIS) > width:
            break
        kept += ("," if kept else "") + key
    return (kept + "," + ELLIPSIS) if kept else cut(article, width)


def _width(values, header):
    """A column's printed width: tabulate pads a header by two (MIN_PADDING) when its cells are narrower."""
    return max([len(header) + 2] + [len(v or "") for v in values])


def _sorted(result, order):
    return [r for _, r in sorted(enumerate(result or []), key=lambda p: (order.get(p[1].get("status"), 9), p[0]))]


def _layout(rows, fixed, flexible, optional, width=WIDTH):
    """Column widths: ``fixed`` columns as wide as they are; ``optional`` (one column) only when it fits beside
    ``flexible`` at MIN_MESSAGE; ``flexible`` gets the rest. Returns (flexible width, optional shown)."""
    used = sum(_width([r.get(c) for r in rows], c) for c in fixed) + GAP * len(fixed)
    shown = False
    if optional:
        values = [r.get(optional) for r in rows]
        if any(values):
            need = _width(values, optional) + GAP
            shown = width - used - need >= MIN_MESSAGE
            if shown:
                used += need
    return max(MIN_MESSAGE, width - used), shown


def remediation_in_table(result, width=WIDTH):
    """Whether ``-o table`` of these findings has a Remediation column (else the summary lists them under it)."""
    return _findings_table(result, width)[1]


def _findings_table(result, width=WIDTH):
    rows = []
    for f in _sorted(result, _ORDER):
        row = OrderedDict()
        if "cluster" in f:
            row["Cluster"] = cut_middle((f.get("cluster") or "").rstrip("/").rsplit("/", 1)[-1], CLUSTER_MAX)
        row["Status"] = f.get("status") or ""
        row["Check"] = f.get("checkId") or ""
        row["Target"] = f.get("target") or ""
        row["Message"] = short_message(f.get("message"))
        row["Remediation"] = " ".join((f.get("remediation") or "").split())
        rows.append(row)
    fixed = (["Cluster"] if any("Cluster" in r for r in rows) else []) + ["Status", "Check"]
    # The target gets what the other columns leave beside a readable message, at most TARGET_MAX.
    left = width - sum(_width([r.get(c) for r in rows], c) + GAP for c in fixed) - GAP - MIN_MESSAGE
    for row in rows:
        row["Target"] = short_target(row["Target"], max(12, min(TARGET_MAX, left)))
    fixed.append("Target")
    room, shown = _layout(rows, fixed, "Message", "Remediation", width)
    for row in rows:
        row["Message"] = cut(row["Message"], room)
        if not shown:
            del row["Remediation"]
    return rows, shown


def transform_findings(result):
    """Findings as a table: failures first; short messages; remediations in a column only when they fit."""
    return _findings_table(result)[0]


def transform_catalog(result, width=WIDTH):
    """The catalog: each check, the article keys it implements, the commands that run it, and its title."""
    rows = []
    for c in result or []:
        commands = c.get("commands") or []
        rows.append(OrderedDict([
            ("Check", c.get("checkId") or ""),
            ("Article", _keys(c.get("article") or "", 18)),
            ("Fleet", "yes" if c.get("fleet") else "no"),
            ("Commands", ", ".join(x for x in commands if x not in ("run", "fix", "fleet"))),
            ("Title", c.get("title") or "")]))
    room, _ = _layout(rows, ["Check", "Article", "Fleet", "Commands"], "Title", None, width)
    for row in rows:
        row["Title"] = cut(row["Title"], room)
    return rows


def command_in_table(result, width=WIDTH):
    """Whether ``fix -o table`` has a Command column (else the result summary lists the commands under it)."""
    return _fix_table(result, width)[1]


def _fix_table(result, width=WIDTH):
    rows = []
    for i in _sorted(result, _FIX_ORDER):
        rows.append(OrderedDict([("Status", i.get("status") or ""), ("Check", i.get("checkId") or ""),
                                 ("Target", short_target(i.get("target"))), ("After", i.get("statusAfter") or ""),
                                 ("Message", short_message(i.get("message"))),
                                 ("Command", " ".join((i.get("command") or "").split()))]))
    room, shown = _layout(rows, ["Status", "Check", "Target", "After"], "Message", "Command", width)
    for row in rows:
        row["Message"] = cut(row["Message"], room)
        if not shown:
            del row["Command"]
    return rows, shown


def transform_fix(result):
    """`fix` as a table: what failed to apply first, then what changed and what the check says now; the
    commands in a column when they fit (the plan above the table shows each one whole)."""
    return _fix_table(result)[0]
