# --registry: a local registry (Debian's docker-registry, the CNCF distribution server) on a
# loopback address, with berth's own configuration (no auth, its own storage), started in the
# background so that it outlives the script, and stopped by its pid file only. Sourced.

registry_root() { printf '%s' "${BERTH_SEED_REGISTRY_ROOT:-/var/lib/berth-registry}"; }
registry_pid_file() { printf '%s/registry-%s.pid' "$(registry_root)" "${1//:/-}"; }
registry_config_file() { printf '%s/config-%s.yml' "$(registry_root)" "${1//:/-}"; }

registry_answers() {
  curl -fsS -o /dev/null --max-time 2 --noproxy '*' "http://$1/v2/" 2>/dev/null
}

# Only loopback addresses: this script never talks to anything else.
registry_check_address() {
  local address=$1 host
  [[ $address =~ ^([^:]+):([0-9]+)$ ]] || die "--registry wants HOST:PORT, got '$address'"
  host=${BASH_REMATCH[1]}
  [[ $host == 127.* || $host == localhost ]] || die "--registry serves on a loopback address only (127.0.0.0/8 or localhost), got '$host'"
}

registry_start() {
  local address=$1 root config pid_file log pid waited=0
  if registry_answers "$address"; then
    say "a registry already answers at http://$address/v2/"
    return 0
  fi
  command -v docker-registry >/dev/null || die "docker-registry is not installed (apt-get install docker-registry, or scripts/install-deps.sh)"
  root=$(registry_root)
  config=$(registry_config_file "$address")
  pid_file=$(registry_pid_file "$address")
  log="$root/registry-${address//:/-}.log"
  mkdir -p "$root/storage"
  cat >"$config" <<CONF
# berth's local registry (scripts/seed-images --registry): no authentication, loopback only.
version: 0.1
log:
  level: warn
  fields:
    service: berth-registry
storage:
  filesystem:
    rootdirectory: $root/storage
  delete:
    enabled: true
http:
  addr: $address
  headers:
    X-Content-Type-Options: [nosniff]
CONF
  # A session of its own, no inherited descriptors (the cache lock), so it survives this script.
  setsid docker-registry serve "$config" </dev/null >>"$log" 2>&1 9>&- &
  pid=$!
  printf '%s\n' "$pid" >"$pid_file"
  until registry_answers "$address"; do
    if ! kill -0 "$pid" 2>/dev/null || ((waited >= 100)); then
      kill "$pid" 2>/dev/null || true
      rm -f "$pid_file"
      die "docker-registry did not start on $address ($(tail -n 1 "$log" 2>/dev/null))"
    fi
    sleep 0.1
    waited=$((waited + 1))
  done
  say "started docker-registry on http://$address (pid $pid, storage $root/storage)"
}

# Stops the registries this script started, by their pid files (never by name).
registry_stop() {
  local pid_file pid config stopped=0 waited
  shopt -s nullglob
  for pid_file in "$(registry_root)"/registry-*.pid; do
    pid=$(cat "$pid_file")
    config="$(registry_root)/config-$(basename "$pid_file" .pid | sed 's/^registry-//').yml"
    if [[ $pid =~ ^[0-9]+$ ]] && [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$config"; then
      kill -TERM "$pid"
      waited=0
      while kill -0 "$pid" 2>/dev/null && ((waited < 50)); do
        sleep 0.1
        waited=$((waited + 1))
      done
      kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
      say "stopped docker-registry (pid $pid)"
      stopped=$((stopped + 1))
    fi
    rm -f "$pid_file"
  done
  shopt -u nullglob
  ((stopped > 0)) || say "no registry started by seed-images is running"
}

# Pushes a cached image to the registry under its ordinary name (HOST:PORT/library/NAME:TAG).
registry_push() {
  local address=$1 layout=$2 name=$3 tag=$4 target
  target="$address/library/$name:$tag"
  if berth_has_push; then
    # Pushed under its registry name, as `docker tag` + `docker push` do; the extra tag goes after.
    run_logged "berth image tag $name:$tag $target failed" "$berth_bin" image tag "$name:$tag" "$target"
    run_logged "berth image push $target failed" "$berth_bin" image push "$target"
    "$berth_bin" image rm "$target" >/dev/null 2>&1 || true
  else
    # TODO(issue 6): switch to `bin/berth image push` once it exists (berth_has_push picks it up
    # then; the image is tagged HOST:PORT/library/NAME:TAG in the store first).
    command -v skopeo >/dev/null || die "skopeo is not installed (apt-get install skopeo, or scripts/install-deps.sh)"
    run_logged "skopeo copy to $target failed" \
      skopeo --insecure-policy copy --quiet --preserve-digests --dest-tls-verify=false "oci:$layout:$tag" "docker://$target"
  fi
  say "pushed $target"
}

# `bin/berth image push` when this build of berth has it (BERTH_SEED_PUSH=skopeo|berth forces one).
berth_has_push() {
  if [[ -z ${seed_berth_push:-} ]]; then
    case ${BERTH_SEED_PUSH:-} in
      berth) seed_berth_push=yes ;;
      skopeo) seed_berth_push=no ;;
      *) if "$berth_bin" image push --help 2>/dev/null | grep -q '^Usage: berth image push'; then seed_berth_push=yes; else seed_berth_push=no; fi ;;
    esac
  fi
  [[ $seed_berth_push == yes ]]
}

# Adds http://HOST:PORT as berth's first mirror for docker.io, keeping everything else in the file.
registry_configure_mirror() {
  local address=$1 file=${BERTH_REGISTRY_CONFIG:-/etc/berth/registries.json}
  mkdir -p "$(dirname "$file")"
  MIRROR_FILE=$file MIRROR_URL="http://$address" node -e '
    const fs = require("fs");
    const file = process.env.MIRROR_FILE, url = process.env.MIRROR_URL;
    let config = {};
    try { config = JSON.parse(fs.readFileSync(file, "utf8")); } catch (error) {
      if (error.code !== "ENOENT") { console.error(`seed-images: error: ${file} is not valid JSON (${error.message})`); process.exit(1); }
    }
    if (typeof config !== "object" || config === null || Array.isArray(config)) config = {};
    const mirrors = typeof config.mirrors === "object" && config.mirrors !== null ? config.mirrors : {};
    const list = Array.isArray(mirrors["docker.io"]) ? mirrors["docker.io"] : [];
    mirrors["docker.io"] = [url, ...list.filter((entry) => entry !== url)];
    const merged = { ...config, mirrors, insecure: Array.isArray(config.insecure) ? config.insecure : [] };
    const temporary = `${file}.tmp-${process.pid}`;
    fs.writeFileSync(temporary, JSON.stringify(merged, null, 2) + "\n");
    fs.renameSync(temporary, file);
  '
  say "berth pulls docker.io images through http://$address first ($file)"
}
