#!/usr/bin/env bash
# The status page against known traffic: sends through the mock, refusals,
# delivery reports, a backlog and scheduled rows; the page fetched from the
# listener (GET /<database>/status?token=...), rendered in headless Chromium,
# and every figure on it (the table of each account and each bar of its
# chart) compared with gateway.status_hour and gateway.status_minutes.  Also:
# no external reference on the page, an HTML database name escaped, who may
# read the views and run the function.  The screenshot is kept in
# test/output/statuspage.png.  Run by scripts/test.sh against its cluster.
#
# GW_STATUSPAGE_FROM=psql renders the output of SELECT gateway.status_page()
# from a file instead of the listener's answer (for working on the page
# without the listener route).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
port=${GW_LISTEN_PORT:-18787}
base="http://127.0.0.1:$port"
db=contrib_regression
hdb='gw_sp<i>&"x'          # a database name with HTML in it
work="${GW_WORK:-/tmp}/statuspage"
rm -rf "$work"; mkdir -p "$work"
. "$(dirname "$0")/../lib/check.sh"
token=sp-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
cleanup() {
    psql -X -q -d "$db" -c "ALTER SYSTEM RESET gateway.monitor_token" >/dev/null 2>&1 &&
        psql -X -q -d "$db" -c "SELECT pg_reload_conf()" >/dev/null 2>&1
    psql -X -q -d postgres -c "DROP DATABASE IF EXISTS \"gw_sp<i>&\"\"x\" WITH (FORCE)" >/dev/null 2>&1
    # leave the regression database as it was for the scripts after this one
    psql -X -q -d "$db" -c "DELETE FROM gateway.outbox WHERE account LIKE 'sp\_%';
        SELECT gw_account_drop(name) FROM gateway.account WHERE name LIKE 'sp\_%'" >/dev/null 2>&1
}
trap cleanup EXIT
chrome() {   # chrome <out-prefix> <url>: DOM in <out>.dom, screenshot in <out>.png
    timeout 90 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$work/chrome" \
        --window-size=1200,900 --dump-dom "$2" >"$1.dom" 2>"$1.log"
    timeout 90 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$work/chrome" \
        --window-size=1200,900 --screenshot="$1.png" "$2" >>"$1.log" 2>&1
}
# The figures in an HTML page: "account|field|value" for each table cell,
# "account|minute|field|value" for each bar of a chart.
figures() {
    python3 - "$1" <<'EOF'
import sys
from html.parser import HTMLParser
class P(HTMLParser):
    def __init__(self):
        super().__init__(); self.cell = None; self.text = ''
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if 'data-account' in a and 'data-field' in a:
            if tag == 'rect':
                print('%s|%s|%s|%s' % (a['data-account'], a['data-minute'], a['data-field'], a['data-value']))
            else:
                self.cell = (a['data-account'], a['data-field']); self.text = ''
    def handle_data(self, d):
        if self.cell: self.text += d
    def handle_endtag(self, tag):
        if self.cell:
            print('%s|%s|%s' % (self.cell[0], self.cell[1], self.text.strip())); self.cell = None
P().feed(open(sys.argv[1], encoding='utf-8').read())
EOF
}
hour_sql="SELECT account || '|' || f.k || '|' || coalesce(f.v, 'n/a')
            FROM gateway.status_hour h,
                 LATERAL (VALUES ('queued', queued::text), ('scheduled', scheduled::text),
                                 ('in_flight', in_flight::text), ('sent', sent::text),
                                 ('delivered', delivered::text), ('failed', failed::text),
                                 ('send_rate', send_rate::text), ('delivery_rate', delivery_rate::text)) f(k, v)"
minutes_sql="SELECT account || '|' || minute || '|sent|' || sent FROM gateway.status_minutes
             UNION ALL
             SELECT account || '|' || minute || '|failed|' || failed FROM gateway.status_minutes"

# --- known traffic ----------------------------------------------------------
mock="http://127.0.0.1:$GW_MOCK_PORT/vaspro"
q "SELECT gw_account_create('sp_main', 'vaspro', '{\"api_key\": \"sp-key-0001\"}', '$mock');
   SELECT gw_account_create('sp_low', 'vaspro', '{\"api_key\": \"lowbalance\"}', '$mock');
   SELECT gw_account_create('sp_wait', 'vaspro', '{\"api_key\": \"sp-key-0003\"}', '$mock');
   SELECT gw_account_create('sp_quiet', 'vaspro', '{\"api_key\": \"sp-key-0004\"}', '$mock');" >/dev/null ||
    { echo "set-up failed"; exit 1; }
