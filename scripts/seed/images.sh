# The images scripts/seed-images builds, as data: each `image_<id>` function sets the variables
# below. Tags say what is inside: the version Debian (or the build machine) actually ships.
# Sourced, not executed.
#
#   image_name image_tag   reference (docker.io/library/NAME:TAG)
#   image_parent           "debian" (one layer on top of the base) or "" (built from scratch)
#   image_packages         Debian packages the layer installs (array)
#   image_customize        shell run with $1 = the build root, $2 = SOURCE_DATE_EPOCH, after apt
#   image_config           the image config's "config" object, as JSON (Labels are added)
#   image_description      org.opencontainers.image.description
#   image_version_package  the package whose upstream version goes into the labels

seed_image_ids=(debian busybox redis node18 node20 nginx python)

image_reset() {
  image_name='' image_tag='' image_parent=debian image_customize='' image_config='' image_description='' image_version_package=''
  image_packages=()
  image_created_by=''
}

readonly seed_path_env='"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"'

image_debian() {
  image_name=debian image_tag="$seed_suite-slim" image_parent=''
  image_config='{"Env":['"$seed_path_env"'],"Cmd":["bash"]}'
  image_description="Debian $seed_suite, mmdebstrap --variant=minbase with the slim dpkg excludes of Debian's own images (no docs, man pages or locales; copyright files kept)"
  image_created_by="mmdebstrap --variant=minbase $seed_suite (slim)"
}

image_busybox() {
  image_name=busybox image_tag=1.35 image_parent=''
  image_packages=(busybox-static)
  image_version_package=busybox-static
  image_config='{"Env":['"$seed_path_env"'],"Cmd":["sh"]}'
  image_description="Debian's busybox-static (BusyBox 1.35.0): the static binary and its applet links, no Debian base"
}

# The official image's docker-entrypoint.sh, with util-linux's setpriv instead of gosu.
readonly seed_redis_entrypoint='#!/bin/sh
set -e
# first arg is `-f` or `--some-option`, or a .conf file
if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then
	set -- redis-server "$@"
fi
case "$2" in -v|--version|-h|--help) exec "$@" ;; esac
# allow the container to be started with `--user`
if [ "$1" = "redis-server" ] && [ "$(id -u)" = "0" ]; then
	find . \! -user redis -exec chown redis "{}" +
	exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
um="$(umask)"
if [ "$um" = "0022" ]; then
	umask 0077
fi
if [ "$1" = "redis-server" ]; then
	doProtectedMode=1
	configFile=
	if [ -f "$2" ]; then
		configFile="$2"
		if grep -q "^protected-mode" "$configFile"; then
			doProtectedMode=
		fi
	fi
	if [ "$doProtectedMode" ]; then
		shift
		if [ "$configFile" ]; then
			shift
		fi
		set -- --protected-mode no "$@"
		if [ "$configFile" ]; then
			set -- "$configFile" "$@"
		fi
		set -- redis-server "$@"
	fi
fi
exec "$@"
'

image_redis() {
  image_name=redis image_tag=7
  image_packages=(redis-server)
  image_version_package=redis-server
  # shellcheck disable=SC2016 # expanded by the customize shell
  image_customize='chroot "$1" install -d -o redis -g redis -m 0755 /data
printf "%s" "$ENTRYPOINT" > "$1/usr/local/bin/docker-entrypoint.sh"
chmod 0755 "$1/usr/local/bin/docker-entrypoint.sh"'
  image_customize_env=ENTRYPOINT
  image_customize_value=$seed_redis_entrypoint
  image_config='{"Env":['"$seed_path_env"'],"Entrypoint":["docker-entrypoint.sh"],"Cmd":["redis-server"],"WorkingDir":"/data","Volumes":{"/data":{}},"ExposedPorts":{"6379/tcp":{}}}'
  image_description="Debian's redis-server on debian:$seed_suite-slim; redis-server runs in the foreground on 0.0.0.0:6379 with protected mode off, as the official image does"
}

# The official node images' entrypoint: a first argument that is an option or not a command runs node.
readonly seed_node_entrypoint='#!/bin/sh
set -e
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
'

# shellcheck disable=SC2016 # expanded by the customize shell
readonly seed_node_user='chroot "$1" groupadd --gid 1000 node
chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
rm -f "$1/etc/passwd-" "$1/etc/group-" "$1/etc/shadow-" "$1/etc/gshadow-"
printf "%s" "$ENTRYPOINT" > "$1/usr/local/bin/docker-entrypoint.sh"
chmod 0755 "$1/usr/local/bin/docker-entrypoint.sh"'

image_node18() {
  image_name=node image_tag="18-$seed_suite-slim"
  image_packages=(nodejs)
  image_version_package=nodejs
  image_customize=$seed_node_user
  image_customize_env=ENTRYPOINT
  image_customize_value=$seed_node_entrypoint
  image_config='{"Env":['"$seed_path_env"'],"Entrypoint":["docker-entrypoint.sh"],"Cmd":["node"]}'
  image_description="Debian's nodejs (Node.js 18) on debian:$seed_suite-slim; Debian packages npm separately and it is not included"
}

# Node 20 from the machine's own node binary: the second layer holds it, the third npm and corepack.
image_node20() {
  image_name=node image_tag="20-$seed_suite-slim" image_parent=debian
  image_config='{"Env":['"$seed_path_env"'],"Entrypoint":["docker-entrypoint.sh"],"Cmd":["node"]}'
  image_description="Node.js $(node_host_version) built by NodeSource (the build machine's own $(node_host_binary)) on debian:$seed_suite-slim, with the machine's npm $(node_host_module_version npm) and corepack $(node_host_module_version corepack)"
}

image_nginx() {
  image_name=nginx image_tag=1.22
  image_packages=(nginx)
  image_version_package=nginx
  # shellcheck disable=SC2016 # expanded by the customize shell
  image_customize='ln -sf /dev/stdout "$1/var/log/nginx/access.log"
ln -sf /dev/stderr "$1/var/log/nginx/error.log"'
  image_config='{"Env":['"$seed_path_env"'],"Cmd":["nginx","-g","daemon off;"],"ExposedPorts":{"80/tcp":{}},"StopSignal":"SIGQUIT"}'
  image_description="Debian's nginx on debian:$seed_suite-slim with Debian's configuration (default site /var/www/html); logs go to stdout and stderr as in the official image"
}

image_python() {
  image_name=python image_tag="3.11-slim-$seed_suite"
  image_packages=(python3 python-is-python3)
  image_version_package=python3
  image_config='{"Env":['"$seed_path_env"',"LANG=C.UTF-8"],"Cmd":["python3"]}'
  image_description="Debian's python3 (Python 3.11) and python-is-python3 on debian:$seed_suite-slim"
}

# Loads the definition of an image id into the image_* variables.
image_load() {
  image_reset
  image_customize_env='' image_customize_value=''
  "image_$1"
  [[ -n $image_created_by ]] || image_created_by="apt-get install --no-install-recommends ${image_packages[*]}"
}

# The upstream version of a Debian version string: no epoch, no Debian revision.
upstream_version() {
  local version=${1#*:}
  printf '%s' "${version%%[-+~]*}"
}

node_host_binary() { readlink -f "$(command -v node)"; }
node_host_version() { "$(node_host_binary)" --version | sed 's/^v//'; }
node_host_module_version() {
  "$(node_host_binary)" -p "require('$(dirname "$(dirname "$(node_host_binary)")")/lib/node_modules/$1/package.json').version" 2>/dev/null || printf 'none'
}
