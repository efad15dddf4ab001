# A private apt configuration for the Debian release the images are built from, independent of
# the host's own sources: it resolves the package set of each image (the cache key), downloads
# the .debs once, and lends its lists and debs to the builds. Sourced, not executed.
# Needs: seed_cache (the cache directory), seed_mirror, seed_security_mirror, seed_suite.

apt_root() { printf '%s/apt' "$seed_cache"; }

apt_sources() {
  local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
  printf 'deb [signed-by=%s] %s %s main\n' "$keyring" "$seed_mirror" "$seed_suite"
  printf 'deb [signed-by=%s] %s %s-updates main\n' "$keyring" "$seed_mirror" "$seed_suite"
  printf 'deb [signed-by=%s] %s %s-security main\n' "$keyring" "$seed_security_mirror" "$seed_suite"
}

apt_setup() {
  local root
  root=$(apt_root)
  [[ -r /usr/share/keyrings/debian-archive-keyring.gpg ]] || die "Debian's archive keyring is missing (apt-get install debian-archive-keyring)"
  mkdir -p "$root"/etc/{apt.conf.d,preferences.d,sources.list.d,trusted.gpg.d} "$root"/state/lists/partial "$root"/cache/archives/partial "$root"/debs
  : >>"$root/state/status"
  apt_sources >"$root/etc/sources.list"
  cat >"$root/etc/apt.conf" <<CONF
Dir::Etc "$root/etc";
Dir::Etc::sourcelist "sources.list";
Dir::Etc::sourceparts "sources.list.d";
Dir::Etc::parts "apt.conf.d";
Dir::Etc::preferences "preferences";
Dir::Etc::preferencesparts "preferences.d";
Dir::Etc::trusted "trusted.gpg";
Dir::Etc::trustedparts "trusted.gpg.d";
Dir::State "$root/state";
Dir::State::status "$root/state/status";
Dir::Cache "$root/cache";
Dir::Log "$root/log";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Install-Recommends "false";
APT::Sandbox::User "root";
Acquire::Languages "none";
Acquire::Retries "3";
DPkg::Lock::Timeout "120";
CONF
}

apt_run() {
  APT_CONFIG="$(apt_root)/etc/apt.conf" "$@"
}

# Refreshes the package lists when missing, older than BERTH_SEED_APT_MAX_AGE seconds (default
# six hours), or when the sources changed.
apt_refresh() {
  local root stamp max_age=${BERTH_SEED_APT_MAX_AGE:-21600} sources_hash
  root=$(apt_root)
  stamp="$root/state/updated"
  sources_hash=$(sha256_hex <"$root/etc/sources.list")
  if [[ -f $stamp && $(cat "$stamp") == "$sources_hash" ]] && (($(date +%s) - $(stat -c %Y "$stamp") < max_age)); then
    return 0
  fi
  say "updating package lists from $seed_mirror"
  local log
  log=$(mktemp "${TMPDIR:-/tmp}/berth-seed-apt.XXXXXX")
  if ! apt_run apt-get -q update >"$log" 2>&1 || grep -q '^\(W\|E\): Failed to fetch' "$log"; then
    ((seed_quiet)) || grep -E '^(W|E):' "$log" | head -n 5 >&2
    rm -f "$log"
    die "cannot reach the Debian archive at $seed_mirror (apt-get update failed)"
  fi
  rm -f "$log"
  printf '%s' "$sources_hash" >"$stamp"
}

# The minbase package set (Essential: yes, Priority: required, apt; usr-is-merged as mmdebstrap
# picks it) plus the given packages, resolved against the lists: sorted "name=version" lines.
apt_resolve() {
  apt_resolve_only apt usr-is-merged '?or(?essential,?priority(required))' "$@"
}

# Only the given packages and their dependencies (for images without the Debian base).
apt_resolve_only() {
  local output
  output=$(apt_run apt-get -s -q install "$@" 2>&1) ||
    die "apt cannot resolve packages: $* ($(printf '%s\n' "$output" | grep -m1 '^E:' || printf 'see apt-get -s'))"
  printf '%s\n' "$output" | awk '$1 == "Inst" { version = $3; gsub(/^\(/, "", version); print $2 "=" version }' | LC_ALL=C sort
}

# Downloads the given name=version packages into the shared deb directory (skips those present).
apt_download() {
  local root spec name version file
  local -a wanted=()
  root=$(apt_root)
  for spec in "$@"; do
    name=${spec%%=*}
    version=${spec#*=}
    # Debian's file names escape ':' in epochs as %3a.
    file="$root/debs/${name}_${version//:/%3a}_"
    compgen -G "${file}*.deb" >/dev/null || wanted+=("$spec")
  done
  ((${#wanted[@]} == 0)) && return 0
  say "downloading ${#wanted[@]} packages"
  (cd "$root/debs" && run_logged "cannot download packages from the Debian archive" apt_run apt-get -q download "${wanted[@]}")
}

# Paths of the downloaded .debs of the given name=version packages.
apt_deb_files() {
  local root spec name version
  root=$(apt_root)
  for spec in "$@"; do
    name=${spec%%=*}
    version=${spec#*=}
    compgen -G "$root/debs/${name}_${version//:/%3a}_*.deb" | head -n 1
  done
}

# SOURCE_DATE_EPOCH of a package set: the newest build time among its .debs (dpkg-deb stamps the
# ar members with the package's own SOURCE_DATE_EPOCH, its changelog date). The first member's
# header holds it as decimal seconds at bytes 24..35 of the file.
apt_epoch() {
  local file newest=0 stamp
  while read -r file; do
    [[ -n $file ]] || continue
    stamp=$(head -c 36 "$file" | tail -c 12 | tr -d ' ')
    [[ $stamp =~ ^[0-9]+$ ]] || die "$file is not a Debian package"
    ((stamp > newest)) && newest=$stamp
  done < <(apt_deb_files "$@")
  printf '%s' "$newest"
}