check "an account name cannot carry HTML (gateway.account's CHECK)" "invalid account name" \
    "$(psql -X -q -t -A -d "$db" -c "SELECT gw_account_create('x<script>', 'vaspro', '{\"api_key\": \"k\"}')" 2>&1 |
       grep -o 'invalid account name' | head -1)"
# sp_main: 6 sent; 3 delivered, 1 undelivered (a delivery report says so), 2 without a report
for i in 1 2 3 4 5 6; do
    id=$(q "SELECT gw_queue_sms('sp_main', '071200010$i', 'Habari $i')")
    check "sp_main message $i sent" sent "$(q "SELECT gw_wait($id)")"
    ids[$i]=$id
done
for i in 1 2 3 4; do
    [ "$i" -le 3 ] && st=DeliveredToTerminal || st=DeliveryImpossible
    q "SELECT gw_ingest('sp_main', 'dlr', jsonb_build_object('uniqueId', idempotency_key,
           'correlator', provider_ref, 'deliveryStatus', '$st'))
         FROM gateway.outbox WHERE id = ${ids[$i]}" >/dev/null
done
check "the delivery reports applied" "delivered delivered delivered undelivered sent sent" \
    "$(q "SELECT string_agg(status::text, ' ' ORDER BY id) FROM gateway.outbox WHERE account = 'sp_main'")"
# sp_low: refused by the provider (402), never sent
for i in 1 2 3; do
    id=$(q "SELECT gw_queue_sms('sp_low', '071200020$i', 'Habari')")
    check "sp_low message $i failed" failed "$(q "SELECT gw_wait($id)")"
done
# sp_wait: 2 waiting to be retried (never due in this test), 4 for tomorrow
q "BEGIN;
   SELECT gw_queue_sms('sp_wait', '0712000301', 'Habari'), gw_queue_sms('sp_wait', '0712000302', 'Habari');
   UPDATE gateway.outbox SET next_attempt_at = 'infinity' WHERE account = 'sp_wait';
   COMMIT;
   SELECT gw_queue_sms('sp_wait', '071200031' || i, 'Kesho', send_at => now() + interval '1 day')
     FROM generate_series(1, 4) i;" >/dev/null

