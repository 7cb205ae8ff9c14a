-- wrk script: each request takes the next path from PATHS_FILE (presigned
-- URLs), with METHOD and, for PUT, a body of BODY_BYTES bytes; or, for a POST
-- form, the body in BODY_FILE sent with CONTENT_TYPE.
local paths = {}
local index = 0
local method = os.getenv("METHOD") or "GET"
local body = nil
local headers = {}

function init(args)
  for line in io.lines(os.getenv("PATHS_FILE")) do
    paths[#paths + 1] = line
  end
  local n = tonumber(os.getenv("BODY_BYTES") or "0")
  if n > 0 then body = string.rep("x", n) end
  if os.getenv("BODY_FILE") then
    local f = assert(io.open(os.getenv("BODY_FILE"), "rb"))
    body = f:read("*a")
    f:close()
    headers["Content-Type"] = os.getenv("CONTENT_TYPE")
  end
  -- Threads start at different offsets so they do not write the same keys.
  index = math.random(#paths)
end

function request()
  index = index % #paths + 1
  if body then
    headers["Content-Length"] = tostring(#body)
    return wrk.format(method, paths[index], headers, body)
  end
  return wrk.format(method, paths[index])
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read +
                 summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests/s=%.1f errors=%d p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests / (summary.duration / 1e6), errors,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
