"""Which artifact cache rule serves a repository (``registries/cacheRules``), as ACR matches them.

A rule maps a ``targetRepository`` in the registry (exact, or ``prefix/*``) to a ``sourceRepository`` upstream. A
repository a rule serves exists in the registry only after the first pull through the rule, so its absence is not
by itself the cause of a failed pull: the image checks and the cache rule check both need the match.
"""


def _p(resource):
    return (resource or {}).get("properties") or {}


def rule_for(rules, repository):
    """The cache rule that serves ``repository``: an exact targetRepository first, else the longest ``prefix/*``."""
    repository = repository.lower()
    best, best_len = None, -1
    for rule in rules:
        target = (_p(rule).get("targetRepository") or "").lower()
        if target == repository:
            return rule
        if target.endswith("/*") and repository.startswith(target[:-1]) and len(target) > best_len:
            best, best_len = rule, len(target)
        elif target == "*" and best_len < 0:
            best, best_len = rule, 0
    return best


def upstream(rule):
    """The upstream registry's host, such as docker.io."""
    return (_p(rule).get("sourceRepository") or "").split("/", 1)[0].lower()


def source_repository(rule, repository):
    """The upstream repository the rule fetches ``repository`` from (a wildcard's matched part carried over)."""
    target, source = _p(rule).get("targetRepository") or "", _p(rule).get("sourceRepository") or ""
    if target.endswith("*") and source.endswith("*"):
        return source[:-1] + repository[len(target) - 1:]
    return source
