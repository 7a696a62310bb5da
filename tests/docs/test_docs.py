"""Every ```python block of docs/*.md runs: a page's blocks in order in
one namespace, in a temporary working directory. A block preceded by
`<!-- skip: reason -->` is skipped, and a skip needs a reason."""

import pathlib
import re

import pytest

DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(
    r"(?:<!--\s*skip:(?P<reason>[^>]*)-->\s*\n)?```python\n(?P<code>.*?)```",
    re.DOTALL,
)


def blocks(page):
    return [
        (match["code"], match["reason"])
        for match in BLOCK.finditer(page.read_text())
    ]


def test_the_docs_have_runnable_code():
    pages = sorted(DOCS.rglob("*.md"))
    assert len(pages) >= 10
    assert sum(len(blocks(page)) for page in pages) >= 20


@pytest.mark.parametrize(
    "page",
    sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md") if blocks(p)),
)
def test_page_code_runs(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": f"docs_{page}"}
    for number, (code, reason) in enumerate(blocks(DOCS / page), 1):
        if reason is not None:
            assert reason.strip(), f"{page} block {number}: skip needs a reason"
            continue
        try:
            exec(compile(code, f"{page}[{number}]", "exec"), namespace)
        except Exception as error:
            raise AssertionError(
                f"{page}, code block {number} failed: {error!r}\n{code}"
            ) from error
