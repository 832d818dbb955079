#!/usr/bin/env bash
# The long fuzzing run (issue 17 item 7), in chunks that add up across sessions: each target runs
# in chunks of CHUNK seconds, continuing from fuzz/work/TARGET, until the CPU time it has had in
# total (fuzz/work/ledger, one line per chunk) reaches GOAL seconds. Run it again later and it
# carries on where it stopped. Targets run one at a time per slot, SLOTS slots at once. The unit
# timeout is 60 s, not 10: a fuzzer at nice 19 on a busy machine can wait seconds for a core.
#
#   bash fuzz/long-run.sh [TARGET...]        # all targets by default
#   BIN=dir  built targets (default: fuzz/target/x86_64-unknown-linux-gnu/release, after
#            `RUSTC_BOOTSTRAP=1 cargo fuzz build -s none`)
#   GOAL=3600 CHUNK=900 SLOTS=2 NICE=19
#
# To pause (for a benchmark): touch fuzz/work/PAUSE; pkill -INT -f "$BIN/" (the chunks stop, their
# CPU is counted, no new one starts); resume: rm fuzz/work/PAUSE. Do not SIGSTOP a fuzzer: the
# stopped time counts towards its unit's timeout, and a false "timeout" artifact follows.
set -u
cd "$(dirname "$0")/.."
BIN=${BIN:-fuzz/target/x86_64-unknown-linux-gnu/release}
GOAL=${GOAL:-3600} CHUNK=${CHUNK:-900} SLOTS=${SLOTS:-2} NICE=${NICE:-19}
LEDGER=fuzz/work/ledger
mkdir -p fuzz/work fuzz/artifacts
touch "$LEDGER"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(query_request json_request rest_request filter_policy event_pattern template store_record)

# CPU seconds target $1 has had so far.
spent() { awk -v t="$1" '$2 == t { s += $4 } END { printf "%d", s }' "$LEDGER"; }

run_slot() {
  local t
  for t in "$@"; do
    mkdir -p "fuzz/work/$t" "fuzz/artifacts/$t"
    while [ "$(spent "$t")" -lt "$GOAL" ]; do
      while [ -e fuzz/work/PAUSE ]; do sleep 5; done
      local log=fuzz/work/$t.log times before
      before=$(ls "fuzz/artifacts/$t" | wc -l)
      times=$(mktemp)
      nice -n "$NICE" /usr/bin/time -o "$times" -f "%U %S %e" "$BIN/$t" "fuzz/work/$t" "fuzz/corpus/$t" \
        -max_total_time="$CHUNK" -timeout=60 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix="fuzz/artifacts/$t/" -print_final_stats=1 > "$log" 2>&1
      local rc=$?
      read -r user sys wall < <(tail -1 "$times")
      rm -f "$times"
      local cpu execs cov
      cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%d", u + s }')
      execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
      cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
      # date target exit cpu_s wall_s executions coverage
      echo "$(date -u +%FT%TZ) $t $rc $cpu ${wall%.*} ${execs:-0} ${cov:-0}" >> "$LEDGER"
      # A crash, leak, OOM or timeout leaves its input in fuzz/artifacts/TARGET: stop that
      # target there (an interrupted chunk, exit 72 after SIGINT, just goes on).
      if [ "$(ls "fuzz/artifacts/$t" | wc -l)" -ne "$before" ]; then
        echo "$t: exit $rc with a new artifact, see $log and fuzz/artifacts/$t/" >&2
        break
      fi
    done
    echo "$t: $(spent "$t") s of CPU in total"
  done
}

# Deal the targets round-robin over the slots.
for ((s = 0; s < SLOTS; s++)); do
  mine=()
  for ((i = s; i < ${#targets[@]}; i += SLOTS)); do mine+=("${targets[i]}"); done
  [ ${#mine[@]} -gt 0 ] && run_slot "${mine[@]}" &
done
wait
awk '{ s[$2] += $4; n[$2] += $6 } END { for (t in s) printf "%-14s %6d s CPU %12d executions\n", t, s[t], n[t] }' "$LEDGER" | sort
