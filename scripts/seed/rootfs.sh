# Root filesystems and layers: the Debian base by mmdebstrap, derived layers by apt inside an
# overlay mount on top of the base (the upper directory becomes the layer), and reproducible layer
# tarballs. Sourced, not executed. Every mount goes on the cleanup stack the moment it is made.

seed_directory=${seed_directory:-$(dirname "${BASH_SOURCE[0]}")}

# Deletes what the slim dpkg configuration (slim.cfg) excludes, for files that were unpacked before
# it applied (mmdebstrap extracts the Essential set directly), as debuerreotype's slimify does.
rootfs_slimify() {
  local root=$1 pattern path
  local -a excludes=() includes=()
  while read -r kind pattern; do
    case $kind in
      path-exclude) excludes+=("$pattern") ;;
      path-include) includes+=("$pattern") ;;
    esac
  done <"$seed_directory/slim.cfg"
  for pattern in "${excludes[@]}"; do
    while IFS= read -r -d '' path; do
      local keep=0 include
      for include in "${includes[@]}"; do
        # shellcheck disable=SC2053 # the pattern is a glob on purpose
        [[ /${path#"$root"/} == $include ]] && keep=1
      done
      ((keep)) || rm -f "$path"
    done < <(find "$root" -path "$root${pattern}" ! -type d -print0)
    # Then the directories the deletions emptied (not the pattern's own parent).
    find "$root${pattern%/*}" -mindepth 1 -depth -type d -empty -delete 2>/dev/null || true
  done
}

# Files that record when or where a build ran, not what it installed.
rootfs_forget_build() {
  local root=$1
  rm -f "$root"/var/log/dpkg.log "$root"/var/log/alternatives.log "$root"/var/log/apt/{history.log,term.log,eipp.log.xz} \
    "$root"/var/cache/ldconfig/aux-cache "$root"/var/cache/apt/{pkgcache.bin,srcpkgcache.bin} \
    "$root"/var/cache/debconf/{config.dat-old,templates.dat-old,passwords.dat-old} "$root"/var/lib/dpkg/{status-old,diversions-old,statoverride-old} \
    "$root"/usr/sbin/policy-rc.d
  find "$root"/var/lib/apt/lists "$root"/var/cache/apt/archives -mindepth 1 \( ! -type d -o -name partial \) -prune -exec rm -rf {} + 2>/dev/null || true
  find "$root"/tmp "$root"/run "$root"/var/tmp -mindepth 1 -maxdepth 1 -exec rm -rf {} + 2>/dev/null || true
}

# debian:bookworm-slim's root filesystem: mmdebstrap --variant=minbase with the slim dpkg
# excludes, from the already downloaded .debs (no second download).
# usage: rootfs_build_base DIR EPOCH
rootfs_build_base() {
  local root=$1 epoch=$2 debs
  debs="$(apt_root)/debs"
  rm -rf "$root"
  mkdir -p "$(dirname "$root")"
  push_cleanup "unmount_below $(printf %q "$root")"
  run_logged "mmdebstrap failed to build the $seed_suite base" \
    env SOURCE_DATE_EPOCH="$epoch" mmdebstrap --mode=root --variant=minbase --format=directory \
    --aptopt='Acquire::Languages "none"' --dpkgopt="$seed_directory/slim.cfg" \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr --skip=essential/unlink \
    --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
    --setup-hook="sync-in $debs /var/cache/apt/archives/" \
    "$seed_suite" "$root" \
    "deb $seed_mirror $seed_suite main" "deb $seed_mirror $seed_suite-updates main" "deb $seed_security_mirror $seed_suite-security main"
  mounted_below "$root" && die "mmdebstrap left mounts below $root"
  rootfs_slimify "$root"
  rootfs_forget_build "$root"
  # The runtime provides /dev, /etc/hostname and /etc/resolv.conf; the image holds no device nodes
  # and empty files, as Docker's debian images do.
  find "$root/dev" -mindepth 1 -delete
  : >"$root/etc/hostname"
  : >"$root/etc/resolv.conf"
}

# Mounts an overlay of LOWER (colon-separated, top first) with UPPER into MERGED, plus what apt
# needs inside: /proc, a minimal /dev, and the private apt lists and .debs.
rootfs_mount_build() {
  local lower=$1 upper=$2 work=$3 merged=$4 node
  mkdir -p "$upper" "$work" "$merged"
  push_cleanup "unmount_below $(printf %q "$merged")"
  mount -t overlay berth-seed -o "lowerdir=$lower,upperdir=$upper,workdir=$work,metacopy=off,redirect_dir=off,index=off" "$merged" ||
    die "cannot mount an overlay at $merged"
  mount -t proc proc "$merged/proc"
  mount -t tmpfs -o mode=0755,nosuid berth-seed-dev "$merged/dev"
  for node in null zero full random urandom tty; do
    touch "$merged/dev/$node"
    mount --bind "/dev/$node" "$merged/dev/$node"
  done
  mkdir -p "$merged/dev/pts" "$merged/dev/shm"
  ln -s /proc/self/fd "$merged/dev/fd"
  mount --bind "$(apt_root)/state/lists" "$merged/var/lib/apt/lists"
  mount --bind "$(apt_root)/debs" "$merged/var/cache/apt/archives"
}

# Runs a command inside the build root with a clean environment.
rootfs_chroot() {
  local merged=$1 epoch=$2
  shift 2
  chroot "$merged" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true SOURCE_DATE_EPOCH="$epoch" "$@"
}

# Installs Debian packages on top of LOWER; the changes land in UPPER (whiteouts converted), which
# then holds exactly the layer. A shell snippet (customize) runs afterwards with $1 = the merged root.
# usage: rootfs_install_layer LOWER UPPER EPOCH CUSTOMIZE PACKAGE...
rootfs_install_layer() {
  local lower=$1 upper=$2 epoch=$3 customize=$4 build merged
  shift 4
  build=$(mktemp -d "$seed_cache/work/build.XXXXXX")
  merged="$build/merged"
  push_cleanup "unmount_below $(printf %q "$merged"); rm -rf $(printf %q "$build")"
  rm -rf "$upper"
  rootfs_mount_build "$lower" "$upper" "$build/work" "$merged"
  printf '#!/bin/sh\n# No services start while images are built.\nexit 101\n' >"$merged/usr/sbin/policy-rc.d"
  chmod 0755 "$merged/usr/sbin/policy-rc.d"
  run_logged "apt-get install $* failed in the build root" \
    rootfs_chroot "$merged" "$epoch" apt-get install -y -q --no-install-recommends -o APT::Sandbox::User=root -o Dpkg::Use-Pty=0 "$@"
  if [[ -n $customize ]]; then
    run_logged "customizing the image failed" bash -euo pipefail -c "$customize" customize "$merged" "$epoch"
  fi
  unmount_below "$merged"
  mounted_below "$merged" && die "cannot unmount $merged"
  rootfs_forget_build "$upper"
  layer_convert_whiteouts "$upper"
  rm -rf "$build"
  pop_cleanup
}

# Overlayfs marks deletions with 0:0 character devices and opaque directories with an xattr; an
# image layer marks them with .wh.<name> files and .wh..wh..opq (OCI image spec, "Whiteouts").
layer_convert_whiteouts() {
  local upper=$1 path
  while IFS= read -r -d '' path; do
    if [[ $(stat -c '%t:%T' "$path") == 0:0 ]]; then
      rm -f "$path"
      : >"$(dirname "$path")/.wh.$(basename "$path")"
    fi
  done < <(find "$upper" -type c -print0)
  while IFS= read -r -d '' path; do
    if [[ $(getfattr --only-values -n trusted.overlay.opaque "$path" 2>/dev/null) == y ]]; then
      : >"$path/.wh..wh..opq"
    fi
  done < <(find "$upper" -type d -print0)
}

# A reproducible layer: sorted names, numeric owners, every mtime at EPOCH, no access or change
# times, only file capabilities among the xattrs (never overlay's own), gzip without a name or time.
# Writes OUT (.tar.gz) and prints "DIFF_ID" (sha256 of the uncompressed tar).
# usage: layer_pack DIR EPOCH OUT
layer_pack() {
  local root=$1 epoch=$2 out=$3 tarfile diff_id
  tarfile="${out%.gz}"
  (
    cd "$root"
    find . -mindepth 1 -maxdepth 1 -printf '%P\n' | LC_ALL=C sort |
      LC_ALL=C tar --create --file=- --files-from=- --sort=name --numeric-owner --mtime="@$epoch" \
        --format=posix --pax-option='exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime' \
        --xattrs --xattrs-include='security.capability' --no-acls --no-selinux
  ) >"$tarfile"
  diff_id=$(sha256_hex <"$tarfile")
  gzip -n -6 -f "$tarfile"
  printf 'sha256:%s' "$diff_id"
}
