#!/usr/bin/env bash
# Sets up the real WordPress (Debian's `wordpress` package) that the Go e2e
# tests start behind Caddy's php_fastcgi (e2e/wordpress_harness_test.go).
#
# Run as root, once per machine, before `go test ./e2e` (.ci/run calls it):
#     bash e2e/wordpress/setup.sh
# It is idempotent: running it again re-checks every step, fixes what drifted
# (admin password and email, database grants) and issues a fresh application
# password. It prints what it does and exits non-zero with an "ERROR:" line as
# soon as a step fails.
#
# What it does:
#   1. apt-get installs wordpress, php-fpm, php-mysql, php-xml (XML-RPC needs
#      PHP's xml extension) and the default theme, when missing. The tests run
#      their own php-fpm master (php-fpm8.2 --nodaemonize --fpm-config ...);
#      the system php8.2-fpm service is not needed, and neither is the apache2
#      that the wordpress package pulls in (Docker's policy-rc.d keeps it off).
#   2. Creates the MariaDB database and user (MariaDB on 127.0.0.1:3306, root
#      with an empty password; started here if it is not running).
#   3. Writes the WordPress config. Debian's /usr/share/wordpress/wp-config.php
#      picks /etc/wordpress/config-$WORDPRESS_CONFIG.php when the server
#      variable WORDPRESS_CONFIG is set (letters, digits, '-'), else
#      config-<host>.php from the Host header (port and odd characters removed),
#      else config-<host minus its first label>.php, else config-default.php,
#      else it answers 404. A Host-based name is fragile here (tests use
#      127.0.0.1:<random port>, which maps to config-127.0.0.1.php and then to
#      config-0.0.1.php, and a test may send any Host). So:
#        - the config lives in /etc/wordpress/config-loginguard-e2e.php and the
#          harness's php-fpm pool sets env[WORDPRESS_CONFIG] = loginguard-e2e,
#          which selects it whatever the Host header says;
#        - /etc/wordpress/config-default.php is a one-line fallback that loads
#          the same file (for a php-fpm started without that variable), unless
#          the machine already has a config-default.php of its own.
#      The config sets WP_HOME/WP_SITEURL from the request's Host header
#      (http://<host:port>, https when the request came over TLS), so the site
#      works at any host:port; WP_ENVIRONMENT_TYPE 'local' makes application
#      passwords available without HTTPS; WP-Cron and every outbound HTTP
#      request (update checks; there is no internet) are off.
#   4. Runs the WordPress install (blog "loginguard e2e") and makes sure the
#      administrator wpadmin / wpadmin-right-pass-1 / wpadmin@example.com
#      exists with that password and email.
#   5. Creates an application password "loginguard-e2e" for wpadmin (replacing
#      an earlier one of that name) and writes it, as WordPress shows it
#      (24 characters in 6 groups of 4 separated by spaces), to
#      /etc/wordpress/loginguard-e2e-app-password, which the harness reads.
#   6. Forgets the login sessions of earlier test runs and checks, through
#      WordPress's own functions, that both passwords work.
set -Eeuo pipefail

say() { printf '==> wordpress setup: %s\n' "$*"; }
die() { printf 'ERROR: wordpress setup: %s\n' "$*" >&2; exit 1; }
trap 'rc=$?; printf "ERROR: wordpress setup: command failed (exit %s) at line %s: %s\n" "$rc" "$LINENO" "$BASH_COMMAND" >&2; exit $rc' ERR

WP_ROOT=/usr/share/wordpress
CONF_NAME=loginguard-e2e
CONF_FILE=/etc/wordpress/config-${CONF_NAME}.php
DEFAULT_CONF=/etc/wordpress/config-default.php
SALT_FILE=/etc/wordpress/${CONF_NAME}-salts.php
APP_PASSWORD_FILE=/etc/wordpress/${CONF_NAME}-app-password
MARK='loginguard e2e WordPress (written by e2e/wordpress/setup.sh)'

