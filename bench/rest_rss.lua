-- wrk script for bench/rest_rss.sh: GET /companies with one of 100,000
-- distinct bearer tokens per request (the gateway's memory must not grow
-- with the number of tokens).
local n = 0
request = function()
    n = n + 1
    local tok = string.format("token-%06d-%s", n % 100000, string.rep("x", 200))
    return wrk.format("GET", "/companies", { ["Authorization"] = "Bearer " .. tok })
end
