# SPDX-License-Identifier: GPL-3.0-or-later
"""docs/compatibility.md states which vaultlab versions the tests run; keep it true."""
from __future__ import annotations

import re

from conftest import ROOT


def _files(*patterns):
    for pattern in patterns:
        for path in ROOT.glob(pattern):
            if path.is_file() and "__pycache__" not in path.parts:
                yield path


def test_compatibility_page_matches_the_tests():
    page = (ROOT / "docs" / "compatibility.md").read_text()
    default = re.search(r'^DEFAULT = "([^"]+)"', (ROOT / "emulator/src/vaultlab/versions.py").read_text(), re.M).group(1)
    assert "at its default version, **%s**" % default in page

    # "None of them passes --vault-version": no collection test, scenario or example sets a version.
    setting = re.compile(r"--vault-version|VAULTLAB_VAULT_VERSION|vault_version\s*=")
    offenders = [str(p.relative_to(ROOT)) for p in _files("tests/integration/**/*", "molecule/**/*", "tests/acceptance/*.py",
                                                           "examples/**/*", "scripts/*")
                 if p.name != "test_compatibility_doc.py" and setting.search(p.read_text(errors="replace"))]
    assert offenders == [], "docs/compatibility.md says no collection test sets a Vault version: %s" % offenders

    # The versions vaultlab's own tests run, as listed on the page.
    bullet = page.split("* **vaultlab's own tests**", 1)[1].split("\n* ", 1)[0]
    listed = set(re.findall(r"\*\*(\d+\.\d+\.\d+)\*\*", bullet))
    tests = (ROOT / "emulator/tests/test_versions.py").read_text()
    used = set(re.findall(r'vault_version="(\d+\.\d+\.\d+)"', tests)) | set(re.findall(r'decode\("(\d+\.\d+\.\d+)"\)', tests))
    assert listed == used, (listed, used)
