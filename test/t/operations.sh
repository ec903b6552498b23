#!/usr/bin/env bash
# gw_operations() lists exactly the operations documented in docs/providers.md,
# no more, no fewer: under each provider's heading ("## vaspro", ...), the rows
# of its table whose header starts "| operation | method + path |".
set -uo pipefail
doc="$(dirname "$0")/../../docs/providers.md"
[ -f "$doc" ] || { echo "FAIL docs/providers.md not found at $doc"; exit 1; }
want=$(python3 - "$doc" <<'PY'
import re, sys
provider, in_table = None, False
for line in open(sys.argv[1], encoding="utf-8"):
    line = line.rstrip("\n")
    m = re.match(r"^## `?(\w+)`?\s*$", line)
    if m:
        provider, in_table = m.group(1), False
        continue
    if re.match(r"^\|\s*operation\s*\|\s*method \+ path\s*\|", line):
        in_table = provider is not None
        continue
    if not line.startswith("|"):
        in_table = False
        continue
    m = re.match(r"^\|\s*`([a-z_]+\.[a-z_]+)`\s*\|", line)
    if in_table and m:
        print(provider, m.group(1))
PY
)
want=$(echo "$want" | sed '/^$/d' | sort)
[ -n "$want" ] || { echo "FAIL no operation table found in docs/providers.md"; exit 1; }
have=$(psql -X -q -t -A -F ' ' -d contrib_regression \
       -c "SELECT provider, operation FROM gw_operations()" | sort)
if [ "$want" = "$have" ]; then
    echo "gw_operations() matches docs/providers.md: $(echo "$have" | wc -l) operations"
    exit 0
fi
echo "FAIL gw_operations() differs from docs/providers.md (< docs, > gw_operations()):"
diff <(echo "$want") <(echo "$have")
exit 1
