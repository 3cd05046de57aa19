"""Markdown for agent-written text, which is untrusted.

rx.markdown enables raw HTML (rehype-raw) by default; here it is off, so `<script>`, `<img
onerror>`, `<iframe>`, `<style>` ... stay text. react-markdown's default URL transform drops
`javascript:`, `vbscript:` and `data:` URLs from links and images. Images are not loaded at all
(a remote image in a plan would tell its author when and where a reviewer read it).
"""

from __future__ import annotations

import reflex as rx


def _link(value: object) -> rx.Component:
    return rx.link(value, is_external=True, rel="noopener noreferrer nofollow")


def _image(value: object) -> rx.Component:
    return rx.el.span("[image not loaded]", class_name="md-image", title="Images are not loaded")


def safe_markdown(content: rx.Var | str, **props) -> rx.Component:
    return rx.markdown(
        content,
        use_raw=False,
        use_math=False,
        use_katex=False,
        component_map={"a": _link, "img": _image},
        class_name="safe-markdown",
        **props,
    )
