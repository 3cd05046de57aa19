"""The thread's Markdown export is inert in a previewer (issue 9, item 8): agent text cannot run
HTML, load images or make script links, whatever it holds. Checked by rendering the export the
way a previewer does (markdown-it with raw HTML on) and reading the HTML that comes out."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from api.exports import fenced_text, inline_text, thread_markdown

HOSTILE = [
    "<img src=https://attacker.example/pixel.png>",
    "<script>alert(1)</script>",
    "![pixel](https://attacker.example/p.png)",
    "[click](javascript:alert(1))",
    "<javascript:alert(1)>",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "~~~\n<iframe src=https://attacker.example></iframe>\n~~~",
    "```\n</code><img src=x onerror=alert(1)>\n```",
    "&lt;b&gt; &#60;script&#62;",
    '<a href="data:text/html,x">x</a>',
]


def render(markdown: str) -> str:
    return MarkdownIt("commonmark", {"html": True, "linkify": True}).render(markdown)


def assert_inert(html: str) -> None:
    lowered = html.lower()
    for tag in ("<img", "<script", "<iframe", "<a ", "<b>"):
        assert tag not in lowered, html
    # Escaped text shows quotes as &quot;: a real quote after href= or src= is a real attribute.
    assert 'href="' not in lowered and 'src="' not in lowered, html


@pytest.mark.parametrize("text", HOSTILE)
def test_agent_text_in_a_fenced_block_renders_as_text(text):
    assert_inert(render("\n".join(fenced_text(text))))


@pytest.mark.parametrize("text", HOSTILE)
def test_agent_text_on_one_line_renders_as_text(text):
    html = render(f"# {inline_text(text)}")
    assert_inert(html)
    assert html.count("<h1>") == 1


def test_the_whole_export_is_inert_and_keeps_the_text():
    data = {
        "thread": {
            "_id": "thr_1",
            "_creationTime": 0.0,
            "title": HOSTILE[0],
            "status": "active",
            "userId": HOSTILE[3],
        },
        "session": {"sdkSessionId": HOSTILE[4], "phase": "x", "plan": HOSTILE[2]},
        "messages": [
            {
                "_id": f"msg_{n}",
                "_creationTime": float(n),
                "role": "assistant",
                "order": n,
                "content": text,
            }
            for n, text in enumerate(HOSTILE)
        ],
        "toolCalls": [
            {
                "_id": "tc_1",
                "_creationTime": 99.0,
                "toolName": HOSTILE[1],
                "status": "succeeded",
                "input": {"html": HOSTILE[0]},
                "output": HOSTILE[6],
            }
        ],
        "approvalRequests": [{"_id": "apr_1", "status": "rejected", "comment": HOSTILE[5]}],
    }

    markdown = thread_markdown(data)
    html = render(markdown)

    assert_inert(html)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, as text