# --- the views --------------------------------------------------------------
check "status_hour of sp_main, sp_low, sp_wait, sp_quiet" \
"sp_low|0|0|0|0|0|3|0.00|
sp_main|0|0|0|6|3|1|0.10|50.0
sp_quiet|0|0|0|0|0|0|0.00|
sp_wait|2|4|0|0|0|0|0.00|" \
    "$(q "SELECT account, queued, scheduled, in_flight, sent, delivered, failed, send_rate, delivery_rate
            FROM gateway.status_hour WHERE account LIKE 'sp\_%' ORDER BY account")"
check "status_minutes: 60 minutes an account, adding up to the hour" "60|6|4" \
    "$(q "SELECT count(*) FILTER (WHERE account = 'sp_main'), sum(sent) FILTER (WHERE account = 'sp_main'),
                 sum(failed) FILTER (WHERE account IN ('sp_main', 'sp_low'))
            FROM gateway.status_minutes")"

# --- who may read and run them ----------------------------------------------
q "SET client_min_messages = warning; DROP ROLE IF EXISTS sp_sender; DROP ROLE IF EXISTS sp_nobody;
   CREATE ROLE sp_sender; CREATE ROLE sp_nobody;
   SELECT gw_grant_sender('sp_sender', 'sp_main');" >/dev/null
check "a sender sees its own account in status_hour" "sp_main" \
    "$(q "SET ROLE sp_sender; SELECT string_agg(account, ',') FROM gateway.status_hour")"
check "and in status_minutes" "sp_main|6" \
    "$(q "SET ROLE sp_sender; SELECT string_agg(DISTINCT account, ','), sum(sent) FROM gateway.status_minutes")"
check "a role without rights cannot read status_hour" "permission denied" \
    "$(psql -X -q -t -A -d "$db" -c "SET ROLE sp_nobody; SELECT * FROM gateway.status_hour" 2>&1 | grep -o 'permission denied' | head -1)"
check "nor run status_page()" "permission denied" \
    "$(psql -X -q -t -A -d "$db" -c "SET ROLE sp_nobody; SELECT gateway.status_page()" 2>&1 | grep -o 'permission denied' | head -1)"
check "nor may a sender, unless granted" "permission denied" \
    "$(psql -X -q -t -A -d "$db" -c "SET ROLE sp_sender; SELECT gateway.status_page()" 2>&1 | grep -o 'permission denied' | head -1)"
q "GRANT EXECUTE ON FUNCTION gateway.status_page() TO sp_sender" >/dev/null
check "granted, a sender's page shows its own account only" "sp_main" \
    "$(q "SET ROLE sp_sender; SELECT gateway.status_page()" | grep -o '<section data-account="[^"]*"' | sed 's/.*="//; s/"$//' | paste -sd,)"
q "REVOKE EXECUTE ON FUNCTION gateway.status_page() FROM sp_sender; SELECT gw_revoke('sp_sender');
   DROP ROLE sp_sender; DROP ROLE sp_nobody" >/dev/null

# --- the page ---------------------------------------------------------------
if [ "${GW_STATUSPAGE_FROM:-listener}" = psql ]; then
    echo "(the page from psql, not from the listener: GW_STATUSPAGE_FROM=psql)"
    q "SELECT gateway.status_page()" >"$work/page.html"
    url="file://$work/page.html"
    check "the page is there" 0 $?
else
    # the listener serves the database once its role (gateway.listen_role) is there
    q "SET client_min_messages = warning;
       $listen_role_sql
       GRANT USAGE ON SCHEMA gateway TO gw_listener;
       GRANT EXECUTE ON FUNCTION gateway.ingest_text(text, text, text) TO gw_listener;" >/dev/null
    q "ALTER SYSTEM SET gateway.monitor_token = '$token'" >/dev/null && q "SELECT pg_reload_conf()" >/dev/null
    url="$base/$db/status?token=$token"
    for _ in $(seq 1 200); do
        [ "$(code "$url")" = 200 ] && break
        sleep 0.1
    done
    curl -s -D "$work/page.headers" -o "$work/page.html" "$url"
    check "200 for the status page with the token" 200 "$(code "$url")"
    check "it is HTML" "text/html" \
        "$(tr -d '\r' <"$work/page.headers" | sed -n 's/^[Cc]ontent-[Tt]ype: *\([^;]*\).*/\1/p')"
    check "403 without the token" 403 "$(code "$base/$db/status")"
    check "403 for a wrong token" 403 "$(code "$base/$db/status?token=${token}x")"
    # (but for the time it was made; if a minute turned between the two
    # reads, the minutes differ: fetch and read both again, three times at most)
    nogen() { sed 's|data-field="generated_at">[^<]*<|data-field="generated_at"><|'; }
    for _ in 1 2 3; do
        want=$(printf %s "$(q "SELECT gateway.status_page()" | nogen)" | md5sum)
        got=$(printf %s "$(nogen <"$work/page.html")" | md5sum)
        [ "$want" = "$got" ] && break
        curl -s -o "$work/page.html" "$url"
    done
    check "the body is what status_page() returns" "$want" "$got"
fi
# The views, read now: the page and they must agree (the traffic is over;
# if a minute turned in between, read both again).
for _ in 1 2; do
    chrome "$work/page" "$url"
    q "$hour_sql" | sort >"$work/view.hour"
    q "$minutes_sql" | sort >"$work/view.minutes"
    figures "$work/page.dom" | sort >"$work/page.figures"
    awk -F'|' 'NF == 3' "$work/page.figures" >"$work/page.hour"
    awk -F'|' 'NF == 4' "$work/page.figures" >"$work/page.minutes"
    cmp -s "$work/page.minutes" "$work/view.minutes" && break
    [ "${GW_STATUSPAGE_FROM:-listener}" = psql ] && q "SELECT gateway.status_page()" >"$work/page.html"
done
check "Chromium rendered the page" yes "$( [ -s "$work/page.dom" ] && [ -s "$work/page.png" ] && echo yes || echo no)"
check "the page's table figures equal gateway.status_hour ($(wc -l <"$work/view.hour") values)" \
    "$(cat "$work/view.hour")" "$(cat "$work/page.hour")"
check "the page's chart bars equal gateway.status_minutes ($(wc -l <"$work/view.minutes") values)" \
    "$(cat "$work/view.minutes")" "$(cat "$work/page.minutes")"
check "sp_main's row as shown" "sp_main|delivered|3 sp_main|delivery_rate|50.0 sp_main|failed|1 sp_main|sent|6" \
    "$(grep -E '^sp_main\|(sent|delivered|failed|delivery_rate)\|' "$work/page.hour" | paste -sd' ')"
check "sp_wait's backlog as shown" "sp_wait|queued|2 sp_wait|scheduled|4" \
    "$(grep -E '^sp_wait\|(queued|scheduled)\|' "$work/page.hour" | paste -sd' ')"
check "no delivery rate without sends" "sp_low|delivery_rate|n/a" "$(grep '^sp_low|delivery_rate|' "$work/page.hour")"
check "each figure under its heading (sp_main)" \
    "queued=queued scheduled=scheduled in flight=in_flight sent=sent delivered=delivered failed=failed sent / min=send_rate delivered %=delivery_rate" \
    "$(python3 -c 'import sys, html.parser as h
class P(h.HTMLParser):
    sec = False; th = None; heads = []; fields = []
    def handle_starttag(s, tag, a):
        a = dict(a)
        if tag == "section": s.sec = a.get("data-account") == "sp_main"
        if s.sec and tag == "th": s.th = ""
        if s.sec and tag == "td": s.fields.append(a.get("data-field"))
    def handle_data(s, d):
        if s.th is not None: s.th += d
    def handle_endtag(s, tag):
        if tag == "th" and s.th is not None: s.heads.append(s.th.strip()); s.th = None
p = P(); p.feed(open(sys.argv[1]).read())
print(" ".join("%s=%s" % x for x in zip(p.heads, p.fields)))' "$work/page.dom")"
check "a generated-at time" 1 "$(grep -c 'data-field="generated_at">[0-9]' "$work/page.dom")"
check "no external reference, no script (page and rendered DOM)" 0 \
    "$(cat "$work/page.html" "$work/page.dom" | grep -ciE 'src=|href=|https?:|url\(|@import|<script|<link|<iframe|<object|<embed')"

# --- escaping: a database whose name is HTML ----------------------------------
psql -X -q -d postgres -c "CREATE DATABASE \"gw_sp<i>&\"\"x\"" >/dev/null &&
    psql -X -q -d "$hdb" -c "CREATE EXTENSION gateway" >/dev/null
psql -X -q -t -A -d "$hdb" -c "SELECT gateway.status_page()" >"$work/hdb.html"
check "the database name is escaped" 2 "$(grep -o 'gw_sp&lt;i&gt;&amp;&quot;x' "$work/hdb.html" | wc -l)"
check "and never raw" 0 "$(grep -c '<i>' "$work/hdb.html")"
check "a page without accounts says so" 1 "$(grep -c 'data-field="no_accounts"' "$work/hdb.html")"
# Many accounts: the page shows the first 200 by name, says how many more
# there are, and stays small (each minute is read once, however many).
psql -X -q -t -A -d "$hdb" -v ON_ERROR_STOP=1 -c "SELECT count(gw_account_create('m' || lpad(i::text, 4, '0'), 'vaspro',
    '{\"api_key\": \"k\"}', 'http://127.0.0.1:9')) FROM generate_series(1, 1500) i" >/dev/null
