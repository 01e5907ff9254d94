"""Platform simulator with planted amplification campaigns and ground truth (for tests, demos, benchmarks).

It makes synthetic data only: organic users, target accounts (diplomats, state media) and switchable
campaigns (super-spreaders, impersonation, hijacked accounts, copy-paste brigades), with platform
enforcement recorded as account status. Nothing here creates or operates a real account.

>>> from echoscope.simulate import make_config, simulate
>>> platform = simulate(make_config(accounts=5_000, engagements=50_000, seed=1))   # doctest: +SKIP
>>> write(platform, "out/", "study")                                               # doctest: +SKIP

The model is split by concern: :mod:`.config` (parameters and difficulties), :mod:`.population` (accounts),
:mod:`.activity` (posts and engagements), :mod:`.texts`, :mod:`.enforcement` (suspensions, status, logins),
:mod:`.platform` (assembly and ground truth), :mod:`.writers` (study and file formats), :mod:`.demo`.
"""

from .config import CAMPAIGNS, DIFFICULTIES, SimConfig, make_config
from .platform import Platform, simulate
from .writers import FORMATS, write

__all__ = ["CAMPAIGNS", "DIFFICULTIES", "FORMATS", "Platform", "SimConfig", "make_config", "simulate", "write"]
