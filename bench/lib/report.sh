# Shared helpers of the bench/ scripts (sourced after scripts/lib.sh; bench/lib/posting.sh sources it too): the
# hygiene #16 asks of every benchmark and the arithmetic of its report.

# The settings of a quiet benchmark cluster: no audit seal or sign-in flush
# from the job workers' housekeeping during the measurement, no JIT noise.
BENCH_QUIET_CONF=("pgerp.housekeeping_interval = 0")

# bench_quiet: unschedule every pg_cron job of the cluster (the scripts no
# longer schedule any, but a bench must not depend on that).
bench_quiet() {
    pg -tAc "SELECT count(cron.unschedule(jobid)) FROM cron.job" >/dev/null 2>&1 || true
}

# median N...: the median of the numbers given.
median() {
    printf '%s\n' "$@" | sort -g |
        awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# growth N1 T1 N2 T2: the exponent k of T = c N^k through both points.
growth() { awk -v n1="$1" -v t1="$2" -v n2="$3" -v t2="$4" 'BEGIN { printf "%.2f", log(t2 / t1) / log(n2 / n1) }'; }

# ratio A B: A / B to two decimals, unrounded beyond them (truncated), so a
# ratio just short of a goal never prints as the goal.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { r = a / b; printf "%.2f", int(r * 100) / 100 }'; }

# ms_of SQL: psql's \timing of one statement, in ms.
ms_of() {
    { echo '\timing on'; echo "$1"; } | pg -o /dev/null 2>&1 | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
}

# ms_runs N SQL: N timings of one statement (ms_of each), space-separated,
# after one untimed warm-up run.
ms_runs() {
    ms_of "$2" >/dev/null
    for _ in $(seq "$1"); do ms_of "$2"; done | tr '\n' ' ' | sed 's/ $//'
}

# runs_fmt FORMAT N...: every run in FORMAT (e.g. %.0f), space-separated, for
# the "(all runs)" beside a median.
runs_fmt() {
    local f=$1
    shift
    awk -v f="$f" 'BEGIN { for (i = 1; i < ARGC; i++) printf (i > 1 ? " " : "") f, ARGV[i] }' "$@"
}
