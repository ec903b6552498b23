-- wrk script for bench/compare.sh: keep-alive POSTs of one JSON body.
-- args: body
function init(args)
   wrk.method = "POST"
   wrk.body = args[1]
   wrk.headers["Content-Type"] = "application/json"
end
