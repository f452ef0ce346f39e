"""Pure parts of B.recent (a group joined minutes ago, from the Entra audit log) and of matching an image's
repository to the artifact cache rule that fetches it."""
import json
from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from azext_acrpull.diagnose.common.cache_rules import rule_for, source_repository
from azext_acrpull.diagnose.facts.graph import group_joins_of, join_filter

MEMBER, GROUP = "6d01599a-91ba-512c-93b7-67ae5720baa5", "1f0e98f5-3161-4c6b-9b50-d488572f2bb7"
AT = "2026-12-06T00:31:07.1234567Z"


def _entry(result="success", activity="Add member to group", group_target=True, props=True):
    targets = [{"id": MEMBER, "displayName": "aks1-agentpool", "type": "ServicePrincipal", "modifiedProperties": [
        {"displayName": "Group.ObjectID", "oldValue": None, "newValue": json.dumps(GROUP)},
        {"displayName": "Group.DisplayName", "oldValue": None, "newValue": '"pullers"'}] if props else []}]
    if group_target:
        targets.append({"id": GROUP, "displayName": None, "type": "Group", "modifiedProperties": []})
    return {"activityDisplayName": activity, "activityDateTime": AT, "result": result, "targetResources": targets}


def test_a_join_is_read_from_the_member_target():
    (join,) = group_joins_of([_entry()])[MEMBER]
    assert (join["groupId"], join["groupName"]) == (GROUP, "pullers")
    assert join["at"] == datetime(2026, 12, 6, 0, 31, 7, 123456, tzinfo=timezone.utc)


def test_the_group_target_names_the_group_when_the_properties_do_not():
    (join,) = group_joins_of([_entry(props=False)])[MEMBER]
    assert join["groupId"] == GROUP


def test_failures_and_other_activities_are_not_joins():
    assert group_joins_of([_entry(result="failure"), _entry(activity="Remove member from group"), None, {}]) == {}


def test_the_filter_is_the_one_graph_documents():
    since = datetime(2026, 12, 6, 0, 10, 59, 999, tzinfo=timezone.utc)
    assert join_filter(since, MEMBER) == ("activityDisplayName eq 'Add member to group' and activityDateTime ge "
                                          "2026-12-06T00:10:59Z and targetResources/any(t: t/id eq '{}')".format(
                                              MEMBER))
    assert "targetResources" not in join_filter(since)


@given(st.lists(st.sampled_from(["success", "failure", "timeout"]), max_size=6),
       st.integers(min_value=0, max_value=10 ** 6))
def test_every_successful_join_is_kept_with_its_time(results, seconds):
    at = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=seconds)
    entries = [dict(_entry(result=r), activityDateTime=at.isoformat().replace("+00:00", "Z")) for r in results]
    found = group_joins_of(entries).get(MEMBER, [])
    assert len(found) == results.count("success")
    assert all(j["at"] == at for j in found)


def _rule(source, target):
    return {"name": "r", "properties": {"sourceRepository": source, "targetRepository": target}}


@given(st.from_regex(r"[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,2}", fullmatch=True))
def test_a_wildcard_rule_fetches_the_matched_part_from_its_source(rest):
    rule = _rule("docker.io/library/*", "hub/*")
    assert rule_for([rule], "hub/" + rest) is rule
    assert source_repository(rule, "hub/" + rest) == "docker.io/library/" + rest
    assert rule_for([rule], "other/" + rest) is None


def test_an_exact_rule_fetches_its_source():
    rule = _rule("mcr.microsoft.com/dotnet/runtime", "runtime")
    assert source_repository(rule, "runtime") == "mcr.microsoft.com/dotnet/runtime"
