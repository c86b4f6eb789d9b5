# Sourced by the bench scripts that start `sagerun serve` in the background
# with its output in a log: `served_url LOG TRIES` prints the URL it listens
# on once the log says so (TRIES checks 0.1 s apart), or shows the log and
# fails if it never does.
served_url() {
    local log="$1" tries="$2" url=""
    for _ in $(seq 1 "$tries"); do
        url="$(sed -n 's/.*listening on \(http[^ ]*\).*/\1/p' "$log")"
        [ -n "$url" ] && { echo "$url"; return 0; }
        sleep 0.1
    done
    { echo "sagerun serve did not start:"; cat "$log"; } >&2
    return 1
}