DB_HOST=127.0.0.1
DB_PORT=3306
DB_NAME=loginguard_wp
DB_USER=loginguard_wp
DB_PASSWORD=loginguard-wp-db-pass-7f3a

ADMIN_USER=wpadmin
ADMIN_PASSWORD=wpadmin-right-pass-1
ADMIN_EMAIL=wpadmin@example.com
APP_PASSWORD_NAME=loginguard-e2e

[ "$(id -u)" -eq 0 ] || die "run as root (it installs packages and writes /etc/wordpress)"

# --- 1. packages -------------------------------------------------------------
need=()
for p in wordpress php-fpm php-mysql php-xml php-cli mariadb-client wordpress-theme-twentytwentythree; do
	if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
		need+=("$p")
	fi
done
if [ ${#need[@]} -gt 0 ]; then
	say "installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# Other setup steps may run apt at the same time: wait for the dpkg lock.
	apt-get -o DPkg::Lock::Timeout=600 update -qq || die "apt-get update failed"
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" ||
		die "apt-get install ${need[*]} failed"
else
	say "packages already installed"
fi
FPM=$(command -v php-fpm8.2 || ls /usr/sbin/php-fpm* 2>/dev/null | head -n1 || true)
[ -n "$FPM" ] && [ -x "$FPM" ] || die "no php-fpm binary found after installing php-fpm"
[ -f "$WP_ROOT/wp-login.php" ] || die "$WP_ROOT/wp-login.php missing: is the wordpress package broken?"
php -r 'exit(function_exists("xml_parser_create") && function_exists("mysqli_connect") ? 0 : 1);' ||
	die "PHP lacks the xml or mysqli extension (php-xml, php-mysql)"
say "php-fpm: $FPM ($("$FPM" -v | head -n1))"

# --- 2. database -------------------------------------------------------------
MYSQL=(mysql --protocol=TCP -h "$DB_HOST" -P "$DB_PORT" -uroot)
if ! "${MYSQL[@]}" -e 'SELECT 1' >/dev/null 2>&1; then
	if [ -x /usr/sbin/mariadbd ]; then
		say "MariaDB does not answer on $DB_HOST:$DB_PORT; starting it"
		start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
		for _ in $(seq 1 60); do
			"${MYSQL[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break
			sleep 0.5
		done
	fi
	"${MYSQL[@]}" -e 'SELECT 1' >/dev/null 2>&1 ||
		die "cannot connect to MariaDB as root on $DB_HOST:$DB_PORT: $("${MYSQL[@]}" -e 'SELECT 1' 2>&1 | tail -n1)"
fi
say "creating database $DB_NAME and user $DB_USER"
"${MYSQL[@]}" <<SQL || die "creating the database or its user failed"
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'127.0.0.1' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'127.0.0.1';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
SQL
mysql --protocol=TCP -h "$DB_HOST" -P "$DB_PORT" -u"$DB_USER" -p"$DB_PASSWORD" "$DB_NAME" -e 'SELECT 1' >/dev/null ||
	die "the new database user cannot log in"

# --- 3. config ---------------------------------------------------------------
mkdir -p /etc/wordpress
if [ ! -s "$SALT_FILE" ]; then
	say "generating keys and salts in $SALT_FILE"
	php -r '
		echo "<?php\n// '"$MARK"'\n";
		foreach (["AUTH_KEY","SECURE_AUTH_KEY","LOGGED_IN_KEY","NONCE_KEY","AUTH_SALT","SECURE_AUTH_SALT","LOGGED_IN_SALT","NONCE_SALT"] as $k)
			printf("define(%s, %s);\n", var_export($k, true), var_export(bin2hex(random_bytes(32)), true));
	' >"$SALT_FILE.tmp"
	mv "$SALT_FILE.tmp" "$SALT_FILE"
fi

say "writing $CONF_FILE"
cat >"$CONF_FILE.tmp" <<PHP
<?php
// $MARK.
// Selected by Debian's /usr/share/wordpress/wp-config.php through the
// WORDPRESS_CONFIG=$CONF_NAME server variable (the e2e php-fpm pool sets it)
// or through config-default.php.
define('DB_NAME', '$DB_NAME');
define('DB_USER', '$DB_USER');
define('DB_PASSWORD', '$DB_PASSWORD');
define('DB_HOST', '$DB_HOST:$DB_PORT');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
\$table_prefix = 'wp_';
require_once '$SALT_FILE';

// The tests run Caddy on 127.0.0.1:<random port>: the site's URL is the one
// the request came to. (php-cli, as in setup.sh, has no Host: 127.0.0.1.)
\$lg_e2e_host = (isset(\$_SERVER['HTTP_HOST']) && \$_SERVER['HTTP_HOST'] !== '') ? \$_SERVER['HTTP_HOST'] : '127.0.0.1';
\$lg_e2e_https = (!empty(\$_SERVER['HTTPS']) && strtolower(\$_SERVER['HTTPS']) !== 'off')
	|| (isset(\$_SERVER['HTTP_X_FORWARDED_PROTO']) && \$_SERVER['HTTP_X_FORWARDED_PROTO'] === 'https');
define('WP_HOME', (\$lg_e2e_https ? 'https' : 'http') . '://' . \$lg_e2e_host);
define('WP_SITEURL', WP_HOME);
unset(\$lg_e2e_host, \$lg_e2e_https);

// Application passwords without HTTPS.
define('WP_ENVIRONMENT_TYPE', 'local');

// The docroot is /usr/share/wordpress, themes come from the Debian package.
define('WP_CONTENT_DIR', '$WP_ROOT/wp-content');

// No background requests: no WP-Cron loopback requests through the tested
// Caddy, no update checks, no outbound HTTP at all (there is no internet).
define('DISABLE_WP_CRON', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_AUTO_UPDATE_CORE', false);
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('DISALLOW_FILE_MODS', true);
define('WP_DEBUG', false);
PHP
mv "$CONF_FILE.tmp" "$CONF_FILE"

if [ ! -e "$DEFAULT_CONF" ] || grep -q "$MARK" "$DEFAULT_CONF"; then
	say "writing fallback $DEFAULT_CONF"
	printf '<?php\n// %s: fallback for requests without WORDPRESS_CONFIG.\nrequire_once %s;\n' \
		"$MARK" "'$CONF_FILE'" >"$DEFAULT_CONF"
else
	say "keeping the machine's own $DEFAULT_CONF (the e2e php-fpm pool selects $CONF_FILE itself)"
fi
# php-fpm workers run as www-data and must read the config (it holds the DB password).
chown root:www-data "$CONF_FILE" "$SALT_FILE" "$DEFAULT_CONF" 2>/dev/null || true
chmod 0640 "$CONF_FILE" "$SALT_FILE"
chmod 0644 "$DEFAULT_CONF" 2>/dev/null || true

# --- 4-6. install, admin, application password -------------------------------
say "installing WordPress and the administrator $ADMIN_USER"
PHP_SCRIPT=$(mktemp /tmp/loginguard-wp-setup.XXXXXX.php)
NEW_APP_PASSWORD=$(mktemp /tmp/loginguard-wp-app.XXXXXX)
cleanup() { rm -f "$PHP_SCRIPT" "$NEW_APP_PASSWORD"; }
trap cleanup EXIT
cat >"$PHP_SCRIPT" <<'PHP'
<?php
// Runs under php-cli; argv: admin user, password, email, app password name, output file.
[, $user, $pass, $email, $appName, $out] = $argv;
$_SERVER['HTTP_HOST'] = '127.0.0.1';
$_SERVER['SERVER_NAME'] = '127.0.0.1';
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['SERVER_PROTOCOL'] = 'HTTP/1.1';
$_SERVER['REMOTE_ADDR'] = '127.0.0.1';
$_SERVER['WORDPRESS_CONFIG'] = 'loginguard-e2e';
function fail($msg) { fwrite(STDERR, "ERROR: wordpress setup: $msg\n"); exit(1); }
function say($msg) { echo "==> wordpress setup: $msg\n"; }

define('WP_INSTALLING', true);
// No "your new site" email (there is no mail here).
function wp_new_blog_notification() {}
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
require_once ABSPATH . 'wp-admin/includes/user.php';

if (!is_blog_installed()) {
	$r = wp_install('loginguard e2e', $user, $email, false, '', wp_slash($pass));
	if (empty($r['user_id'])) fail('wp_install did not create the administrator');
	say("WordPress installed");
} else {
	say("WordPress already installed");
}
// The install stored the CLI's guessed URL; the config's WP_HOME/WP_SITEURL win anyway.
update_option('siteurl', 'http://127.0.0.1');
update_option('home', 'http://127.0.0.1');

// Pretty permalinks, so /wp-json/... reaches the REST API (php_fastcgi sends
// every unknown path to index.php). flush_rewrite_rules(false) writes no .htaccess.
global $wp_rewrite;
if (get_option('permalink_structure') !== '/%postname%/') {
	$wp_rewrite->set_permalink_structure('/%postname%/');
	say('set pretty permalinks');
}
flush_rewrite_rules(false);

$u = get_user_by('login', $user);
if (!$u) {
	$id = wp_create_user($user, $pass, $email);
	if (is_wp_error($id)) fail('creating ' . $user . ': ' . $id->get_error_message());
	$u = get_user_by('id', $id);
	say("created user $user");
}
if (!in_array('administrator', (array) $u->roles, true)) {
	$u->set_role('administrator');
	say("made $user an administrator");
}
if ($u->user_email !== $email) {
	$r = wp_update_user(['ID' => $u->ID, 'user_email' => $email]);
	if (is_wp_error($r)) fail('setting the email: ' . $r->get_error_message());
	say("set $user's email to $email");
}
$u = get_user_by('id', $u->ID);
if (!wp_check_password($pass, $u->user_pass, $u->ID)) {
	wp_set_password($pass, $u->ID);
	say("reset $user's password");
}

// Forget the sessions earlier test runs logged in (each success adds one to
// wpadmin's session_tokens meta, which WordPress rewrites on every login).
WP_Session_Tokens::destroy_all_for_all_users();

if (!wp_is_application_passwords_available()) fail('application passwords are not available (WP_ENVIRONMENT_TYPE local?)');
foreach (WP_Application_Passwords::get_user_application_passwords($u->ID) as $item) {
	if ($item['name'] === $appName) WP_Application_Passwords::delete_application_password($u->ID, $item['uuid']);
}
$r = WP_Application_Passwords::create_new_application_password($u->ID, ['name' => $appName]);
if (is_wp_error($r)) fail('creating the application password: ' . $r->get_error_message());
$app = WP_Application_Passwords::chunk_password($r[0]);

// Check both passwords with WordPress's own code.
$ok = wp_authenticate_username_password(null, $user, $pass);
if (!$ok instanceof WP_User) fail("$user cannot log in with its password");
add_filter('application_password_is_api_request', '__return_true');
$ok = wp_authenticate_application_password(null, $user, $app);
if (!$ok instanceof WP_User) fail('the new application password does not authenticate: ' . (is_wp_error($ok) ? $ok->get_error_message() : 'null'));
if (file_put_contents($out, $app . "\n") === false) fail("writing $out");
say("created application password \"$appName\" for $user (user id {$u->ID})");
PHP
php -d display_errors=stderr -d error_reporting=E_ALL\&~E_DEPRECATED\&~E_NOTICE \
	"$PHP_SCRIPT" "$ADMIN_USER" "$ADMIN_PASSWORD" "$ADMIN_EMAIL" "$APP_PASSWORD_NAME" "$NEW_APP_PASSWORD" ||
	die "the WordPress install script failed (output above)"
[ -s "$NEW_APP_PASSWORD" ] || die "no application password was written"
install -m 0644 "$NEW_APP_PASSWORD" "$APP_PASSWORD_FILE"
say "application password written to $APP_PASSWORD_FILE"
say "done: admin $ADMIN_USER / $ADMIN_PASSWORD / $ADMIN_EMAIL, database $DB_NAME on $DB_HOST:$DB_PORT"
