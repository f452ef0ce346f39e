"""Decide whether role assignments let an identity pull from a registry.

Pure functions over role definitions and assignments shaped as ARM returns them, so the same logic serves the
live path (REST), the fleet path (Resource Graph) and the tests. It follows Azure RBAC's rules (wildcards,
notActions per permission block, scope inheritance) and ACR's two role-assignment modes: in the ABAC mode only
repository data actions count, and a role assignment condition may limit them to some repositories.
"""
import re
from dataclasses import dataclass
from functools import lru_cache

PULL_ACTION = "Microsoft.ContainerRegistry/registries/pull/read"
REPOSITORY_CONTENT_READ = "Microsoft.ContainerRegistry/registries/repositories/content/read"
REPOSITORY_METADATA_READ = "Microsoft.ContainerRegistry/registries/repositories/metadata/read"
# What a pull needs in the ABAC mode; metadata/read only lists tags and repository properties.
ABAC_PULL_DATA_ACTIONS = (REPOSITORY_CONTENT_READ,)
# Everything Container Registry Repository Reader grants, the pair Azure's condition editor guards.
ABAC_READ_DATA_ACTIONS = (REPOSITORY_CONTENT_READ, REPOSITORY_METADATA_READ)
ABAC_MODE = "AbacRepositoryPermissions"
REPOSITORY_NAME_ATTRIBUTE = "Microsoft.ContainerRegistry/registries/repositories:name"

ACR_PULL_ROLE_ID = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
ACR_PUSH_ROLE_ID = "8311e382-0749-4cb8-b61a-304f252e45ec"
REPOSITORY_READER_ROLE_ID = "b93aa761-3e63-49ed-ac28-beffa264f7ac"
REPOSITORY_WRITER_ROLE_ID = "2a1e307c-b015-4ebd-883e-5b7698a07328"
REPOSITORY_CONTRIBUTOR_ROLE_ID = "2efddaa5-3f1f-4df3-97df-af3f13818f4c"
# ACR documents this role as reading every repository in the ABAC mode too, though it only holds pull/read.
DATA_IMPORTER_ROLE_ID = "577a9874-89fd-4f24-9dbd-b5034d0ad23a"
OWNER_ROLE_ID = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR_ROLE_ID = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER_ROLE_ID = "acdd72a7-3385-48ef-bd42-f606fba81ae7"

_CR = "Microsoft.ContainerRegistry/registries/repositories/"

# Built-in roles whose definitions grant a pull in each mode (Azure fixes built-in role ids): an assignment of one
# says, before its definition is read, that the registry has pull holders.
BUILTIN_PULL_ROLES = {
    False: frozenset({ACR_PULL_ROLE_ID, ACR_PUSH_ROLE_ID, DATA_IMPORTER_ROLE_ID, OWNER_ROLE_ID, CONTRIBUTOR_ROLE_ID,
                      READER_ROLE_ID}),
    True: frozenset({REPOSITORY_READER_ROLE_ID, REPOSITORY_WRITER_ROLE_ID, REPOSITORY_CONTRIBUTOR_ROLE_ID,
                     DATA_IMPORTER_ROLE_ID}),
}


def _builtin(guid, name, actions=(), not_actions=(), data_actions=()):
    return {
        "id": "/providers/Microsoft.Authorization/roleDefinitions/" + guid,
        "name": guid,
        "properties": {
            "roleName": name,
            "type": "BuiltInRole",
            "permissions": [{"actions": list(actions), "notActions": list(not_actions),
                             "dataActions": list(data_actions), "notDataActions": []}],
            "assignableScopes": ["/"],
        },
    }


