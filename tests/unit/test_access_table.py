"""The access table the demo prints: a reader can tell which column is which bucket, and a
cell that differs from docs/design.md "Access" is marked."""

from __future__ import annotations

from tools.embedded_aws import access


def _expected_results() -> dict[access.Cell, str]:
    return {
        cell: cell.expected
        for p in access.PRINCIPALS
        for b in access.BUCKETS
        for op in access.OPERATIONS
        for cell in [access.Cell(p, b, op)]
    }


def test_each_column_names_its_bucket() -> None:
    header = access.format_table(_expected_results())[1].split()
    assert header == ["uploads", "web"] * len(access.PRINCIPALS)


def test_a_cell_that_differs_from_the_design_is_marked() -> None:
    results = _expected_results()
    wrong = access.Cell("User B", "web bucket", "put")
    results[wrong] = access.ALLOW
    rows = {line.split()[0]: line.split()[1:] for line in access.format_table(results)[2:]}
    assert rows["put"][3] == "allow!"
    assert all(not cell.endswith("!") for op, row in rows.items() for cell in row if op != "put")
