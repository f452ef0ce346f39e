"""Hypothesis settings for the whole suite: the machine running it may be busy (CI has two cores), so property
tests judge the examples, not the clock: no per-example deadline and no health check on slow input generation."""
from hypothesis import HealthCheck, settings

settings.register_profile("acrpull", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("acrpull")
