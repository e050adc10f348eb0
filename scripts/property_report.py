"""入力の約束の報告: tests/test_properties.py と同じ生成を pytest の外で走らせ、数を数えて表示する。

    .venv/bin/python scripts/property_report.py              # CI と同じ数 (対象ごとに CI_EXAMPLES 個)
    .venv/bin/python scripts/property_report.py --examples 50  # もっと多く
    .venv/bin/python scripts/property_report.py --show 20      # 明確でなかった呼び出しを 20 件まで表示

表示: 対象の数、生成した呼び出しの数、不正な呼び出しのうち gen_lib 自身がパラメーターを名指しするエラーで
止めた割合、有効な入力での非有限な結果 (黙った NaN/inf)、そのほかの例外の型ごとの数、止まらない呼び出し。
1 回の呼び出しには時間の上限 (tests/property_checks.py の CALL_LIMIT_S) があり、超えれば止まらない呼び出しと数える。
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from property_checks import (CALL_LIMIT_S, CI_EXAMPLES, call_invalid, call_valid, discover_targets,  # noqa: E402
                             exponents, fuzzed_parameters, invalid_cases, scaled_parameters)
from property_registry import REGISTRY  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=CI_EXAMPLES, help="対象ごとの不正な値・有効な値の数")
    parser.add_argument("--show", type=int, default=10, help="明確でなかった呼び出しを何件まで表示するか")
    parser.add_argument("--only", default="", help="名前にこの文字列を含む対象だけ")
    args = parser.parse_args()
    os.environ["GEN_LIB_MODEL_CACHE"] = tempfile.mkdtemp(prefix="property-report-")

    start = time.perf_counter()
    targets = discover_targets()
    missing = sorted(set(targets) - set(REGISTRY))
    names = sorted(n for n in REGISTRY if n in targets and args.only in n)
    invalid_counts: collections.Counter = collections.Counter()
    valid_counts: collections.Counter = collections.Counter()
    other_types: collections.Counter = collections.Counter()
    problems: list[str] = []
    skipped_valid: list[str] = []
    n_parameters = 0
    profile = settings(derandomize=True, max_examples=args.examples, deadline=None, database=None,
                       suppress_health_check=list(HealthCheck))

    for name in names:
        entry = REGISTRY[name]
        strategy = invalid_cases(entry)
        n_parameters += len(fuzzed_parameters(entry))

        @profile
        @given(case=strategy)
        def run_invalid(case):
            parameter, invalid = case
            outcome = call_invalid(entry, parameter, invalid)
            invalid_counts[outcome.kind] += 1
            if outcome.kind == "other":
                other_types[outcome.detail.split(" ", 1)[0]] += 1
            if outcome.kind != "clear":
                problems.append(f"{name}({parameter}={invalid!r}) -> {outcome.kind}: {outcome.detail}")

        if fuzzed_parameters(entry):
            run_invalid()
        def record_valid(outcome, label: str) -> None:
            valid_counts[outcome.kind] += 1
            if outcome.kind not in ("finite", "refused"):
                problems.append(f"{name} valid ({label}) -> {outcome.kind}: {outcome.detail}")

        @profile
        @given(exponent=exponents())
        def run_valid(exponent):
            record_valid(call_valid(entry, 10.0 ** exponent), f"points x 1e{exponent}")

        if entry.run_valid:
            skipped_valid.append(name)
        elif scaled_parameters(entry, entry.make()[1]):
            run_valid()
        else:  # 学習・実験など: tests/test_properties.py と同じく 1 回
            record_valid(call_valid(entry), "as registered")

    n_invalid = sum(invalid_counts.values())
    n_valid = sum(valid_counts.values())
    share = 100.0 * invalid_counts["clear"] / n_invalid if n_invalid else 100.0
    print(f"targets (public functions, methods, experiments): {len(targets)}  "
          f"registered: {len(names)}  without registry entry: {len(missing)}")
    print(f"fuzzed parameters: {n_parameters}  valid-call targets: {len(names) - len(skipped_valid)} "
          f"(not run: {len(skipped_valid)}, see their registry reason)")
    print(f"generated calls: {n_invalid + n_valid} ({n_invalid} invalid, {n_valid} valid)")
    print(f"invalid calls with gen_lib's own error naming the parameter: {invalid_counts['clear']}/{n_invalid} "
          f"({share:.1f} %)")
    print(f"  accepted silently: {invalid_counts['accepted']}  other exceptions: {invalid_counts['other']}  "
          f"hangs (over {CALL_LIMIT_S:g} s): {invalid_counts['hang']}")
    for kind, count in other_types.most_common():
        print(f"    {kind} {count}")
    print(f"valid calls: finite {valid_counts['finite']}, refused with a named error {valid_counts['refused']}, "
          f"silent NaN/inf {valid_counts['nonfinite']}, other exceptions {valid_counts['other']}, "
          f"hangs {valid_counts['hang']}")
    print("seconds:", round(time.perf_counter() - start, 1))
    if missing:
        print("without registry entry:", ", ".join(missing))
    for line in problems[: args.show]:
        print("  -", line[:400])
    if len(problems) > args.show:
        print(f"  ... {len(problems) - args.show} more")
    return 0 if not problems and not missing else 1


if __name__ == "__main__":
    sys.exit(main())
