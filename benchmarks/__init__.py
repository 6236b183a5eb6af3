# SPDX-License-Identifier: GPL-3.0-or-later
"""Speed and memory benchmarks: ratios against a baseline measured in the same run."""
