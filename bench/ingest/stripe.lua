-- wrk script for bench/ingest.py: every request is a correctly signed Stripe delivery with a
-- unique event id (and checkout session id), signed the way Stripe does it:
--   Stripe-Signature: t=<unix ts>,v1=hex(HMAC-SHA256(secret, "<ts>.<body>"))
-- HMAC comes from OpenSSL's libcrypto through LuaJIT's FFI (wrk embeds LuaJIT).
--
-- Environment: BENCH_SECRET (whsec_…), BENCH_TEMPLATE (file with a checkout.session.completed
-- event containing __EVT__ and __CS__ placeholders), BENCH_PREFIX (unique per run).
-- Prints one JSON line at the end: requests, duration, errors, latency percentiles (ms).

local ffi = require("ffi")
ffi.cdef [[
typedef struct evp_md_st EVP_MD;
const EVP_MD *EVP_sha256(void);
unsigned char *HMAC(const EVP_MD *evp_md, const void *key, int key_len,
                    const unsigned char *d, size_t n, unsigned char *md, unsigned int *md_len);
]]
local crypto = ffi.load("libcrypto.so.3")

local secret = os.getenv("BENCH_SECRET") or "whsec_bench"
local prefix = os.getenv("BENCH_PREFIX") or "run"
local template
do
  local f = assert(io.open(os.getenv("BENCH_TEMPLATE"), "rb"))
  template = f:read("*a")
  f:close()
end

local out = ffi.new("unsigned char[32]")
local outlen = ffi.new("unsigned int[1]")
local function hmac_hex(message)
  crypto.HMAC(crypto.EVP_sha256(), secret, #secret, message, #message, out, outlen)
  local parts = {}
  for i = 0, 31 do
    parts[i + 1] = string.format("%02x", out[i])
  end
  return table.concat(parts)
end

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local key = prefix .. "_" .. tid .. "_" .. counter
  local body = template:gsub("__EVT__", "evt_" .. key):gsub("__CS__", "cs_" .. key)
  local ts = tostring(os.time())
  local headers = {
    ["Content-Type"] = "application/json",
    ["Stripe-Signature"] = "t=" .. ts .. ",v1=" .. hmac_hex(ts .. "." .. body),
  }
  return wrk.format("POST", "/webhooks/stripe/", headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, "write_errors": %d, ' ..
    '"status_errors": %d, "timeouts": %d, "p50_ms": %.2f, "p90_ms": %.2f, "p99_ms": %.2f, "max_ms": %.2f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
