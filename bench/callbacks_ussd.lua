-- wrk script for bench/callbacks.sh: one USSD request per call, new session
-- each time.  args: path (with ?token=)
local n = 0
function init(args)
   path = args[1]
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end

function request()
   n = n + 1
   return wrk.format("POST", path, nil,
      "sessionId=bench-" .. n .. "&serviceCode=*384*1%23&phoneNumber=254712345678&text=")
end
