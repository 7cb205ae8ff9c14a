-- wrk script: each request takes the next path from PATHS_FILE (presigned
-- URLs), with METHOD and, for PUT, a body of BODY_BYTES bytes; or, for a POST
-- form, the body in BODY_FILE sent with CONTENT_TYPE.
--
-- Requests with a body are built once, in init: building a fresh 1 MiB string
-- per request made wrk, not the server, the bottleneck (3 s of wrk CPU per 6 s
-- run, a third of the PUT rate lost, session 27). The prebuilt set holds at
-- most POOL_BYTES per thread, so large bodies rotate over fewer keys (and
-- overwrite them) than small ones.
local paths = {}
local prebuilt = {}
local index = 0
local method = os.getenv("METHOD") or "GET"
local pool_bytes = tonumber(os.getenv("POOL_BYTES") or tostring(128 * 2 ^ 20))

local function body_and_headers()
  local n = tonumber(os.getenv("BODY_BYTES") or "0")
  if n > 0 then return string.rep("x", n), {} end
  if os.getenv("BODY_FILE") then
    local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
    local body = f:read("*a")
    f:close()
    return body, { ["Content-Type"] = os.getenv("CONTENT_TYPE") }
  end
  return nil, {}
end

function init(args)
  for line in io.lines(os.getenv("PATHS_FILE")) do
    paths[#paths + 1] = line
  end
  local body, headers = body_and_headers()
  if body then
    local count = math.max(1, math.min(#paths, math.floor(pool_bytes / #body)))
    -- Threads start at different offsets so they do not write the same keys.
    local first = math.random(#paths)
    for i = 0, count - 1 do
      local path = paths[(first + i) % #paths + 1]
      prebuilt[#prebuilt + 1] = wrk.format(method, path, headers, body)
    end
  end
  index = math.random(#paths)
end

function request()
  if #prebuilt > 0 then
    index = index % #prebuilt + 1
    return prebuilt[index]
  end
  index = index % #paths + 1
  return wrk.format(method, paths[index])
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
                 summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests/s=%.1f errors=%d p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests / (summary.duration / 1e6), errors,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
