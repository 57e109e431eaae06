#!/usr/bin/env bash
# Runs one fuzz target for a bounded time on a fresh copy of its committed
# seed corpus, and fails on any finding with the input's path, a hex dump
# and the command that reproduces it. The committed corpus is only read.
#
# Usage: run_fuzzer.sh FUZZER SEED_DIR WORK_DIR SECONDS
#   WORK_DIR is emptied; it receives corpus/ (the seeds and what the run
#   adds), findings/, fuzz.log and summary (the line printed first).
set -euo pipefail

[ $# -eq 4 ] || { sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
fuzzer="$1" seeds="$2" work="$3" seconds="$4"
name="$(basename "$fuzzer")"

[ -n "$(ls -A "$seeds" 2>/dev/null)" ] || {
  echo "$name: no seed corpus in $seeds" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work/corpus" "$work/findings"
cp "$seeds"/* "$work/corpus/"
seed_count=$(find "$work/corpus" -type f | wc -l)

# The targets are built with -fno-sanitize-recover, so every UBSan report
# is a finding; this gives it a stack.
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
rc=0
start=$(date +%s)
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 -artifact_prefix="$work/findings/" \
  "$work/corpus" >"$work/fuzz.log" 2>&1 || rc=$?

stat() { sed -n "s/^stat::$1: *//p" "$work/fuzz.log" | tail -n 1; }
corpus_count=$(find "$work/corpus" -type f | wc -l)
echo "$name: $(stat number_of_executed_units) runs in" \
  "$(($(date +%s) - start)) s ($(stat average_exec_per_sec)/s)," \
  "corpus $seed_count -> $corpus_count inputs, exit $rc" | tee "$work/summary"

findings=$(find "$work/findings" -type f | sort)
if [ "$rc" -eq 0 ] && [ -z "$findings" ]; then exit 0; fi

# The report starts at the first sanitizer or invariant message; without
# one (a crash of libFuzzer itself), the log's end is the report.
echo "--- $name: FINDING ($work/fuzz.log):"
report=$(awk '/^fuzz invariant violated|^==[0-9]+== ?ERROR|runtime error:/ {
                found = 1 }
              found && !/^#[0-9]/ { print }' "$work/fuzz.log" | head -n 80)
if [ -n "$report" ]; then echo "$report"; else tail -n 40 "$work/fuzz.log"; fi
for f in $findings; do
  echo "--- input $f ($(wc -c <"$f") bytes):"
  od -A x -t x1z -v "$f" | head -n 32
  echo "reproduce: $fuzzer $f"
done
echo "--- a finding becomes a regression test: fix the code, add a unit test" \
  "beside it, and copy the input into $seeds/ (tests/README.md#fuzzing)."
exit 1
