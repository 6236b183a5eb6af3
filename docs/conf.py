# SPDX-License-Identifier: GPL-3.0-or-later
"""Sphinx configuration of the documentation site (built by `make docs`).

The site is assembled in build/docs/src: the hand-written guides from docs/ (Markdown, read by
MyST) plus the module and role reference that antsibull-docs generates from the collection's
own DOCUMENTATION blocks and meta/argument_specs.yml into collection/.
"""

project = "vaultops.replication"
copyright = "vaultops maintainers"  # pylint: disable=redefined-builtin
author = "vaultops maintainers"
title = "vaultops.replication documentation"
html_short_title = "vaultops.replication"

extensions = ["myst_parser", "sphinx_antsibull_ext"]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["requirements.txt", "conf.py", "_templates"]

# Markdown: `page.md#some-heading` links resolve to generated heading anchors; explicit
# `(label)=` targets give the stable anchors (for example the troubleshooting #error-... ones).
myst_heading_anchors = 4
myst_enable_extensions = ["colon_fence", "deflist"]

pygments_style = "ansible"
# Code blocks without a language stay plain text (the reference pages name theirs).
highlight_language = "none"

html_theme = "sphinx_ansible_theme"
html_title = title
html_show_sphinx = False
html_copy_source = False
html_use_index = False
html_use_modindex = False
html_theme_options = {
    "collapse_navigation": False,
    "display_version": False,
}
# No network while building, so no intersphinx inventories. The generated reference points at
# a few pages of Ansible's own documentation by label; those labels resolve to its public pages.
# Any other unresolved reference stays a warning, and the build treats warnings as errors.
ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/latest/"
ANSIBLE_LABELS = {
    "action_plugins": "plugins/action.html",
    "common_return_values": "reference_appendices/common_return_values.html",
    "ansible_configuration_settings": "reference_appendices/config.html",
}


def _ansible_label(app, env, node, contnode):  # pylint: disable=unused-argument
    """Resolve a reference to one of ANSIBLE_LABELS as an external link."""
    from docutils import nodes  # pylint: disable=import-outside-toplevel

    target = node.get("reftarget", "")
    if node.get("refdomain") != "std" or target not in ANSIBLE_LABELS:
        return None
    link = nodes.reference("", "", internal=False, refuri=ANSIBLE_DOCS + ANSIBLE_LABELS[target])
    link += contnode
    return link


def setup(app):
    app.connect("missing-reference", _ansible_label)
