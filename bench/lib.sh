# Shared by the bench/*.sh scripts: source it after cd to the repository.

# need_wrk installs wrk (a Debian package) when we may, else names the command
# at once, before any build.
need_wrk() {
	command -v wrk >/dev/null && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		echo "wrk is not installed: apt-get install -y wrk" >&2
		{ apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }; } >&2 ||
			{ echo "installing wrk failed; install it with: apt-get install -y wrk" >&2; exit 1; }
	else
		echo "wrk is not installed; install it with: sudo apt-get install -y wrk" >&2
		exit 1
	fi
}

# free_port prints a free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# login_rules prints, for the loginguard handler of a Caddyfile site block (two tabs
# in), what every bench's handler says of the demo portal's login answers: a success
# is 200 with portal_session set, a failure is 4xx with its reason in /code.
login_rules() {
	cat <<'LG'
		portal_id bench
		rule success {
			status 200
			cookie portal_session
		}
		rule failure {
			status 4xx
			json /code
			reasons {
				BAD_CREDENTIALS BAD_CREDENTIALS
				USER_NOT_FOUND ACCOUNT_NOT_FOUND
			}
		}
LG
}

# login_handler prints, for a Caddyfile site block (one tab in), the benches' usual
# loginguard handler on /api/login: login_rules, the account's id and display name
# from the login answer, and the portal's session cookie.
login_handler() {
	cat <<LG
	loginguard /api/login {
$(login_rules)
		account_id /account/id
		display_name /account/displayName
		session_cookie portal_session
	}
LG
}
