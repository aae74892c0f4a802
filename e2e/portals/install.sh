#!/bin/sh
# install.sh installs what the framework login portals of the e2e tests need
# (e2e/portals_harness_test.go): PHP 8, Flask and Django from Debian, and the
# Express portal's node_modules from its lockfile. It does nothing that is
# already done, so CI may call it every time. It needs root (or sudo) only
# when a Debian package is missing, and Node.js with npm for Express.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
python=/usr/bin/python3

fail() {
	echo "e2e/portals/install.sh: $*" >&2
	exit 1
}

missing=""
command -v php >/dev/null 2>&1 || missing="$missing php-cli"
if [ ! -x "$python" ]; then
	missing="$missing python3 python3-flask python3-django"
else
	"$python" -c 'import flask' >/dev/null 2>&1 || missing="$missing python3-flask"
	"$python" -c 'import django' >/dev/null 2>&1 || missing="$missing python3-django"
fi

if [ -n "$missing" ]; then
	command -v apt-get >/dev/null 2>&1 ||
		fail "missing$missing, and there is no apt-get to install them with"
	sudo=""
	if [ "$(id -u)" != 0 ]; then
		command -v sudo >/dev/null 2>&1 || fail "missing$missing: run as root or install sudo"
		sudo=sudo
	fi
	echo "e2e/portals/install.sh: installing$missing" >&2
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq ||
		fail "apt-get update failed"
	# shellcheck disable=SC2086 # $missing is a list of package names
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing ||
		fail "apt-get install$missing failed"
fi

php -r 'exit(PHP_VERSION_ID >= 80100 ? 0 : 1);' ||
	fail "PHP $(php -r 'echo PHP_VERSION;') is too old: the PHP portal needs 8.1 or later"
"$python" -c 'import flask, django' ||
	fail "$python cannot import flask and django after installing them"

if [ ! -d "$here/express/node_modules/express" ] || [ ! -d "$here/express/node_modules/multer" ]; then
	command -v node >/dev/null 2>&1 || fail "Node.js is missing: install Node.js 18 or later with npm"
	command -v npm >/dev/null 2>&1 || fail "npm is missing: install it with Node.js"
	echo "e2e/portals/install.sh: npm ci in $here/express" >&2
	(cd "$here/express" && npm ci --no-audit --no-fund) ||
		fail "npm ci in e2e/portals/express failed"
fi

echo "e2e/portals/install.sh: PHP, Express, Flask and Django portals are ready" >&2
