"""Where a pod can land: its nodeSelector, required node affinity and tolerations against a node's labels and taints.

The scheduler's hard rules only (kube-scheduler's NodeAffinity and TaintToleration filters); preferences do
not decide where an image must run. Pure functions over the pod spec and node objects as the API returns them.
"""

_HARD_EFFECTS = ("NoSchedule", "NoExecute")


def _expression_holds(expr, labels):
    key, op = expr.get("key"), expr.get("operator")
    values = [str(v) for v in expr.get("values") or []]
    present = key in labels
    value = labels.get(key)
    if op == "In":
        return present and str(value) in values
    if op == "NotIn":
        return not present or str(value) not in values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt"):
        try:
            number, bound = int(value), int(values[0])
        except (TypeError, ValueError, IndexError):
            return False
        return number > bound if op == "Gt" else number < bound
    return False


def _term_holds(term, labels, node_name):
    """Every expression of a node selector term holds; matchFields knows only metadata.name."""
    fields = {"metadata.name": node_name} if node_name else {}
    for expr in term.get("matchFields") or []:
        if node_name is None:
            continue  # a pool without known nodes: the field cannot rule it out
        if not _expression_holds(expr, fields):
            return False
    return all(_expression_holds(e, labels) for e in term.get("matchExpressions") or [])


def required_terms(pod_spec):
    affinity = ((pod_spec or {}).get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    return required.get("nodeSelectorTerms") or []


def _tolerated(taint, tolerations):
    for tol in tolerations:
        effect = tol.get("effect")
        if effect and effect != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists":
            if not tol.get("key") or tol.get("key") == taint.get("key"):
                return True
        elif tol.get("key") == taint.get("key") and (tol.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def why_not(pod_spec, labels, taints=(), node_name=None):
    """None when the pod may be scheduled on a node with these labels and taints, else the reason in words."""
    spec = pod_spec or {}
    labels = labels or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return "nodeSelector {}={} does not match (node has {})".format(
                key, value, "{}={}".format(key, labels[key]) if key in labels else "no such label")
    terms = required_terms(spec)
    if terms and not any(_term_holds(t, labels, node_name) for t in terms):
        return "required node affinity does not match"
    tolerations = spec.get("tolerations") or []
    for taint in taints or []:
        if taint.get("effect") in _HARD_EFFECTS and not _tolerated(taint, tolerations):
            return "taint {}{}:{} is not tolerated".format(
                taint.get("key"), "=" + taint["value"] if taint.get("value") else "", taint.get("effect"))
    return None


def pool_placement(pod_spec, pool):
    """None when the pod may land on some node of the pool (a node_pool_platform dict), else why not."""
    if pool["nodes"]:
        reasons = [why_not(pod_spec, n["labels"], n["taints"], n["name"]) for n in pool["nodes"]]
        return None if None in reasons else reasons[0]
    return why_not(pod_spec, pool["labels"], pool["taints"])
