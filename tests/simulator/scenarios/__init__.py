"""Named environments. Each builds a whole World; broken ones reproduce one cause of the article.

One module per area registers its scenarios with ``@scenario``; import it below.
"""
SCENARIOS = {}


def scenario(name, description):
    def register(func):
        SCENARIOS[name] = (description, func)
        return func
    return register


def build(name):
    """The scenario's world in a tenant that looks like a company's (tenant.py): every scenario also guards against
    false alarms from the principals a real tenant holds."""
    from ..tenant import populate
    if name not in SCENARIOS:
        raise KeyError("unknown scenario {!r}; known: {}".format(name, ", ".join(sorted(SCENARIOS))))
    return populate(SCENARIOS[name][1]())


from . import auth, beyond, beyond_pull, discovery, fix, fleet, foundation, image, network, reliability  # noqa: E402,F401  pylint: disable=wrong-import-position
