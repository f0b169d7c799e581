-- wrk script for bench/server_bench.mjs: POST /v1/decide, 3 slots, for profiles that exist (the
-- bench syncs PREFIX-0 .. PREFIX-(PROFILES-1) first).
--   wrk ... -s bench/wrk/decide.lua URL -- PREFIX PROFILES [KEY=pk_demo]

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local pages = { "/", "/pricing", "/shop/running-shoes/r1", "/blog/how-to-run" }
local counter = 0
local prefix, profiles, headers

function init(args)
  prefix = args[1]
  profiles = tonumber(args[2]) or 300
  local key = args[3] or "pk_demo"
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key }
end

function request()
  counter = counter + 1
  local i = counter + tid * 7919
  local body = '{"id":"' .. prefix .. "-" .. (i % profiles) ..
      '","slots":["hero","banner","sidebar"],"page":{"path":"' .. pages[i % #pages + 1] ..
      '"},"context":{"device":"mobile","locale":"en-US"}}'
  return wrk.format("POST", "/v1/decide", headers, body)
end
