# Building one image into the cache: resolve its package set (the cache key), build the layer,
# write the OCI layout. Sourced, not executed.
#
# Cache layout (under $seed_cache):
#   apt/                        the private apt configuration, lists and downloaded .debs
#   images/<id>/<key>/layout/   the OCI image layout that `berth image load` reads
#   images/<id>/<key>/layer.tar.gz, diff-id, epoch, image-id, packages
#   images/debian/<key>/rootfs/ the base root filesystem, lower directory of derived builds
#   work/                       scratch space for builds (mount points live here)

# Memoized apt resolution: the same arguments against the same lists give the same answer.
resolve_cached() {
  local kind=$1 file
  shift
  mkdir -p "$(apt_root)/resolved"
  file="$(apt_root)/resolved/$(printf '%s\n' "$kind" "$@" | sha256_hex)"
  if [[ ! -s $file || $file -ot "$(apt_root)/state/updated" ]]; then
    "$kind" "$@" >"$file.tmp"
    mv "$file.tmp" "$file"
  fi
  cat "$file"
}

# The code that decides image content is part of every key: a change to it rebuilds. (Not the
# driver, messages or registry code, which do not change what an image holds.)
seed_code_hash() {
  cat "$seed_directory"/{apt.sh,rootfs.sh,images.sh,build.sh,oci-layout.mjs,slim.cfg} | sha256_hex
}

# What an image's content depends on, one line each; its hash is the cache key.
# Sets image_resolved (name=version lines of the whole package set) as a side effect.
image_key_material() {
  local id=$1
  image_load "$id"
  printf 'seed-images format %s\ncode %s\nimage %s %s:%s\nmirror %s %s %s\n' \
    "$seed_format" "$seed_code" "$id" "$image_name" "$image_tag" "$seed_mirror" "$seed_security_mirror" "$seed_suite"
  case $id in
    busybox) image_resolved=$(resolve_cached apt_resolve_only "${image_packages[@]}") ;;
    node20)
      image_resolved=$(resolve_cached apt_resolve)
      printf 'node %s %s\n' "$(sha256sum "$(node_host_binary)" | cut -d' ' -f1)" "$(node_host_version)"
      printf 'npm %s corepack %s\n' "$(node_host_module_version npm)" "$(node_host_module_version corepack)"
      ;;
    *) image_resolved=$(resolve_cached apt_resolve "${image_packages[@]}") ;;
  esac
  printf '%s\n' "$image_resolved"
}

# Prints the cache key of an image (its parent's key is part of it).
image_key() {
  local id=$1 material parent_key=''
  image_load "$id"
  if [[ -n $image_parent ]]; then
    parent_key=$(image_key "$image_parent")
    image_load "$id"
  fi
  material=$(image_key_material "$id")
  printf '%s\nparent %s\n' "$material" "$parent_key" | sha256_hex | cut -c1-32
}

image_cache_directory() {
  printf '%s/images/%s/%s' "$seed_cache" "$1" "$2"
}

image_cached() {
  [[ -f "$1/image-id" && -f "$1/layout/index.json" ]]
}

iso_date() {
  date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ
}

