#!/usr/bin/env bash
# gw_operations() lists exactly the operations of ../shared/API.md's table
# "Providers and operations" (the fixed interface), no more, no fewer.
set -uo pipefail
api="${GW_API_MD:-$(dirname "$0")/../../../shared/API.md}"
[ -f "$api" ] || { echo "API.md not found at $api"; exit 1; }
want=$(python3 - "$api" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
section = text.split("## Providers and operations", 1)[1].split("\n## ", 1)[0]
for line in section.splitlines():
    m = re.match(r"\|\s*`(\w+)`\s*\|(.*)\|\s*$", line)
    if not m:
        continue
    for op in re.findall(r"`([a-z_]+\.[a-z_]+)`", m.group(2)):
        print(m.group(1), op)
PY
)
want=$(echo "$want" | sort)
have=$(psql -X -q -t -A -F ' ' -d contrib_regression \
       -c "SELECT provider, operation FROM gw_operations()" | sort)
if [ "$want" = "$have" ]; then
    echo "gw_operations() matches API.md: $(echo "$have" | wc -l) operations"
    exit 0
fi
echo "gw_operations() differs from API.md (< API.md, > gw_operations()):"
diff <(echo "$want") <(echo "$have")
exit 1
