import os

from hypothesis import HealthCheck, settings

# "ci": derandomized, so a failure in CI reproduces on any machine; "dev": random exploration.
settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("SNNC_HYPOTHESIS_PROFILE", "ci"))
