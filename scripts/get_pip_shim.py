# SPDX-License-Identifier: GPL-3.0-or-later
"""Offline replacement for the get-pip.py that ansible-test bootstraps its venvs with.

ansible-test creates a pip-less venv for each sanity test (and for --venv runs) and then
fetches get-pip-<version>.py from a CI file host, unless ~/.ansible/test/cache/get_pip_<v>.py
already exists. That host is not reachable from every machine we run on, so
scripts/ansible-test-tree installs this file under that name. It is called with get-pip's
arguments, e.g. ``--disable-pip-version-check pip==25.2 --no-setuptools --no-wheel``; the
venv's own ensurepip provides a pip that can then install the requested one from the index.
"""
import subprocess
import sys

GET_PIP_ONLY = ("--no-setuptools", "--no-wheel")

args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL)
subprocess.check_call([sys.executable, "-m", "pip", "install", "-q"] + args)
