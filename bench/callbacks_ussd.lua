-- wrk script for bench/callbacks.sh: one USSD request per call, new session
-- each time, the JSON body the listener takes (docs/callbacks.md, USSD), on
-- a new connection each time (Connection: close), as a provider's gateway
-- sends them: each goes through the listener front's hand-over.
-- args: path (with ?token=)
local n = 0
function init(args)
   path = args[1]
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Connection"] = "close"
end

function request()
   n = n + 1
   return wrk.format("POST", path, nil, string.format(
      '{"msisdn": "254712345678", "sessionID": "bench-%d", "input": "", "serviceCode": "*384*1#"}', n))
end

function done(summary, latency, requests)
   io.write(string.format("non-2xx: %d, socket errors: %d\n", summary.errors.status,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
