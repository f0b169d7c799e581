-- wrk script for bench/server_bench.mjs: POST /v1/collect with batches of events whose ids are
-- unique across the whole run (run nonce + wrk thread id + request counter + index in batch), so
-- every request is a write, never a deduplication hit.
--   wrk ... -s bench/wrk/collect.lua URL -- NONCE T0_MS [BATCH=20] [KEY=pk_demo]
-- Anonymous ids: c-NONCE-THREAD-(counter % 100); the bench checks c-NONCE-1-0 afterwards.

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local templates = {
  '{"id":"%s","type":"page_view","t":%d,"page":{"path":"/pricing"}}',
  '{"id":"%s","type":"page_view","t":%d,"page":{"path":"/shop/running-shoes/r%d"}}',
  '{"id":"%s","type":"add_to_cart","t":%d,"props":{"sku":"run-%d"}}',
  '{"id":"%s","type":"page_view","t":%d,"page":{"path":"/","title":"Home"}}',
  '{"id":"%s","type":"purchase","t":%d,"props":{"value":%d}}',
}
local counter = 0
local nonce, t0, batch, headers, prefix

function init(args)
  nonce = args[1] or tostring(os.time())
  t0 = tonumber(args[2]) or os.time() * 1000
  batch = tonumber(args[3]) or 20
  local key = args[4] or "pk_demo"
  headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. key }
  prefix = nonce .. "-" .. tid .. "-"
end

function request()
  counter = counter + 1
  local events = {}
  for k = 1, batch do
    local tpl = templates[(counter + k) % #templates + 1]
    events[k] = string.format(tpl, prefix .. counter .. "-" .. k, t0 + counter + k, k)
  end
  local body = '{"anonymous_id":"c-' .. nonce .. "-" .. tid .. "-" .. (counter % 100) ..
      '","events":[' .. table.concat(events, ",") .. "]}"
  return wrk.format("POST", "/v1/collect", headers, body)
end
