# json_port, sourced by the shell tests that read nmstat --json (needs $out).
# the value of "dir":{"key":N of port $2 in nmstat JSON file $out/$1 (dir.key = $3)
json_port() {
    d=${3%.*} k=${3#*.}
    sed 's/},{"name"/}\n{"name"/g' "$out/$1" | grep -F "\"name\":\"$2\"" | head -1 |
        sed -n "s/.*\"$d\":{[^}]*\"$k\":\([0-9]*\).*/\1/p"
}
