-- wrk script for bench/server_bench.mjs: POST /v1/sync with realistic device deltas. FILE holds
-- one device's sync request per line, without its id: `"delta":{...},"versions":[...]}` (made by
-- the bench with the wasm engine: ~20 events per device, engine.syncRequest(null)). Request n of
-- thread t sends line (n + t * 7919) % lines to profile PREFIX-((n + t * 7919) % PROFILES): many
-- profiles spread the writes over many rows; PROFILES=10 is the hot-profile variant (every sync
-- queues behind the others of its profile: the one-at-a-time merge).
--   wrk ... -s bench/wrk/sync.lua URL -- FILE PREFIX PROFILES [KEY=pk_demo]

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local lines = {}
local counter = 0
local prefix, profiles, headers

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then lines[#lines + 1] = line end
  end
  assert(#lines > 0, "sync.lua: no device states in " .. tostring(args[1]))
  prefix = args[2]
  profiles = tonumber(args[3]) or 1000
  local key = args[4] or "pk_demo"
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key }
end

function request()
  counter = counter + 1
  local i = counter + tid * 7919
  local body = '{"id":"' .. prefix .. "-" .. (i % profiles) .. '",' .. lines[i % #lines + 1]
  return wrk.format("POST", "/v1/sync", headers, body)
end
