"""pytest plugin (entry point ``vaultlab``): a ``vaultlab`` fixture running a lab.

The fixture starts the default lab (clusters primary, dr, perf; one node each; fast
profile) in a temporary directory and stops it after the test.  Tune it with the
``vaultlab`` marker::

    @pytest.mark.vaultlab(clusters=["primary:3"], tls=True)
    def test_failover(vaultlab):
        vaultlab.kill("primary")
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "vaultlab(clusters=None, profile='fast', tls=False, timing=None, record_secrets=False): settings of the vaultlab fixture"
    )


@pytest.fixture
def vaultlab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from .testing import Lab

    marker = request.node.get_closest_marker("vaultlab")
    options: dict[str, Any] = dict(marker.kwargs) if marker else {}
    lab_dir = tmp_path_factory.mktemp("vaultlab")
    with Lab(lab_dir, **options) as lab:
        yield lab
