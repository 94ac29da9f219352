# start.sh, sourced by roles.sh and timehist.sh: starts `readiness serve MODEL` pinned to CPU 1
# on a free loopback port, with the serve flags given, and sets bin (BIN, default readiness on
# PATH), dir (a temporary directory removed on exit), spid (the server's pid) and addr.
bin=${BIN:-readiness}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
start_server() {
	local m=$1; shift
	taskset -c 1 $bin serve $m -loops 1 -addr 127.0.0.1:0 "$@" > $dir/srv.out 2>&1 &
	spid=$!
	for i in $(seq 50); do grep -q listening $dir/srv.out && break; sleep 0.1; done
	addr=$(grep -o 'listening on [0-9.:]*' $dir/srv.out | awk '{print $3}')
}