# Used only when the caller has no definition for one of these guids (Resource Graph may lack built-ins).
# Permissions are trimmed to what decides a pull; do not use them to judge other actions.
BUILTIN_ROLE_DEFINITIONS = {d["name"]: d for d in (
    _builtin(ACR_PULL_ROLE_ID, "AcrPull", [PULL_ACTION]),
    _builtin(ACR_PUSH_ROLE_ID, "AcrPush", [PULL_ACTION, "Microsoft.ContainerRegistry/registries/push/write"]),
    _builtin(REPOSITORY_READER_ROLE_ID, "Container Registry Repository Reader",
             data_actions=[_CR + "metadata/read", _CR + "content/read"]),
    _builtin(REPOSITORY_WRITER_ROLE_ID, "Container Registry Repository Writer",
             data_actions=[_CR + "metadata/read", _CR + "content/read", _CR + "metadata/write",
                           _CR + "content/write"]),
    _builtin(REPOSITORY_CONTRIBUTOR_ROLE_ID, "Container Registry Repository Contributor",
             data_actions=[_CR + "metadata/read", _CR + "content/read", _CR + "metadata/write",
                           _CR + "content/write", _CR + "metadata/delete", _CR + "content/delete"]),
    _builtin(DATA_IMPORTER_ROLE_ID, "Container Registry Data Importer and Data Reader",
             ["Microsoft.ContainerRegistry/registries/importImage/action", PULL_ACTION,
              "Microsoft.ContainerRegistry/registries/read"]),
    _builtin(OWNER_ROLE_ID, "Owner", ["*"]),
    _builtin(CONTRIBUTOR_ROLE_ID, "Contributor", ["*"],
             ["Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
              "Microsoft.Authorization/elevateAccess/Action"]),
    _builtin(READER_ROLE_ID, "Reader", ["*/read"]),
)}


# --- actions -------------------------------------------------------------------------------------------------