psql -X -q -t -A -d "$hdb" -c "SELECT gateway.status_page()" >"$work/many.html"
check "1500 accounts: 200 on the page" 200 "$(grep -o '<section data-account=' "$work/many.html" | wc -l)"
check "the first 200 by name" "m0001 m0200" \
    "$(grep -o '<section data-account="[^"]*"' "$work/many.html" | sed -n '1p;$p' | cut -d'"' -f2 | tr '\n' ' ' | sed 's/ $//')"
check "a chart of 60 minutes each" 12000 "$(grep -o 'class="sent"' "$work/many.html" | wc -l)"
check "the page says 1300 more are not shown" 1 \
    "$(grep -c 'data-field="accounts_not_shown">1300 more accounts' "$work/many.html")"
chrome "$work/hdb" "file://$work/hdb.html"
check "the browser shows the name as text" "$hdb" \
    "$(python3 -c 'import sys, html.parser as h
class P(h.HTMLParser):
    on = False; t = ""
    def handle_starttag(s, tag, a): s.on = s.on or ("data-field", "database") in a
    def handle_data(s, d): s.t += d if s.on else ""
    def handle_endtag(s, tag): s.on = False
p = P(); p.feed(open(sys.argv[1]).read()); print(p.t)' "$work/hdb.dom")"

mkdir -p "$repo/test/output"
cp "$work/page.png" "$repo/test/output/statuspage.png" 2>/dev/null
echo "screenshot: $repo/test/output/statuspage.png"
echo "statuspage test: $fails failed"
[ "$fails" -eq 0 ]
