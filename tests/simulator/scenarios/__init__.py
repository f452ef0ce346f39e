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
    if name not in SCENARIOS:
        raise KeyError("unknown scenario {!r}; known: {}".format(name, ", ".join(sorted(SCENARIOS))))
    return SCENARIOS[name][1]()


from . import auth, beyond, discovery, fix, fleet, foundation, image, network, reliability  # noqa: E402,F401  pylint: disable=wrong-import-position