# Writes the OCI layout of an image from its layers (files + diff ids, bottom first).
# usage: write_layout DIR EPOCH PACKAGES-LABEL LAYER-FILE DIFF-ID CREATED-BY [LAYER-FILE DIFF-ID CREATED-BY]...
write_layout() {
  local directory=$1 epoch=$2 packages=$3 version='' spec
  shift 3
  if [[ -n $image_version_package ]]; then
    version=$(upstream_version "$(sed -n "s/^$image_version_package=//p" <<<"$image_resolved")")
  fi
  [[ $image_tag == 20-* && $image_name == node ]] && version=$(node_host_version)
  spec="$directory/spec.json"
  SPEC_NAME=$image_name SPEC_TAG=$image_tag SPEC_CREATED=$(iso_date "$epoch") SPEC_CONFIG=$image_config \
    SPEC_DESCRIPTION=$image_description SPEC_PACKAGES=$packages SPEC_VERSION=$version SPEC_PARENT=$image_parent SPEC_SUITE=$seed_suite \
    node -e '
      const [, ...rest] = process.argv;
      const layers = [];
      for (let i = 0; i < rest.length; i += 3) layers.push({ file: rest[i], diffId: rest[i + 1], createdBy: rest[i + 2] });
      const env = process.env;
      const labels = {
        "org.opencontainers.image.description": env.SPEC_DESCRIPTION,
        ...(env.SPEC_VERSION ? { "org.opencontainers.image.version": env.SPEC_VERSION } : {}),
        ...(env.SPEC_PARENT === "debian" ? { "org.opencontainers.image.base.name": `docker.io/library/debian:${env.SPEC_SUITE}-slim` } : {}),
        "berth.seed.builder": "berth scripts/seed-images (Debian packages, no registry)",
        "berth.seed.packages": env.SPEC_PACKAGES,
      };
      const spec = { name: env.SPEC_NAME, tag: env.SPEC_TAG, created: env.SPEC_CREATED, layers, config: JSON.parse(env.SPEC_CONFIG), labels };
      process.stdout.write(JSON.stringify(spec, null, 2));
    ' -- "$@" >"$spec"
  node "$seed_directory/oci-layout.mjs" "$spec" "$directory/layout" | cut -d' ' -f1 >"$directory/image-id"
}

# name=version of the packages installed in a root (what the image really holds).
installed_packages() {
  chroot "$1" dpkg-query -W -f '${Package}=${Version}\n' | LC_ALL=C sort
}

# The packages of a layer: installed above minus installed below, as one space-separated line.
added_packages() {
  LC_ALL=C comm -13 "$1" "$2" | tr '\n' ' ' | sed 's/ $//'
}

build_debian() {
  local directory=$1 epoch
  local -a packages
  mapfile -t packages <<<"$image_resolved"
  apt_download "${packages[@]}"
  epoch=$(apt_epoch "${packages[@]}")
  say "building debian:$image_tag (mmdebstrap --variant=minbase $seed_suite)"
  rootfs_build_base "$directory/rootfs" "$epoch"
  installed_packages "$directory/rootfs" >"$directory/packages"
  printf '%s' "$epoch" >"$directory/epoch"
  layer_pack "$directory/rootfs" "$epoch" "$directory/layer.tar.gz" >"$directory/diff-id"
  write_layout "$directory" "$epoch" "$(tr '\n' ' ' <"$directory/packages" | sed 's/ $//')" \
    "$directory/layer.tar.gz" "$(cat "$directory/diff-id")" "$image_created_by"
}

build_busybox() {
  local directory=$1 epoch deb extract root applet
  local -a packages
  mapfile -t packages <<<"$image_resolved"
  apt_download "${packages[@]}"
  epoch=$(apt_epoch "${packages[@]}")
  deb=$(apt_deb_files "${packages[0]}")
  say "building busybox:$image_tag (Debian's busybox-static)"
  extract="$directory/extract"
  root="$directory/rootfs"
  rm -rf "$extract" "$root"
  dpkg-deb -x "$deb" "$extract"
  mkdir -p "$root"/{bin,etc,root,tmp,var/spool/mail,var/www,home,dev,proc,sys,usr/bin,usr/sbin,sbin}
  chmod 1777 "$root/tmp"
  chmod 0700 "$root/root"
  install -m 0755 "$extract/bin/busybox" "$root/bin/busybox"
  while read -r applet; do
    [[ $applet == bin/busybox || -e $root/$applet || -L $root/$applet ]] && continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -s /bin/busybox "$root/$applet"
  done < <("$root/bin/busybox" --list-full)
  printf 'root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/false\nbin:x:2:2:bin:/bin:/bin/false\nsys:x:3:3:sys:/dev:/bin/false\nsync:x:4:100:sync:/bin:/bin/sync\nmail:x:8:8:mail:/var/spool/mail:/bin/false\nwww-data:x:33:33:www-data:/var/www:/bin/false\noperator:x:37:37:Operator:/var:/bin/false\nnobody:x:65534:65534:nobody:/home:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\ntty:x:5:\ndisk:x:6:\nwheel:x:10:root\nmail:x:12:\nstaff:x:50:\nwww-data:x:33:\nusers:x:100:\nnogroup:x:65533:\nnobody:x:65534:\n' >"$root/etc/group"
  printf 'root:*::0:::::\nnobody:*::0:::::\n' >"$root/etc/shadow"
  chmod 0640 "$root/etc/shadow"
  mkdir -p "$root/usr/share/doc/busybox-static"
  cp "$extract/usr/share/doc/busybox-static/copyright" "$root/usr/share/doc/busybox-static/copyright"
  printf '%s' "$epoch" >"$directory/epoch"
  layer_pack "$root" "$epoch" "$directory/layer.tar.gz" >"$directory/diff-id"
  write_layout "$directory" "$epoch" "$(tr '\n' ' ' <<<"$image_resolved" | sed 's/ $//')" \
    "$directory/layer.tar.gz" "$(cat "$directory/diff-id")" "busybox-static $(upstream_version "${packages[0]#*=}"): /bin/busybox and its applet links"
  rm -rf "$extract" "$root"
}

# A layer of Debian packages on top of the base.
build_apt_layer() {
  local directory=$1 base=$2 epoch new_packages before
  local -a packages added
  mapfile -t packages <<<"$image_resolved"
  mapfile -t added < <(LC_ALL=C comm -13 "$base/packages" <(printf '%s\n' "$image_resolved"))
  ((${#added[@]} > 0)) && apt_download "${added[@]}"
  epoch=$(apt_epoch "${added[@]}")
  (($(cat "$base/epoch") > epoch)) && epoch=$(cat "$base/epoch")
  say "building $image_name:$image_tag (apt-get install ${image_packages[*]})"
  ensure_base_rootfs "$base"
  CUSTOMIZE_VALUE=$image_customize_value rootfs_install_layer "$base/rootfs" "$directory/upper" "$epoch" \
    "${image_customize_env:+export $image_customize_env=\"\$CUSTOMIZE_VALUE\";}$image_customize" "${image_packages[@]}"
  # The layer's packages, read from the dpkg database it carries.
  before="$base/packages"
  new_packages=$(added_packages "$before" <(dpkg-query --admindir="$directory/upper/var/lib/dpkg" -W -f '${Package}=${Version}\n' | LC_ALL=C sort))
  printf '%s' "$epoch" >"$directory/epoch"
  layer_pack "$directory/upper" "$epoch" "$directory/layer.tar.gz" >"$directory/diff-id"
  write_layout "$directory" "$epoch" "$new_packages" \
    "$(base_layer_file "$base")" "$(cat "$base/diff-id")" "$(image_load debian; printf '%s' "$image_created_by")" \
    "$directory/layer.tar.gz" "$(cat "$directory/diff-id")" "$image_created_by"
  rm -rf "$directory/upper"
}

# Node.js 20 from the build machine: layer 2 is the node user and the binary, layer 3 npm and corepack.
build_node20() {
  local directory=$1 base=$2 epoch binary modules plain
  binary=$(node_host_binary)
  modules="$(dirname "$(dirname "$binary")")/lib/node_modules"
  epoch=$(stat -c %Y "$binary")
  (($(cat "$base/epoch") > epoch)) && epoch=$(cat "$base/epoch")
  say "building $image_name:$image_tag (this machine's node $(node_host_version))"
  ensure_base_rootfs "$base"
  CUSTOMIZE_VALUE=$seed_node_entrypoint BINARY=$binary rootfs_install_layer "$base/rootfs" "$directory/upper" "$epoch" \
    "export ENTRYPOINT=\"\$CUSTOMIZE_VALUE\"; $seed_node_user"$'\ninstall -m 0755 "$BINARY" "$1/usr/local/bin/node"'
  layer_pack "$directory/upper" "$epoch" "$directory/layer.tar.gz" >"$directory/diff-id"
  plain="$directory/npm"
  rm -rf "$plain"
  mkdir -p "$plain/usr/local/lib/node_modules" "$plain/usr/local/bin"
  local module
  for module in npm corepack; do
    [[ -d $modules/$module ]] && cp -a "$modules/$module" "$plain/usr/local/lib/node_modules/"
  done
  chown -R 0:0 "$plain"
  [[ -d $plain/usr/local/lib/node_modules/npm ]] && ln -s ../lib/node_modules/npm/bin/npm-cli.js "$plain/usr/local/bin/npm" &&
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$plain/usr/local/bin/npx"
  [[ -d $plain/usr/local/lib/node_modules/corepack ]] && ln -s ../lib/node_modules/corepack/dist/corepack.js "$plain/usr/local/bin/corepack"
  layer_pack "$plain" "$epoch" "$directory/npm.tar.gz" >"$directory/npm-diff-id"
  printf '%s' "$epoch" >"$directory/epoch"
  write_layout "$directory" "$epoch" "nodejs=$(node_host_version) npm=$(node_host_module_version npm) corepack=$(node_host_module_version corepack)" \
    "$(base_layer_file "$base")" "$(cat "$base/diff-id")" "$(image_load debian; printf '%s' "$image_created_by")" \
    "$directory/layer.tar.gz" "$(cat "$directory/diff-id")" "groupadd/useradd node (1000); COPY $binary /usr/local/bin/node" \
    "$directory/npm.tar.gz" "$(cat "$directory/npm-diff-id")" "COPY $modules/{npm,corepack} /usr/local/lib/node_modules/"
  rm -rf "$directory/upper" "$plain"
}

base_layer_file() {
  printf '%s/layer.tar.gz' "$1"
}

# The base root filesystem is kept next to its layer; if it went missing, unpack the layer again.
ensure_base_rootfs() {
  local base=$1
  [[ -d $base/rootfs/usr ]] && return 0
  rm -rf "$base/rootfs"
  mkdir -p "$base/rootfs"
  tar -xzf "$(base_layer_file "$base")" -C "$base/rootfs" --numeric-owner --same-permissions --xattrs --xattrs-include='*'
}

# Builds one image into its cache directory (under a temporary name, renamed when complete).
build_image() {
  local id=$1 key=$2 directory staging base='' started
  started=$(date +%s)
  directory=$(image_cache_directory "$id" "$key")
  image_load "$id"
  image_key_material "$id" >/dev/null # sets image_resolved
  if [[ -n $image_parent ]]; then
    base=$(image_cache_directory "$image_parent" "$(image_key "$image_parent")")
    image_cached "$base" || die "the $image_parent base is not built (internal error)"
    image_load "$id"
    image_key_material "$id" >/dev/null
  fi
  staging="$directory.partial"
  rm -rf "$staging"
  mkdir -p "$staging" "$seed_cache/work"
  push_cleanup "unmount_below $(printf %q "$staging"); rm -rf $(printf %q "$staging")"
  case $id in
    debian) build_debian "$staging" ;;
    busybox) build_busybox "$staging" ;;
    node20) build_node20 "$staging" "$base" ;;
    *) build_apt_layer "$staging" "$base" ;;
  esac
  rm -f "$staging/spec.json"
  rm -rf "$directory"
  mv "$staging" "$directory"
  pop_cleanup
  # Older builds of the same image are superseded.
  find "$seed_cache/images/$id" -mindepth 1 -maxdepth 1 ! -name "$key" -exec rm -rf {} +
  say "built $image_name:$image_tag in $(($(date +%s) - started)) s"
}
