"""Run checkov offline and fail on everything it would otherwise let through.

checkov exits 0 when a file does not parse: the file lands in the report's `parsing_errors`
(or is left out of the report altogether) and none of its checks run. This wrapper reads
checkov's JSON report and fails on a failed check, on a parsing error, and on a report with
nothing in it, and prints the failed checks in a form a reviewer can act on.

    python .ci/hooks/checkov.py terraform modules
    python .ci/hooks/checkov.py dockerfile image/Dockerfile .ci/toolbox/Dockerfile

Skips belong inline, next to the code, with a reason: `# checkov:skip=CKV_X: why`.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def checkov_command(framework: str, paths: list[str]) -> list[str]:
    command = ["checkov", "--framework", framework, "--output", "json", "--compact", "--quiet"]
    # No Prisma Cloud: no guidelines, severities or policies are fetched, nothing leaves here.
    command.append("--skip-download")
    if framework == "terraform":
        # The modules' examples only call the modules, which are checked themselves; through a
        # module call checkov loses the link between a for_each bucket and its own access
        # block, versioning and lifecycle, and reports them missing.
        command += ["--skip-path", "/examples/"]
    for path in paths:
        command += ["--directory" if Path(path).is_dir() else "--file", path]
    return command


def reports_of(output: str) -> list[dict[str, Any]]:
    """checkov prints one report (a dict), a list of reports, or a bare summary."""
    parsed = json.loads(output)
    reports = parsed if isinstance(parsed, list) else [parsed]
    return [report if "summary" in report else {"summary": report} for report in reports]


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    framework, paths = argv[0], argv[1:]
    run = subprocess.run(checkov_command(framework, paths), capture_output=True, text=True)
    try:
        reports = reports_of(run.stdout)
    except json.JSONDecodeError:
        print(f"checkov ({framework}) printed no JSON report:", file=sys.stderr)
        print(run.stdout, run.stderr, sep="\n", file=sys.stderr)
        return 1

    passed = failed = skipped = parsing_errors = resources = 0
    for report in reports:
        summary = report["summary"]
        passed += summary.get("passed", 0)
        failed += summary.get("failed", 0)
        skipped += summary.get("skipped", 0)
        parsing_errors += summary.get("parsing_errors", 0)
        resources += summary.get("resource_count", 0)
        for check in report.get("results", {}).get("failed_checks", []):
            lines = check.get("file_line_range") or ["?", "?"]
            print(
                f"FAILED {check['check_id']} {check.get('resource', '')}: {check['check_name']}\n"
                f"       {check.get('file_path', '?')}:{lines[0]}-{lines[1]}"
            )

    print(
        f"checkov {framework}: {passed} passed, {failed} failed, {skipped} skipped, "
        f"{parsing_errors} parsing errors, {resources} resources"
    )
    if parsing_errors:
        # The JSON report does not name the files; `terraform validate` or a plain
        # `checkov -d ...` run shows which one and where.
        print(f"checkov {framework}: {parsing_errors} file(s) did not parse", file=sys.stderr)
    if resources == 0 and not failed and not parsing_errors:
        print(f"checkov {framework}: nothing was checked in {' '.join(paths)}", file=sys.stderr)
        return 1
    return 1 if failed or parsing_errors or run.returncode not in (0, 1) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
