-- Books one-hour spans of BOOK_ROOMS rooms, from BOOK_FIRST (midnight UTC) on, up to 700 days
-- ahead: a walk through every (room, day, hour) with a stride coprime to their number, so no
-- span repeats, except that every tenth request asks for the span of seven requests before.
local rooms = tonumber(os.getenv("BOOK_ROOMS"))
-- The first room's number (several generators on rooms of their own).
local offset = tonumber(os.getenv("BOOK_ROOM_OFFSET") or "0")
local first = tonumber(os.getenv("BOOK_FIRST"))
-- With a booking type (one hour, on the hour), each request books by type and start alone.
local booking_type = os.getenv("BOOK_TYPE")
local days = 700
local space = rooms * days * 24
local stride = 1000003
local headers = { ["Content-Type"] = "application/json" }
local n, walked = 0, 0
local recent = {}
statuses = {}

init = function(args)
  math.randomseed(20261201)
end

local function iso(t)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

request = function()
  n = n + 1
  local ask
  if n % 10 == 0 and recent[(n - 7) % 16] then
    ask = recent[(n - 7) % 16]
  else
    local i = (walked * stride) % space
    walked = walked + 1
    local room = i % rooms
    local rest = math.floor(i / rooms)
    local start = first + (rest % days) * 86400 + math.floor(rest / days) * 3600
    local body
    if booking_type then
      body = string.format('{"type":"%s","start":"%s","label":"user %d"}', booking_type,
        iso(start), math.random(1, 100000))
    else
      body = string.format('{"start":"%s","end":"%s","label":"user %d"}', iso(start),
        iso(start + 3600), math.random(1, 100000))
    end
    ask = { string.format("/calendars/room-%03d/bookings", room + offset), body }
  end
  recent[n % 16] = ask
  return wrk.format("POST", ask[1], headers, ask[2])
end

response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

local threads = {}
setup = function(thread)
  table.insert(threads, thread)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("LOAD_RESULT %d %d %.0f %.0f %d %d\n", summary.requests,
    summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
  local total = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      total[status] = (total[status] or 0) + count
    end
  end
  local line = "STATUSES"
  for status, count in pairs(total) do
    line = line .. string.format(" %d=%d", status, count)
  end
  io.write(line .. "\n")
end
