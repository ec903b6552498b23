-- wrk script for bench/callbacks.sh: POST one VasPro delivery report per
-- request, for outbox keys <prefix>1 .. <prefix>N, each thread its own share;
-- past N a thread sends its share again (a late duplicate changes nothing).
-- args: N, threads, path (with ?token=), key prefix
local counter = 0
function setup(thread)
   thread:set("tid", counter)
   counter = counter + 1
end

function init(args)
   n = tonumber(args[1])
   nthreads = tonumber(args[2])
   path = args[3]
   prefix = args[4]
   i = tid + 1
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   local k = i
   i = i + nthreads
   if i > n then i = tid + 1 end
   local body = string.format('{"uniqueId": "%s%d", "deliveryStatus": "DeliveredToTerminal", "description": "Delivered", "msisdn": "254712345678"}', prefix, k)
   return wrk.format("POST", path, nil, body)
end

function done(summary, latency, requests)
   io.write(string.format("non-2xx: %d, socket errors: %d\n", summary.errors.status,
      summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
