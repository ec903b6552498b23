#!/usr/bin/env bash
# The listener against hostile clients, over real HTTP: a wrong token is
# refused before the body is read; an unknown account answers exactly as a
# wrong token; a client trickling bytes holds no more than
# gateway.listen_max_per_client connections while others are served, and is
# cut at gateway.listen_request_timeout; a USSD handler cannot climb, its
# set_config does not outlive it, and past its deadline it answers 503.
# Run by scripts/test.sh against its cluster (listener on
# 127.0.0.1:$GW_LISTEN_PORT, gateway.listen_role = gw_listener).
set -uo pipefail
port=${GW_LISTEN_PORT:-18787}
base="http://127.0.0.1:$port"
db=contrib_regression
. "$(dirname "$0")/../lib/check.sh"
reload() { q "SELECT pg_reload_conf()" >/dev/null; sleep 1.5; }

q "DO \$\$ BEGIN
     IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'gw_listener') THEN
         CREATE ROLE gw_listener NOLOGIN;
     END IF;
     IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'lg_climber') THEN
         CREATE ROLE lg_climber NOLOGIN;
     END IF;
   END \$\$;
   GRANT USAGE ON SCHEMA gateway TO gw_listener;
   GRANT EXECUTE ON FUNCTION gateway.ingest_text(text, text, text) TO gw_listener;
   SELECT gw_account_create('lg', 'vaspro', '{\"api_key\": \"lg-key-0001\"}',
       'http://127.0.0.1:$GW_MOCK_PORT/vaspro');" >/dev/null ||
    { echo "set-up failed"; exit 1; }
for _ in $(seq 1 100); do
    [ "$(code -X POST "$base/lg/dlr")" != 000 ] && break
    sleep 0.1
done
url=$(q "SELECT gw_callback_url('lg', 'dlr')")
token=${url##*token=}
last=${token: -1}; [ "$last" = 0 ] && wrong=${token%?}1 || wrong=${token%?}0

# --- an unknown account answers exactly as a wrong token (status and body)
a=$(curl -s -w ' %{http_code}' -X POST --data '{}' "$base/nobody/dlr?token=$token")
b=$(curl -s -w ' %{http_code}' -X POST --data '{}' "$base/lg/dlr?token=$wrong")
c=$(curl -s -w ' %{http_code}' -X POST --data '{}' "$base/nobody/dlr")
check "a wrong token is 403 forbidden" "forbidden 403" "$(printf '%s' "$b" | tr -d '\n')"
check "an unknown account answers as a wrong token" "$b" "$a"
check "an unknown account without a token too" "$b" "$c"

# --- a wrong token is refused before the body is read
head -c 60000 /dev/zero | tr '\0' 'x' >"$GW_WORK/lg.body"
check "Expect: 100-continue with a wrong token: 403, no byte of the body sent" "403 0" \
    "$(curl -s -o /dev/null -w '%{http_code} %{size_upload}' --expect100-timeout 30 \
         -H 'Expect: 100-continue' --data-binary @"$GW_WORK/lg.body" "$base/lg/dlr?token=$wrong")"
# (with the token it is read, and found not to be JSON: 400)
check "Expect: 100-continue with the token: the body is sent and read" "400 60000" \
    "$(curl -s -o /dev/null -w '%{http_code} %{size_upload}' --expect100-timeout 30 \
         -H 'Expect: 100-continue' --data-binary @"$GW_WORK/lg.body" "$url")"
# headers promising 60000 bytes, then nothing: the answer comes without them
check "a wrong token is answered before the body is sent" "HTTP/1.1 403" "$(python3 - "$port" "$wrong" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(8)
s.sendall(("POST /lg/dlr?token=%s HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n" % sys.argv[2]).encode())
try:
    print(s.recv(4096).decode(errors="replace").split("\r\n")[0][:12])
except socket.timeout:
    print("no answer")
PY
)"
check "an unknown account too" "HTTP/1.1 403" "$(python3 - "$port" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(8)
s.sendall(b"POST /nobody/dlr?token=x HTTP/1.1\r\nHost: x\r\nContent-Length: 60000\r\n\r\n")
try:
    print(s.recv(4096).decode(errors="replace").split("\r\n")[0][:12])
except socket.timeout:
    print("no answer")
PY
)"

# --- a slow client: 4 connections at most, cut at the request deadline
q "ALTER SYSTEM SET gateway.listen_max_per_client = 4" >/dev/null
q "ALTER SYSTEM SET gateway.listen_request_timeout = '3s'" >/dev/null
reload
before=$(q "SELECT count(*) FROM gateway.inbound WHERE account = 'lg'")
# 10 connections from 127.0.0.2, each trickling a header byte every 200 ms
# for up to 20 s (the idle timeout, 10 s, never fires); meanwhile another
# client posts a delivery report.  Prints: open after connecting, the other
# client's status, then how many the server cut before the client was done.
out=$(python3 - "$port" "$url" <<'PY'
import socket, sys, time, select, subprocess
port, url = int(sys.argv[1]), sys.argv[2]
socks = []
for i in range(10):
    s = socket.socket()
    s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", port))
    s.sendall(b"POST /lg/dlr?token=x HTTP/1.1\r\nHost: x\r\n")
    socks.append(s)
def closed(s):
    try:
        r, _, _ = select.select([s], [], [], 0)
        if not r:
            return False
        return s.recv(4096) == b""
    except OSError:
        return True
time.sleep(1.5)
alive = [s for s in socks if not closed(s)]
print(len(alive))
other = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                        "--data", '{"uniqueId": "lg-1", "deliveryStatus": "DeliveredToTerminal"}', url],
                       capture_output=True, text=True).stdout
