"""Platform simulator with planted amplification campaigns and ground truth (for tests, demos, benchmarks).

It makes synthetic data only: organic users, target accounts (diplomats, state media) and switchable
campaigns (super-spreaders, impersonation, hijacked accounts, copy-paste brigades; in the ``realistic``
scenario also a scheduled shift, a ring, slow templated praise and state-media links), switchable confounders
(community hubs, fans of idols, news aggregators, breaking-news surges), with platform enforcement recorded as
account status. Nothing here creates or operates a real account.

>>> from echoscope.simulate import make_config, simulate
>>> platform = simulate(make_config(accounts=5_000, engagements=50_000, seed=1))   # doctest: +SKIP
>>> write(platform, "out/", "study")                                               # doctest: +SKIP
>>> realistic = simulate(make_config(scenario="realistic", seed=1))                 # doctest: +SKIP

The model is split by concern: :mod:`.config` (parameters, scenarios, difficulties), :mod:`.population` and
:mod:`.roles` (accounts), :mod:`.activity` (posts and engagements), :mod:`.campaigns` (the campaigns added with
the confounders), :mod:`.confounders`, :mod:`.texts`, :mod:`.enforcement` (suspensions, status, logins),
:mod:`.platform` (assembly and ground truth), :mod:`.writers` (study and file formats).
"""

from .config import CAMPAIGNS, CONFOUNDERS, DIFFICULTIES, SCENARIOS, SimConfig, make_config
from .platform import Platform, simulate
from .writers import FORMATS, write

__all__ = ["CAMPAIGNS", "CONFOUNDERS", "DIFFICULTIES", "FORMATS", "SCENARIOS", "Platform", "SimConfig", "make_config",
           "simulate", "write"]
