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