print(other)
cut = set()
end = time.time() + 20
while time.time() < end and len(cut) < len(alive):
    for i, s in enumerate(alive):
        if i in cut:
            continue
        try:
            s.sendall(b"X")
        except OSError:
            cut.add(i)
            continue
        if closed(s):
            cut.add(i)
    time.sleep(0.2)
print(len(cut))
PY
)
check "a trickling client holds 4 connections (gateway.listen_max_per_client), no more" 4 "$(echo "$out" | sed -n 1p)"
check "another client is served meanwhile" 200 "$(echo "$out" | sed -n 2p)"
check "its report is recorded" $((before + 1)) "$(q "SELECT count(*) FROM gateway.inbound WHERE account = 'lg'")"
check "the 4 trickling connections are cut at the request deadline" 4 "$(echo "$out" | sed -n 3p)"
check "the client may connect again once they are gone" 200 \
    "$(code --interface 127.0.0.2 -X POST --data '{"uniqueId": "lg-2"}' "$url")"
q "ALTER SYSTEM RESET gateway.listen_max_per_client" >/dev/null
q "ALTER SYSTEM RESET gateway.listen_request_timeout" >/dev/null
reload

# --- USSD handlers over the listener: no climbing, nothing kept, 503 late
ussd=$(q "SELECT gw_callback_url('lg', 'ussd')")
post_ussd() { curl -s -w ' %{http_code}' -X POST --data "{\"msisdn\": \"254712345678\", \"sessionID\": \"$1\", \"input\": \"\"}" "$ussd"; }
q "CREATE OR REPLACE FUNCTION public.lg_climb(msisdn text, session_id text, input text, service_code text)
   RETURNS text LANGUAGE plpgsql AS \$f\$
   BEGIN
       EXECUTE 'ALTER ROLE lg_climber SUPERUSER';
       RETURN 'END climbed';
   END \$f\$;
   ALTER FUNCTION public.lg_climb(text, text, text, text) OWNER TO lg_climber;
   CREATE OR REPLACE FUNCTION public.lg_setter(msisdn text, session_id text, input text, service_code text)
   RETURNS text LANGUAGE plpgsql AS \$f\$
   DECLARE seen text := format('CON leak=%s path=%s',
                               coalesce(nullif(current_setting('gwtest.leak', true), ''), 'none'),
                               current_setting('search_path'));
   BEGIN
       PERFORM set_config('gwtest.leak', 'kept', false);
       PERFORM set_config('search_path', 'public', false);
       RETURN seen;
   END \$f\$;
   CREATE OR REPLACE FUNCTION public.lg_slow(msisdn text, session_id text, input text, service_code text)
   RETURNS text LANGUAGE sql AS \$f\$ SELECT pg_sleep(3); SELECT 'END late'::text \$f\$;
   SELECT gw_account_update('lg', options => '{\"ussd_handler\": \"public.lg_climb\"}');" >/dev/null
check "a climbing handler: the phone gets the apology" \
    "END Sorry, this service is not available right now. Please try again later. 200" "$(post_ussd c1)"
check "and nobody climbed" f "$(q "SELECT rolsuper FROM pg_roles WHERE rolname = 'lg_climber'")"
q "SELECT gw_account_update('lg', options => '{\"ussd_handler\": \"public.lg_setter\"}')" >/dev/null
check "a handler sees the pinned search_path" "CON leak=none path=pg_catalog, pg_temp 200" "$(post_ussd s1)"
check "what it set for the session is gone at the next request" "CON leak=none path=pg_catalog, pg_temp 200" "$(post_ussd s2)"
q "SELECT gw_account_update('lg', options => '{\"ussd_handler\": \"public.lg_slow\"}')" >/dev/null
before=$(q "SELECT count(*) FROM gateway.inbound WHERE account = 'lg' AND kind = 'ussd'")
check "a handler past its deadline: 503" "timed out 503" "$(post_ussd t1 | tr '\n' ' ' | sed 's/  */ /g')"
check "nothing recorded for it" "$before" "$(q "SELECT count(*) FROM gateway.inbound WHERE account = 'lg' AND kind = 'ussd'")"
q "SELECT gw_account_update('lg', options => '{\"ussd_handler\": \"public.lg_setter\"}')" >/dev/null
check "the listener serves the next session" "CON leak=none path=pg_catalog, pg_temp 200" "$(post_ussd s3)"

q "SELECT gw_account_drop('lg')" >/dev/null 2>&1 || true
q "DROP FUNCTION public.lg_climb(text, text, text, text), public.lg_setter(text, text, text, text),
     public.lg_slow(text, text, text, text); DROP ROLE lg_climber" >/dev/null
echo "listener guard test: $fails failed"
[ "$fails" -eq 0 ]
