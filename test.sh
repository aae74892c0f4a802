#!/usr/bin/env bash
# test.sh sets up a Debian machine for loginguard's tests and runs them. It is the
# README's test command and what CI runs (.ci/run calls it).
#
#   ./test.sh               set up, then check and test
#   ./test.sh --setup-only  set up only: install and start every service, then stop
#
# Set-up (idempotent: what is already installed, running and configured is left alone):
#   1. Go: the go.mod's version (1.26) must be on PATH; it is not a Debian package.
#   2. apt-get installs what is missing: redis-server, redis-sentinel (the failover
#      test starts its own sentinels), postgresql, mariadb-server, rabbitmq-server,
#      nats-server, chromium, nodejs and npm (the Express test portal), gcc (the race
#      detector needs cgo).
#   3. Starts and checks each service the tests use:
#        Redis       127.0.0.1:6379
#        PostgreSQL  127.0.0.1:5432, user root without a password (trust), databases test and root
#        MariaDB     127.0.0.1:3306, user root with an empty password, database test
#        RabbitMQ    127.0.0.1:5672 (guest/guest)
#        NATS        127.0.0.1:4222 with JetStream
#        Chromium    /usr/bin/chromium (the web console tests drive it headless)
#        Sentinel    the redis-sentinel command runs (the failover test starts three of
#                    its own on free ports; a system sentinel the package may start is
#                    left alone, and Redis on 6379 is checked after the install)
#   4. e2e/portals/install.sh: the PHP, Express, Flask and Django login portals of the
#      differential tests; e2e/wordpress/setup.sh: a real WordPress behind php-fpm.
# A service that cannot be installed or started stops the run with a FATAL line: no
# test is ever skipped because a service is missing.
#
# Checks and tests: gofmt, go vet, staticcheck, the race detector on the concurrent
# packages, then every test (go test -count=1 -timeout 30m ./...). The tests also start
# their own Caddy processes, portals and redis-server processes (a 3-node Redis Cluster,
# and a primary with a replica under three sentinels, among them). Needs root, or sudo
# for apt-get and the services.
set -euo pipefail
cd "$(dirname "$0")"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

setup_only=""
case "${1:-}" in
"") ;;
--setup-only) setup_only=1 ;;
-h | --help)
	sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: $0 [--setup-only]" >&2
	exit 2
	;;
esac

step() { printf '\n==> %s\n' "$*"; }
say() { printf '    %s\n' "$*"; }
die() {
	printf '\nFATAL: %s\n' "$*" >&2
	exit 1
}

sudo=""
if [ "$(id -u)" != 0 ]; then
	command -v sudo >/dev/null 2>&1 || die "run as root, or install sudo: the set-up installs packages and starts services"
	sudo=sudo
fi

