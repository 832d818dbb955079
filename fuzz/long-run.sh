#!/usr/bin/env bash
# The long fuzzing run (issue 17 item 7), in chunks that add up across sessions: each target runs
# in chunks of CHUNK seconds, continuing from fuzz/work/TARGET, until the CPU time it has had in
# total (fuzz/work/ledger, one line per chunk) reaches GOAL seconds. Run it again later and it
# carries on where it stopped. Targets run one at a time per slot, SLOTS slots at once.
#
# The ledger is committed (fuzz/ledger), so the CPU time adds up across machines; the scratch
# corpus (fuzz/work/TARGET, tens of MB) is not: `bash fuzz/long-run.sh --merge` reduces it with
# the seeds to a set cover of their coverage edges (a few hundred KB) and commits that as
# fuzz/carried/TARGET.tar.gz, which a later run unpacks into an empty fuzz/work/TARGET, so it
# starts from what this one reached.
#
# Priority: PRIORITY=idle (default) runs the fuzzers under SCHED_IDLE, so they take only CPU that
# nothing else wants; PRIORITY=NUMBER runs them at that nice value. A starved unit waits for a
# core in wall time, which libFuzzer's unit timeout counts, so the timeout is generous (TIMEOUT,
# 1200 s under idle, 60 s otherwise): a real hang still shows, a wait for a core does not.
#
#   bash fuzz/long-run.sh [TARGET...]        # all targets by default
#   bash fuzz/long-run.sh --merge [TARGET...]
#   BIN=dir  built targets (default: fuzz/target/x86_64-unknown-linux-gnu/release, after
#            `RUSTC_BOOTSTRAP=1 cargo fuzz build -s none`)
#   GOAL=3600 CHUNK=900 SLOTS=2 PRIORITY=idle TIMEOUT=1200
#
# To pause (for a benchmark): touch fuzz/work/PAUSE; pkill -INT -f "$BIN/" (the chunks stop, their
# CPU is counted, no new one starts); resume: rm fuzz/work/PAUSE. Do not SIGSTOP a fuzzer: the
# stopped time counts towards its unit's timeout, and a false "timeout" artifact follows.
set -u
cd "$(dirname "$0")/.."
BIN=${BIN:-fuzz/target/x86_64-unknown-linux-gnu/release}
GOAL=${GOAL:-3600} CHUNK=${CHUNK:-900} SLOTS=${SLOTS:-2} PRIORITY=${PRIORITY:-idle}
if [ "$PRIORITY" = idle ]; then
  TIMEOUT=${TIMEOUT:-1200}
  lowered=(chrt --idle 0)
else
  TIMEOUT=${TIMEOUT:-60}
  lowered=(nice -n "$PRIORITY")
fi
LEDGER=fuzz/ledger
mkdir -p fuzz/work fuzz/artifacts
touch "$LEDGER"
merge=0
[ "${1:-}" = --merge ] && { merge=1; shift; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(query_request json_request rest_request filter_policy event_pattern template store_record)

if [ $merge = 1 ]; then
  mkdir -p fuzz/carried
  for t in "${targets[@]}"; do
    [ -d "fuzz/work/$t" ] || continue
    cover=$(mktemp -d)
    if "$BIN/$t" -merge=1 -set_cover_merge=1 -use_counters=0 -use_value_profile=0 \
      -timeout="$TIMEOUT" -rss_limit_mb=2048 -max_len=65536 \
      "$cover" "fuzz/corpus/$t" "fuzz/work/$t" > "fuzz/work/$t.merge.log" 2>&1; then
      tar czf "fuzz/carried/$t.tar.gz" -C "$cover" .
      echo "$t: $(ls "$cover" | wc -l) inputs carried ($(du -h "fuzz/carried/$t.tar.gz" | cut -f1))"
    else
      echo "$t: merge failed, see fuzz/work/$t.merge.log" >&2
    fi
    rm -rf "$cover"
  done
  exit 0
fi

# CPU seconds target $1 has had so far.
spent() { awk -v t="$1" '$1 !~ /^#/ && $2 == t { s += $4 } END { printf "%d", s }' "$LEDGER"; }

# One chunk of target $1; returns non-zero when it left a new artifact.
run_chunk() {
  local t=$1 log=fuzz/work/$1.log times before rc user sys wall cpu execs cov
  mkdir -p "fuzz/work/$t" "fuzz/artifacts/$t"
  # A fresh machine starts from what the last merged run reached.
  if [ -z "$(ls -A "fuzz/work/$t")" ] && [ -f "fuzz/carried/$t.tar.gz" ]; then
    tar xzf "fuzz/carried/$t.tar.gz" -C "fuzz/work/$t"
  fi
  before=$(ls "fuzz/artifacts/$t" | wc -l)
  times=$(mktemp)
  "${lowered[@]}" /usr/bin/time -o "$times" -f "%U %S %e" "$BIN/$t" "fuzz/work/$t" "fuzz/corpus/$t" \
    -max_total_time="$CHUNK" -timeout="$TIMEOUT" -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 > "$log" 2>&1
  rc=$?
  read -r user sys wall < <(tail -1 "$times")
  rm -f "$times"
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%d", u + s }')
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
  echo "$(date -u +%FT%TZ) $t $rc $cpu ${wall%.*} ${execs:-0} ${cov:-0}" >> "$LEDGER"
  # A crash, leak, OOM or timeout leaves its input in fuzz/artifacts/TARGET (an interrupted
  # chunk, exit 72 after SIGINT, leaves none).
  if [ "$(ls "fuzz/artifacts/$t" | wc -l)" -ne "$before" ]; then
    echo "$t: exit $rc with a new artifact, see $log and fuzz/artifacts/$t/" >&2
    return 1
  fi
}

# A slot takes its targets in turn, one chunk each, so they advance together; a target that
# reached GOAL or left an artifact drops out.
run_slot() {
  local active=("$@") t next
  while [ ${#active[@]} -gt 0 ]; do
    next=()
    for t in "${active[@]}"; do
      [ "$(spent "$t")" -lt "$GOAL" ] || { echo "$t: $(spent "$t") s of CPU in total"; continue; }
      while [ -e fuzz/work/PAUSE ]; do sleep 5; done
      run_chunk "$t" && next+=("$t")
    done
    active=("${next[@]+"${next[@]}"}")
  done
}

# Deal the targets round-robin over the slots.
for ((s = 0; s < SLOTS; s++)); do
  mine=()
  for ((i = s; i < ${#targets[@]}; i += SLOTS)); do mine+=("${targets[i]}"); done
  [ ${#mine[@]} -gt 0 ] && run_slot "${mine[@]}" &
done
wait
awk '$1 !~ /^#/ { s[$2] += $4; n[$2] += $6 } END { for (t in s) printf "%-14s %6d s CPU %12d executions\n", t, s[t], n[t] }' "$LEDGER" | sort
