-- wrk script for bench/threads.mjs: each connection waits 5 ms between requests, so the cheap
-- route is a light load and its latency is the time a request waits for the event loop.
function delay()
  return 5
end