# wait_for <name> <seconds> <command...>: until the command succeeds, or fail the run.
wait_for() {
	local name=$1 secs=$2
	shift 2
	for _ in $(seq "$secs"); do
		if "$@" >/dev/null 2>&1; then
			say "$name is up"
			return 0
		fi
		sleep 1
	done
	die "$name is not running and could not be started (waited ${secs}s for: $*)"
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# --- 1. Go ---------------------------------------------------------------------------
step "Go"
command -v go >/dev/null 2>&1 ||
	die "go is not on PATH: install Go $(sed -n 's/^go //p' go.mod) from https://go.dev/dl/ (Debian's golang is too old)"
gover=$(go env GOVERSION) || die "go env GOVERSION failed"
want=$(sed -n 's/^go //p' go.mod)
printf '%s\n%s\n' "go$want" "$gover" | sort -V -C ||
	die "$gover is older than go.mod's go $want: install a newer Go from https://go.dev/dl/"
say "$gover"

# --- 2. Debian packages --------------------------------------------------------------
step "Debian packages"
need=()
want_pkg() { # want_pkg <command or path> <package>
	case $1 in
	/*) [ -e "$1" ] || need+=("$2") ;;
	*) command -v "$1" >/dev/null 2>&1 || need+=("$2") ;;
	esac
}
want_pkg redis-server redis-server
want_pkg redis-cli redis-tools
want_pkg redis-sentinel redis-sentinel
want_pkg pg_ctlcluster postgresql
want_pkg psql postgresql-client
want_pkg /usr/sbin/mariadbd mariadb-server
want_pkg mariadb mariadb-client
want_pkg rabbitmq-server rabbitmq-server
want_pkg /usr/sbin/nats-server nats-server
want_pkg chromium chromium
want_pkg node nodejs
want_pkg npm npm
want_pkg gcc gcc
want_pkg git git
want_pkg runuser util-linux
if [ ${#need[@]} -gt 0 ]; then
	say "installing ${need[*]} (this takes a few minutes)"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq ||
		die "apt-get update failed"
	$sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}" >/dev/null ||
		die "apt-get install ${need[*]} failed"
else
	say "all installed"
fi

# --- 3. services ---------------------------------------------------------------------
step "Redis on 127.0.0.1:6379"
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
	say "starting redis-server"
	$sudo mkdir -p /var/lib/redis /var/log/redis
	$sudo redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
		--dir /var/lib/redis --logfile /var/log/redis/ci.log || die "redis-server did not start (see /var/log/redis/ci.log)"
fi
wait_for redis 30 redis-cli -h 127.0.0.1 -p 6379 ping

step "Redis Sentinel (the failover test starts its own)"
redis-sentinel --version >/dev/null 2>&1 ||
	die "redis-sentinel is installed but does not run (redis-sentinel --version): the failover test needs it"
say "$(redis-sentinel --version)"

step "PostgreSQL on 127.0.0.1:5432 (user root, databases test and root)"
pg_ok() { PGCONNECT_TIMEOUT=5 psql -w -h 127.0.0.1 -p 5432 -U root -d test -c 'select 1'; }
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
	pgver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
	[ -n "$pgver" ] || die "no PostgreSQL cluster under /etc/postgresql (the postgresql package creates one)"
	say "starting PostgreSQL $pgver"
	$sudo pg_ctlcluster --skip-systemctl-redirect "$pgver" main start ||
		die "pg_ctlcluster $pgver main start failed (see /var/log/postgresql/)"
fi
wait_for postgresql 60 pg_isready -h 127.0.0.1 -p 5432
if ! pg_ok >/dev/null 2>&1; then
	say "configuring: trust for 127.0.0.1 and ::1, role root, databases test and root"
	aspg() { $sudo runuser -u postgres -- psql -v ON_ERROR_STOP=1 -qtA "$@"; }
	hba=$(aspg -c 'show hba_file') || die "cannot reach PostgreSQL as its postgres user"
	if ! $sudo grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
		$sudo sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba" ||
			die "cannot write $hba"
	fi
	aspg -c 'select pg_reload_conf()' >/dev/null
	[ "$(aspg -c "select 1 from pg_roles where rolname = 'root'")" = 1 ] ||
		aspg -c 'create role root superuser login' || die "cannot create the PostgreSQL role root"
	for db in test root; do
		[ "$(aspg -c "select 1 from pg_database where datname = '$db'")" = 1 ] ||
			aspg -c "create database $db owner root" || die "cannot create the PostgreSQL database $db"
	done
fi
wait_for "postgresql (root@127.0.0.1/test)" 30 pg_ok

step "MariaDB on 127.0.0.1:3306 (root, empty password, database test)"
my_ok() { mariadb -uroot -h127.0.0.1 -P3306 --connect-timeout=5 -e 'CREATE DATABASE IF NOT EXISTS test'; }
if ! port_open 3306; then
	say "starting mariadbd"
	$sudo install -d -o mysql -g mysql /run/mysqld
	$sudo start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql ||
		die "mariadbd did not start"
fi
wait_for "mariadb (port 3306)" 60 port_open 3306
if ! my_ok >/dev/null 2>&1; then
	# Debian's root@localhost logs in through the unix socket only: let root log in
	# over TCP from this machine with an empty password as well.
	say "configuring: root over TCP with an empty password"
	$sudo mariadb -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD('');
		CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
		GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
		FLUSH PRIVILEGES;" || die "cannot configure MariaDB's root user (through the unix socket, as root)"
fi
wait_for "mariadb (root@127.0.0.1/test)" 30 my_ok

step "RabbitMQ on 127.0.0.1:5672"
if ! port_open 5672; then
	say "starting rabbitmq-server (takes some seconds)"
	$sudo rabbitmq-server -detached || die "rabbitmq-server -detached failed (see /var/log/rabbitmq/)"
fi
wait_for rabbitmq 120 port_open 5672

step "NATS with JetStream on 127.0.0.1:4222"
if ! port_open 4222; then
	say "starting nats-server -js"
	$sudo mkdir -p /var/lib/nats-server
	$sudo start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
		-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log ||
		die "nats-server did not start (see /var/log/nats-server.log)"
fi
wait_for nats 30 port_open 4222

step "Chromium and Node.js"
chromium --version >/dev/null 2>&1 || die "chromium is installed but does not run (chromium --version)"
say "$(chromium --version 2>/dev/null)"
node -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' ||
	die "Node.js $(node --version) is too old: the Express portal needs 18 or later"
say "node $(node --version), npm $(npm --version)"

step "the PHP, Express, Flask and Django test portals (e2e/portals/install.sh)"
sh e2e/portals/install.sh || die "e2e/portals/install.sh failed" # it runs apt-get through sudo itself

step "WordPress (e2e/wordpress/setup.sh)"
$sudo bash e2e/wordpress/setup.sh || die "e2e/wordpress/setup.sh failed"

if [ -n "$setup_only" ]; then
	step "set-up done (--setup-only: no checks or tests run)"
	exit 0
fi

# --- checks and tests ----------------------------------------------------------------
step "gofmt"
if command -v git >/dev/null 2>&1 && git rev-parse --git-dir >/dev/null 2>&1; then
	mapfile -t gofiles < <(git ls-files -co --exclude-standard '*.go')
else
	mapfile -t gofiles < <(find . -name '*.go' -not -path '*/node_modules/*')
fi
unformatted=$(gofmt -l "${gofiles[@]}")
[ -z "$unformatted" ] || die "gofmt would change: $unformatted"
say "ok"

step "go vet ./..."
go vet ./... || die "go vet failed"

step "staticcheck ./..."
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./... || die "staticcheck failed"

step "race detector on the concurrent packages"
go test -race -count=1 ./connectors/ ./connectors/spool/ ./state/... ./ratelimit/... ./alerts/ ./gateway/ ./caddymodule/ ./telemetry/ ||
	die "go test -race failed"

step "go test -count=1 -timeout 30m ./..."
go test -count=1 -timeout 30m ./... || die "go test failed"

step "all checks and tests passed"
