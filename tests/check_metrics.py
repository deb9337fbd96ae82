#!/usr/bin/env python3
"""Checks every metric line (CloudWatch embedded metric format) the run logged.

Reads every log file under $STACK_DIR/logs, as tests/check_leaks.py does, and for each
line that is a JSON object with an `_aws` block checks it against the EMF specification
(a millisecond `Timestamp`; `CloudWatchMetrics` directives with a 1-255 character
`Namespace`, `Dimensions` as sets of at most 30 names each a string member of the line,
`Metrics` of 1-100 with CloudWatch units, each a number or 1-100 numbers), and that no
dimension carries an id: only the known dimension names, and no value shaped like a
UUID, a TikTok open_id or publish id, a token, an email or a long number. Fails when no
metric line was logged at all. Run inside scripts/with-stack.sh."""

import json
import os
import pathlib
import re
import sys

UNITS = {"Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
         "Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
         "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
         "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
         "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None"}
DIMENSIONS = {"function", "status_class", "code", "endpoint", "outcome", "stopped", "event",
              "status", "fail_reason"}
ID_SHAPES = [
    re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I),
    re.compile(r"^[-_]000"),             # a TikTok open_id
    re.compile(r"~v2"),                  # a publish id
    re.compile(r"^(act|rft|clt)\."),     # TikTok tokens
    re.compile(r"@"),                    # an email
    re.compile(r"\d{6,}"),               # a user, connection or video id
    re.compile(r"^gAAAAA"),              # a Fernet token
]


def problems(line):
    aws = line.get("_aws")
    if not isinstance(aws, dict):
        return ["no _aws block"]
    found = []
    if not isinstance(aws.get("Timestamp"), int) or aws["Timestamp"] < 10 ** 12:
        found.append("_aws.Timestamp is not milliseconds")
    directives = aws.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        return found + ["_aws.CloudWatchMetrics is not a list of directives"]
    for directive in directives:
        namespace = directive.get("Namespace")
        if not isinstance(namespace, str) or not 1 <= len(namespace) <= 255:
            found.append("a Namespace is not 1-255 characters")
        for dimension_set in directive.get("Dimensions") or [None]:
            if not isinstance(dimension_set, list) or len(dimension_set) > 30:
                found.append("a dimension set is not a list of at most 30 names")
                continue
            for name in dimension_set:
                value = line.get(name)
                if not isinstance(value, str):
                    found.append(f"dimension {name} is not a string member")
                elif name not in DIMENSIONS:
                    found.append(f"dimension {name} is not one of the known ones")
                elif any(shape.search(value) for shape in ID_SHAPES):
                    found.append(f"dimension {name} carries an id-like value {value!r}")
        metrics = directive.get("Metrics")
        if not isinstance(metrics, list) or not 1 <= len(metrics) <= 100:
            found.append("a directive has no Metrics, or more than 100")
            continue
        for metric in metrics:
            name = metric.get("Name")
            if metric.get("Unit", "None") not in UNITS:
                found.append(f"metric {name} has unit {metric.get('Unit')}")
            value = line.get(name)
            values = value if isinstance(value, list) else [value]
            if not 1 <= len(values) <= 100 or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                found.append(f"metric {name} has no numeric value")
    return found


def main():
    run = pathlib.Path(os.environ["STACK_DIR"])
    checked, failures = 0, []
    for log in sorted((run / "logs").glob("*.log")):
        for number, text in enumerate(log.read_text(errors="replace").splitlines(), 1):
            if '"_aws"' not in text:
                continue
            start = text.find("{")
            try:
                line = json.loads(text[start:])
            except ValueError:
                failures.append(f"{log.name}:{number}: a metric line that is not one JSON object")
                continue
            checked += 1
            failures += [f"{log.name}:{number}: {p}" for p in problems(line)]
    if checked == 0:
        print("check_metrics: no metric line was logged", file=sys.stderr)
        sys.exit(1)
    if failures:
        print("\n".join(failures[:20]), file=sys.stderr)
        sys.exit(1)
    print(f"check_metrics: {checked} metric lines, each valid EMF without an id in a dimension")


if __name__ == "__main__":
    main()
