"""Citations of the contract stay true: every section of docs/design.md that is cited exists.

Code, tests, modules and docs cite docs/design.md by section heading, in the form
`docs/design.md "Damaged input"` (or `design.md, "Damaged input"`; inside a Terraform or
Python string the quotes are escaped, and a comment may wrap the heading onto its next
line). A heading renamed without its citations, or a citation mistyped, fails here.
The contract used to live outside the repository and was cited as "SPEC" and a section
number; no such citation may come back.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DESIGN = REPO / "docs" / "design.md"
# Where citations live: the package, tests and tools, Terraform, Terragrunt, docs, CI.
SCANNED = (
    "image/src",
    "tests",
    "tools",
    "modules",
    "live",
    "docs",
    ".github",
    ".ci",
    "README.md",
    "Makefile",
    "docker-compose.yml",
)
SUFFIXES = frozenset(
    {".py", ".pyi", ".c", ".md", ".tf", ".hcl", ".tftpl", ".yml", ".yaml", ".sh", ".toml"}
)
SKIPPED_DIRS = frozenset({".terraform", "__pycache__", ".pytest_cache", "node_modules"})
# `design.md`, an optional comma, then the heading in double quotes (escaped or not); the
# heading may start on the next line of the same comment (`#`, `#:` or `//` in front).
CITATION = re.compile(r'design\.md,?(?:\s|#:?|//)*\\?"([^"\\\n]+)\\?"')
OLD_CITATION = "SPEC " + "\N{SECTION SIGN}"  # spelled apart, so this file does not hold it


def headings(markdown: str) -> list[str]:
    """Every Markdown heading of `markdown`, as its text (outside fenced code)."""
    found = []
    fenced = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (match := re.match(r"#{1,6} +(.+?) *#* *$", line)):
            found.append(match.group(1))
    return found


def citations(text: str) -> list[str]:
    return CITATION.findall(text)


def scanned_files() -> list[Path]:
    files = []
    for name in SCANNED:
        root = REPO / name
        if root.is_file():
            files.append(root)
            continue
        for folder, subfolders, names in os.walk(root):
            # Pruned in place, so provider caches and the like are never walked.
            subfolders[:] = sorted(d for d in subfolders if d not in SKIPPED_DIRS)
            files.extend(Path(folder, n) for n in sorted(names) if Path(n).suffix in SUFFIXES)
    return files


def all_citations() -> dict[str, list[str]]:
    """Each cited heading, with the files that cite it."""
    cited: dict[str, list[str]] = {}
    for path in scanned_files():
        for heading in citations(path.read_text(encoding="utf-8", errors="replace")):
            cited.setdefault(heading, []).append(str(path.relative_to(REPO)))
    return cited


def test_every_cited_section_exists_in_the_design() -> None:
    known = set(headings(DESIGN.read_text(encoding="utf-8")))
    missing = {h: files for h, files in all_citations().items() if h not in known}
    assert missing == {}, f"cited but not a heading of docs/design.md: {missing}"


def test_the_scan_finds_the_citations_the_repository_holds() -> None:
    # Guards the test above against a scan that finds nothing: the package, the tests and
    # the Terraform modules each cite the contract.
    cited_files = {file for files in all_citations().values() for file in files}
    assert any(f.startswith("image/src/") for f in cited_files)
    assert any(f.startswith("tests/") for f in cited_files)
    assert any(f.startswith("modules/") and f.endswith(".tf") for f in cited_files)


def test_design_headings_are_unique() -> None:
    # A citation names a heading; two sections of one name would make it ambiguous.
    counts = Counter(headings(DESIGN.read_text(encoding="utf-8")))
    assert [h for h, n in counts.items() if n > 1] == []


def test_no_citation_of_the_old_spec_remains() -> None:
    holders = [
        str(path.relative_to(REPO))
        for path in scanned_files()
        if OLD_CITATION in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert holders == []


def test_citations_are_read_in_every_form_the_repository_uses() -> None:
    text = "\n".join(
        [
            'see docs/design.md "Damaged input".',
            'the rules of design.md, "Sanitizer: what is kept", applied',
            'description = "a policy (docs/design.md \\"Sanitizer: orientation\\"): apply"',
            "  # events wait in the queue (docs/design.md",
            '  # "Pipeline: events and the queue") until it is true again.',
            "#: and design.md,",
            '#: "Sanitizer: ICC profiles", keeps it',
        ]
    )
    assert citations(text) == [
        "Damaged input",
        "Sanitizer: what is kept",
        "Sanitizer: orientation",
        "Pipeline: events and the queue",
        "Sanitizer: ICC profiles",
    ]


def test_headings_are_read_outside_code_blocks_only() -> None:
    text = "# Title\n\n## Part\n\n```sh\n# a shell comment\n```\n\n### Section: one ###\n"
    assert headings(text) == ["Title", "Part", "Section: one"]


def test_the_table_of_promises_names_modules_and_tests_that_exist() -> None:
    """The "Where each promise is implemented and tested" table: every package path
    (core/, aws/, cli/), every tools/ path and every test file it names is there."""
    section = DESIGN.read_text().split("## Where each promise is implemented and tested")[1]
    package = REPO / "image" / "src" / "exif_stripper"
    named = re.findall(
        r"\b((?:core|aws|cli)/[\w.]*|(?:unit|integration)/test_\w+\.py|tools/[\w/]+\.py)", section
    )
    assert len(named) > 40, named  # the table was read
    assert any(path.startswith("tools/") for path in named), named

    def where(path: str) -> Path:
        if path.startswith(("unit/", "integration/")):
            return REPO / "tests" / path
        return REPO / path if path.startswith("tools/") else package / path

    missing = [path for path in named if not where(path).exists()]
    assert missing == []
