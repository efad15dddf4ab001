# Shared by scripts/seed-images and its helpers: messages, failure, and a cleanup stack that
# runs (in reverse order) on every exit, so no mount or temporary directory outlives the script.
# Sourced, not executed.

seed_quiet=${seed_quiet:-0}

# One progress line on stderr (suppressed by -q).
say() {
  ((seed_quiet)) || printf 'seed-images: %s\n' "$*" >&2
}

# One line on stderr and exit 1. Cleanup handlers still run (EXIT trap).
die() {
  printf 'seed-images: error: %s\n' "$*" >&2
  exit 1
}

# Run a command quietly; on failure print its captured output and die with a one-line reason.
# usage: run_logged "what failed" command args...
run_logged() {
  local what=$1 log status=0
  shift
  log=$(mktemp "${TMPDIR:-/tmp}/berth-seed-log.XXXXXX")
  "$@" >"$log" 2>&1 || status=$?
  if ((status != 0)); then
    ((seed_quiet)) || tail -n 40 "$log" >&2
    rm -f "$log"
    die "$what (exit $status)"
  fi
  rm -f "$log"
}

# The cleanup stack: push a command string; run_cleanup pops and runs all of them.
declare -a seed_cleanup_stack=()

push_cleanup() {
  seed_cleanup_stack+=("$1")
}

# Pops the most recent handler without running it (the step it guarded already undid itself).
pop_cleanup() {
  local last=$((${#seed_cleanup_stack[@]} - 1))
  ((last >= 0)) && unset "seed_cleanup_stack[$last]"
  seed_cleanup_stack=("${seed_cleanup_stack[@]}")
}

run_cleanup() {
  local index
  for ((index = ${#seed_cleanup_stack[@]} - 1; index >= 0; index--)); do
    eval "${seed_cleanup_stack[$index]}" || true
  done
  seed_cleanup_stack=()
}

# Unmounts every mount point at or below a directory, deepest first (lazy as a last resort).
unmount_below() {
  local directory=$1 mount_point
  [[ -n $directory ]] || return 0
  directory=$(realpath -m "$directory")
  while read -r mount_point; do
    umount "$mount_point" 2>/dev/null || umount -l "$mount_point" 2>/dev/null || true
  done < <(awk -v root="$directory" '{ gsub(/\\040/, " ", $5); if ($5 == root || index($5, root "/") == 1) print $5 }' /proc/self/mountinfo | sort -r)
}

# True when something is mounted at or below a directory.
mounted_below() {
  local directory
  directory=$(realpath -m "$1")
  awk -v root="$directory" '{ gsub(/\\040/, " ", $5); if ($5 == root || index($5, root "/") == 1) found = 1 } END { exit !found }' /proc/self/mountinfo
}

# sha256 of stdin, hex only.
sha256_hex() {
  sha256sum | cut -d' ' -f1
}