@lru_cache(maxsize=2048)
def _action_regex(pattern):
    return re.compile(".*".join(re.escape(part) for part in pattern.casefold().split("*")), re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    """Azure RBAC matching: case-insensitive, and `*` stands for any run of characters, `/` included."""
    if not isinstance(pattern, str) or not isinstance(action, str) or not pattern:
        return False
    return _action_regex(pattern).fullmatch(action.casefold()) is not None


def _strings(block, key):
    # ARM returns camelCase; PowerShell-style exports use PascalCase. Accept both.
    values = block.get(key)
    if values is None:
        values = block.get(key[0].upper() + key[1:])
    return [v for v in values or () if isinstance(v, str)]


def _granting_pattern(permissions, action, data=False):
    """The pattern that grants `action`, or None. Azure subtracts notActions within their own block only."""
    allow, deny = ("dataActions", "notDataActions") if data else ("actions", "notActions")
    for block in permissions or ():
        if not isinstance(block, dict):
            continue
        pattern = next((p for p in _strings(block, allow) if action_matches(p, action)), None)
        if pattern is not None and not any(action_matches(p, action) for p in _strings(block, deny)):
            return pattern
    return None


def grants(permissions: list[dict], action: str, data: bool = False) -> bool:
    """True when some permission block allows `action` and none of that block's exclusions removes it."""
    return _granting_pattern(permissions, action, data) is not None


def denial(permissions: list[dict], action: str, data: bool = False) -> str | None:
    """Why a role does not grant `action`, in words (None when it does): the case that fools people is a wildcard
    that matches and a notActions entry that takes it away again."""
    allow, deny = ("dataActions", "notDataActions") if data else ("actions", "notActions")
    removed = None
    for block in permissions or ():
        if not isinstance(block, dict):
            continue
        pattern = next((p for p in _strings(block, allow) if action_matches(p, action)), None)
        if pattern is None:
            continue
        excluded = next((p for p in _strings(block, deny) if action_matches(p, action)), None)
        if excluded is None:
            return None
        removed = removed or f"{allow} '{pattern}' matches it but {deny} '{excluded}' removes it"
    return removed or f"none of its {allow} matches {action}"


# --- scopes --------------------------------------------------------------------------------------------------

_MG_SCOPE = re.compile(r"^/providers/microsoft\.management/managementgroups/([^/]+)$")


def scope_covers(scope: str, resource_id: str, management_groups: frozenset[str] = frozenset()) -> bool:
    """True when an assignment at `scope` is inherited by `resource_id`.

    Management groups do not appear in resource ids, so the caller says which ones hold the subscription.
    """
    raw = (scope or "").strip()
    if not raw:
        return False
    s = raw.rstrip("/").lower()
    if not s:
        return True
    r = (resource_id or "").strip().rstrip("/").lower()
    if r and (r == s or r.startswith(s + "/")):
        return True
    m = _MG_SCOPE.match(s)
    return bool(m) and m.group(1) in {g.lower() for g in management_groups if isinstance(g, str)}


# --- ABAC conditions -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConditionResult:
    covers: bool | None
    description: str


class _ConditionError(ValueError):
    pass


_TOKEN = re.compile(r"""\s*(?:
    (?P<lp>\() | (?P<rp>\)) | (?P<lb>\{) | (?P<rb>\}) | (?P<comma>,)
  | (?P<and>&&) | (?P<or>\|\|) | (?P<not>!)
  | '(?P<str>(?:[^'\\]|\\.)*)'
  | (?P<attr>@[A-Za-z]+\[[^\]]*\])
  | (?P<word>[A-Za-z_][\w:.]*)
  | (?P<num>-?\d+(?:\.\d+)?)
)""", re.VERBOSE | re.DOTALL)
_KEYWORDS = {"and": "and", "or": "or", "not": "not"}
_NAMES = {"lp": "'('", "rp": "')'", "lb": "'{'", "rb": "'}'", "str": "a quoted value", "word": "an operator",
          "attr": "an attribute"}


def _tokenize(text):
    tokens, pos, end = [], 0, len(text)
    while True:
        while pos < end and text[pos].isspace():
            pos += 1
        if pos >= end:
            return tokens
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise _ConditionError(f"unexpected text at {text[pos:pos + 20]!r}")
        kind = m.lastgroup
        value = m.group(kind)
        if kind == "word" and value.lower() in _KEYWORDS:
            kind = _KEYWORDS[value.lower()]
        tokens.append((kind, value))
        pos = m.end()


class _Parser:
    # Nodes are tuples: ("const", bool), ("unknown", text), ("not", n), ("and", ns), ("or", ns),
    # ("action", pattern), ("subop", pattern), ("cmp", attribute, operator, values, is_set), ("exists", attribute).

    def __init__(self, text):
        self.tokens = _tokenize(text)
        self.i = 0

    def parse(self):
        if not self.tokens:
            raise _ConditionError("empty condition")
        node = self.or_expr()
        if self.i != len(self.tokens):
            raise _ConditionError(f"unexpected {self.tokens[self.i][1]!r}")
        return node

    def peek(self):
        return self.tokens[self.i][0] if self.i < len(self.tokens) else None

    def take(self, kind):
        if self.peek() != kind:
            found = repr(self.tokens[self.i][1]) if self.i < len(self.tokens) else "the end"
            raise _ConditionError(f"expected {_NAMES.get(kind, kind)} but found {found}")
        self.i += 1
        return self.tokens[self.i - 1][1]

    def or_expr(self):
        items = [self.and_expr()]
        while self.peek() == "or":
            self.i += 1
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else ("or", tuple(items))

    def and_expr(self):
        items = [self.unary()]
        while self.peek() == "and":
            self.i += 1
            items.append(self.unary())
        return items[0] if len(items) == 1 else ("and", tuple(items))

    def unary(self):
        if self.peek() == "not":
            self.i += 1
            return ("not", self.unary())
        return self.primary()

    def primary(self):
        kind = self.peek()
        if kind == "lp":
            self.i += 1
            node = self.or_expr()
            self.take("rp")
            return node
        if kind == "attr":
            attribute = self.take("attr")
            operator = self.take("word")
            values, is_set = self.values()
            return ("cmp", attribute, operator, values, is_set)
        if kind == "word":
            word = self.take("word").lower()
            if word in ("actionmatches", "suboperationmatches"):
                self.take("lb")
                pattern = self.take("str")
                self.take("rb")
                return ("action" if word == "actionmatches" else "subop", pattern)
            if word == "exists":
                return ("exists", self.take("attr"))
            raise _ConditionError(f"unsupported function {word!r}")
        raise _ConditionError(f"unexpected {self.tokens[self.i][1]!r}" if kind else "unexpected end")

    def values(self):
        if self.peek() in ("str", "word", "num"):  # words and numbers: true, 42 (never a repository name)
            return (self.take(self.peek()),), False
        self.take("lb")
        values = [self.take("str")]
        while self.peek() == "comma":
            self.i += 1
            values.append(self.take("str"))
        self.take("rb")
        return tuple(values), True


@dataclass(frozen=True)
class _Operator:
    kind: str  # "equals", "startswith" or "like"
    negate: bool
    ignore_case: bool
    any_value: bool  # True: one right-hand value must match; False: all must


_QUANTIFIERS = {"": True, "foranyofanyvalues": True, "forallofanyvalues": True,
                "foranyofallvalues": False, "forallofallvalues": False}


def _operator(text, is_set):
    quantifier, _, base = text.lower().rpartition(":")
    if quantifier not in _QUANTIFIERS or (is_set and not quantifier):
        return None
    ignore_case = base.endswith("ignorecase")
    if ignore_case:
        base = base[:-len("ignorecase")]
    negate = base.startswith("stringnot")
    base = "string" + base[len("stringnot"):] if negate else base
    kind = {"stringequals": "equals", "stringstartswith": "startswith", "stringlike": "like"}.get(base)
    return _Operator(kind, negate, ignore_case, _QUANTIFIERS[quantifier]) if kind else None


def _is_repository(attribute):
    source, _, name = attribute.partition("[")
    return source.lower() in ("@request", "@resource") and name.rstrip("]").strip().lower() == \
        REPOSITORY_NAME_ATTRIBUTE.lower()


@lru_cache(maxsize=512)
def _like_regex(value, ignore_case):
    parts, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            parts.append(re.escape(value[i + 1]))
            i += 2
            continue
        parts.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _compare(op, repository, value):
    if op.kind == "like":
        hit = _like_regex(value, op.ignore_case).fullmatch(repository) is not None
    else:
        left, right = (repository.casefold(), value.casefold()) if op.ignore_case else (repository, value)
        hit = left == right if op.kind == "equals" else left.startswith(right)
    return hit != op.negate


def _bind(node, action):
    """Settle ActionMatches for `action` and simplify; what is left constrains the repository only."""
    tag = node[0]
    if tag == "action":
        return ("const", action_matches(node[1], action))
    if tag == "subop":
        return ("unknown", "a sub-operation check")
    if tag in ("cmp", "exists"):
        if not _is_repository(node[1]):
            return ("unknown", f"a check on {node[1]}")
        if tag == "cmp" and _operator(node[2], node[4]) is None:
            plain_with_list = node[4] and ":" not in node[2]
            return ("unknown", f"the operator {node[2]}" + (" with a list of values" if plain_with_list else ""))
        return node
    if tag == "not":
        inner = _bind(node[1], action)
        return ("const", not inner[1]) if inner[0] == "const" else ("not", inner)
    if tag in ("and", "or"):
        absorbing = tag == "or"  # True absorbs an OR, False absorbs an AND
        kept = []
        for child in (_bind(c, action) for c in node[1]):
            if child[0] == "const":
                if child[1] == absorbing:
                    return child
                continue
            kept.append(child)
        if not kept:
            return ("const", not absorbing)
        return kept[0] if len(kept) == 1 else (tag, tuple(kept))
    return node


def _evaluate(node, repository):
    """Kleene logic: None where the condition depends on something this tool cannot see."""
    tag = node[0]
    if tag == "const":
        return node[1]
    if tag == "unknown":
        return None
    if tag == "exists":
        return True
    if tag == "cmp":
        op = _operator(node[2], node[4])
        hits = [_compare(op, repository, v) for v in node[3]]
        return any(hits) if op.any_value else all(hits)
    if tag == "not":
        value = _evaluate(node[1], repository)
        return None if value is None else not value
    values = [_evaluate(c, repository) for c in node[1]]
    if tag == "and":
        return False if False in values else None if None in values else True
    return True if True in values else None if None in values else False


_VERBS = {"equals": "named", "startswith": "starting with", "like": "matching"}


def _describe(node, parent=None):
    tag = node[0]
    if tag == "cmp":
        op = _operator(node[2], node[4])
        verb = ("not " if op.negate else "") + _VERBS[op.kind]
        quoted = [f"'{v}'" for v in node[3]]
        joiner = " or " if op.any_value else " and "
        if op.negate and len(quoted) > 1:
            return joiner.join(f"{verb} {q}" for q in quoted)
        return f"{verb} {joiner.join(quoted)}"
    if tag == "exists":
        return "with any name"
    if tag == "unknown":
        return f"subject to {node[1]} that cannot be evaluated here"
    if tag == "not":
        inner = _describe(node[1])
        return f"not ({inner})" if node[1][0] in ("and", "or", "not") else "not " + inner
    text = f" {tag} ".join(_describe(c, tag) for c in node[1])
    return f"({text})" if parent in ("and", "or") and parent != tag else text


def _residual(condition, action):
    return _bind(_Parser(condition).parse(), action)


def evaluate_repository_condition(condition: str | None, repository: str | None,
                                  action: str = REPOSITORY_CONTENT_READ) -> ConditionResult:
    """Whether a role assignment condition lets `action` (a pull, by default) reach `repository`.

    With no repository, covers is None whenever the condition limits repositories at all. Never raises:
    a condition this parser cannot read yields covers None, so a check can report it instead of guessing.
    """
    if condition is None or not str(condition).strip():
        return ConditionResult(True, "all repositories")
    try:
        residual = _residual(str(condition), action)
    except (_ConditionError, RecursionError) as exc:
        return ConditionResult(None, f"the role assignment condition could not be evaluated ({exc})")
    if residual[0] == "const":
        return ConditionResult(residual[1], "all repositories" if residual[1] else "no repositories")
    covers = None if repository is None else _evaluate(residual, repository)
    return ConditionResult(covers, "repositories " + _describe(residual))


# --- pull grants ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PullGrant:
    assignment_id: str
    role_name: str
    scope: str
    principal_id: str
    via: str
    # False when the grant may not reach the image's repository: its condition limits repositories and the
    # repository is unknown, or the condition could not be evaluated.
    certain: bool = True
    # Which repositories the grant reaches, in words ("all repositories", "repositories starting with 'team/'").
    repositories: str = "all repositories"


def _guid(resource_id):
    return (resource_id or "").strip().rstrip("/").rsplit("/", 1)[-1].lower()


def _properties(item):
    # ARM nests fields under "properties"; `az role ... list` flattens them.
    props = item.get("properties")
    return props if isinstance(props, dict) else item


def _index_definitions(definitions_by_id):
    index = {}
    for key, definition in (definitions_by_id or {}).items():
        if not isinstance(definition, dict):
            continue
        for ref in (key, definition.get("id"), definition.get("name")):
            if isinstance(ref, str) and _guid(ref):
                index.setdefault(_guid(ref), definition)
    return index


class AssignmentList(list):
    """Role assignments as listed at one scope (a plain list to read), with indexes built on first use: by principal,
    and whether a group holds any. A registry shared by a fleet's clusters has thousands of assignments, and each
    cluster asks only about its own identity: the list is scanned once, not once per cluster."""

    def _indexes(self):
        index = self.__dict__.get("_index")
        if index is None:
            by_principal, groups = {}, set()
            for position, assignment in enumerate(self):
                props = _properties(assignment) if isinstance(assignment, dict) else {}
                principal = (props.get("principalId") or "").lower()
                by_principal.setdefault(principal, []).append(position)
                if (props.get("principalType") or "") == "Group" and principal:
                    groups.add(principal)
            index = self.__dict__["_index"] = (by_principal, frozenset(groups))
        return index

    def of(self, principal_ids):
        """The assignments held by these principals, in list order."""
        by_principal = self._indexes()[0]
        positions = sorted({i for p in {(p or "").lower() for p in principal_ids} for i in by_principal.get(p, ())})
        return [self[i] for i in positions]

    def any_group(self):
        return bool(self._indexes()[1])

    def group_ids(self):
        """Ids (lower case) of the groups that hold one of the assignments."""
        return self._indexes()[1]


def assignments_of(assignments, principal_ids):
    """The assignments among `assignments` held by these principals, in order (through the index when it has one)."""
    if isinstance(assignments, AssignmentList):
        return assignments.of(principal_ids)
    ids = {(p or "").lower() for p in principal_ids}
    return [a for a in assignments if (_properties(a).get("principalId") or "").lower() in ids]


def group_ids(assignments):
    """Ids (lower case) of the groups that hold one of these assignments."""
    if isinstance(assignments, AssignmentList):
        return assignments.group_ids()
    return frozenset((_properties(a).get("principalId") or "").lower() for a in assignments
                     if (_properties(a).get("principalType") or "") == "Group") - {""}


def any_group(assignments):
    """Does a group hold one of these assignments?"""
    if isinstance(assignments, AssignmentList):
        return assignments.any_group()
    return any((_properties(a).get("principalType") or "") == "Group" for a in assignments)


def _role_pattern(cache, guid, definition, abac):
    """What a role definition grants toward a pull, worked out once per definition within a call."""
    key = (guid, abac)
    if key not in cache:
        role = _properties(definition)
        permissions = role.get("permissions") or []
        if not abac:
            cache[key] = _granting_pattern(permissions, PULL_ACTION)
        elif guid == DATA_IMPORTER_ROLE_ID:
            cache[key] = ""
        else:
            cache[key] = _granting_pattern(permissions, REPOSITORY_CONTENT_READ, data=True)
    return cache[key]


def pull_grants(assignments, definitions_by_id, principal_ids, registry_id, abac: bool,
                repository: str | None = None, management_groups=frozenset()) -> list[PullGrant]:
    """The assignments that let one of `principal_ids` pull from the registry.

    RBAC mode: the role must grant PULL_ACTION. ABAC mode: ACR ignores pull/read (AcrPull, Owner and the like
    stop working), so the role must grant the repository content read data action and its condition must
    reach `repository`. Each role definition is evaluated once, however many assignments name it.
    """
    principals = {p.lower() for p in principal_ids or () if isinstance(p, str)}
    definitions = _index_definitions(definitions_by_id)
    groups = frozenset(g.lower() for g in management_groups if isinstance(g, str))
    patterns, covered = {}, {}
    found = []
    for assignment in assignments or ():
        if not isinstance(assignment, dict):
            continue
        props = _properties(assignment)
        principal = props.get("principalId") or ""
        if principal.lower() not in principals:
            continue
        scope = props.get("scope") or ""
        if scope not in covered:
            covered[scope] = scope_covers(scope, registry_id, groups)
        if not covered[scope]:
            continue
        guid = _guid(props.get("roleDefinitionId"))
        definition = definitions.get(guid) or BUILTIN_ROLE_DEFINITIONS.get(guid)
        if definition is None:
            continue
        grant = {"assignment_id": assignment.get("id") or "", "role_name": _properties(definition).get("roleName")
                 or guid, "scope": scope, "principal_id": principal}
        pattern = _role_pattern(patterns, guid, definition, abac)
        if not abac:
            if pattern is not None:
                found.append(PullGrant(via=f"action {PULL_ACTION} via '{pattern}'", **grant))
            continue
        if guid == DATA_IMPORTER_ROLE_ID:
            found.append(PullGrant(via="built-in role that reads every repository, also in ABAC mode", **grant))
            continue
        if pattern is None:
            continue
        via = f"data action {REPOSITORY_CONTENT_READ} via '{pattern}'"
        condition = props.get("condition")
        result = evaluate_repository_condition(condition, repository)
        if result.covers is False:
            continue
        if condition and str(condition).strip():
            via += "; condition: " + result.description
        found.append(PullGrant(via=via, certain=result.covers is True, repositories=result.description, **grant))
    return found
