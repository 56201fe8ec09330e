#!/usr/bin/env python3
"""The baseline `aegis bench import --baseline` compares against: the reference Python tools loading the same
files as Aegis' importers.

- attack: mitreattack-python's `MitreAttackData` over mitre-attack/enterprise-attack.json (a stix2 MemoryStore).
- sigma: pySigma's `SigmaCollection.load_ruleset` over every rule file under sigma/ (all rule folders, the same
  files `aegis import sigma` reads), with `collect_errors=True` so that one bad rule does not stop the load; rules
  that carry errors, and files that raise, are counted as failed.

Each load runs in a process of its own (this script re-running itself with --case), so the peak memory
(`ru_maxrss`) is that case's alone; the time is the load call only (interpreter start and module imports are
not counted, as the Rust side does not count process start either). Prints one JSON object per case on stdout:
{"case", "files", "records", "failed", "seconds" (median of --runs), "peak_mb" (highest of the runs), "tool"}.

Run it with the virtual environment that deploy/bench/ensure-python-baseline makes.
"""

import argparse
import json
import pathlib
import resource
import statistics
import subprocess
import sys
import time

CASES = ("attack", "sigma")

# The folders of a Sigma checkout that hold YAML which is not a rule; the same list as Aegis' Sigma parser
# (importers/src/parsers/sigma.rs, NON_RULE_FOLDERS), so both sides read the same files.
SIGMA_NON_RULE_FOLDERS = {"tests", "test", "regression_data", ".github", "documentation", "images"}


def sigma_files(corpus: pathlib.Path) -> list[pathlib.Path]:
    root = corpus / "sigma"
    return sorted(
        path
        for path in root.rglob("*")
        if path.is_file()
        and path.suffix.lower() in (".yml", ".yaml")
        and not SIGMA_NON_RULE_FOLDERS.intersection(path.relative_to(root).parts)
    )


def load_attack(corpus: pathlib.Path) -> dict:
    from mitreattack.stix20 import MitreAttackData

    bundle = corpus / "mitre-attack" / "enterprise-attack.json"
    started = time.perf_counter()
    data = MitreAttackData(str(bundle))
    seconds = time.perf_counter() - started
    # Every STIX object in the store (relationships included), counted after the clock stopped.
    return {"files": 1, "records": len(data.src.query([])), "failed": 0, "seconds": seconds}


def load_sigma(corpus: pathlib.Path) -> dict:
    from sigma.collection import SigmaCollection

    files = sigma_files(corpus)
    started = time.perf_counter()
    try:
        collection = SigmaCollection.load_ruleset([str(path) for path in files], collect_errors=True)
        rules, failed_files = collection.rules, 0
    except Exception:  # noqa: BLE001 - a file pySigma cannot even collect: load the rest one file at a time.
        started = time.perf_counter()
        rules, failed_files = [], 0
        for path in files:
            try:
                rules.extend(SigmaCollection.from_yaml(path.read_text(encoding="utf-8"), collect_errors=True).rules)
            except Exception:  # noqa: BLE001
                failed_files += 1
    seconds = time.perf_counter() - started
    failed_rules = sum(1 for rule in rules if rule.errors)
    return {
        "files": len(files),
        "records": len(rules) - failed_rules,
        "failed": failed_files + failed_rules,
        "seconds": seconds,
    }


def one_case(case: str, corpus: pathlib.Path) -> dict:
    result = {"attack": load_attack, "sigma": load_sigma}[case](corpus)
    # Linux reports ru_maxrss in KiB.
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def tool_version(case: str) -> str:
    from importlib.metadata import version

    package = {"attack": "mitreattack-python", "sigma": "pysigma"}[case]
    return f"{package} {version(package)}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=pathlib.Path, default=pathlib.Path("../shared/corpus"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cases", default=",".join(CASES), help="comma-separated: " + ", ".join(CASES))
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    arguments = parser.parse_args()

    if arguments.case:
        print(json.dumps(one_case(arguments.case, arguments.corpus)))
        return 0

    for case in arguments.cases.split(","):
        runs = []
        for _ in range(max(arguments.runs, 1)):
            child = subprocess.run(
                [sys.executable, __file__, "--corpus", str(arguments.corpus), "--case", case],
                check=True,
                capture_output=True,
                text=True,
            )
            runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
        summary = dict(runs[-1])
        summary["case"] = case
        summary["tool"] = tool_version(case)
        summary["seconds"] = statistics.median(run["seconds"] for run in runs)
        summary["peak_mb"] = max(run["peak_mb"] for run in runs)
        print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
