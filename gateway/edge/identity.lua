-- ai4vc.identity: runs after jwt_authn and basic_auth have authenticated the caller, before rbac
-- and local_ratelimit. The control plane prepends KEYS_FILE (the file of the "key_id owner scopes
-- cost rpm" records, gateway/edge/publish.DataFiles) or KEYS (the records themselves), REVOKED
-- (logged-out session ids), and DEFAULT_COST/DEFAULT_RPM, published through RDS.
--   - API key (basic_auth set x-ai4vc-key-id): sets x-ai4vc-principal (its owner) and
--     x-ai4vc-scopes from the key's record;
--   - access token (jwt_authn set principal, scopes, session): refuses a revoked session (401)
--     and turns the token's space-separated scopes into the header's comma-separated list;
--   - answers NOT_FOUND for a REST path (/v1/..., Dhruva's /services/inference/... and /ulca/apis/...)
--     the transcoder left unmapped (the skeleton's
--     "/v1/" route brings such requests here, authenticated, instead of to a cluster);
--   - sets the rate-limit subject and cost: local_ratelimit holds one bucket of 10^9 tokens a
--     minute per (subject, method), and a call costs 10^9 / the key's requests_per_minute, so
--     per-key quotas live here (RDS) and the buckets in the listener survive every publish.
--     With SHARE Envoys behind one load balancer (the control plane counts them), a call costs
--     SHARE times that here (at most a whole bucket), so together they allow about the key's
--     requests_per_minute, not SHARE times it; x-ratelimit-remaining is this Envoy's remainder
--     in the key's terms (its requests left here times SHARE).
--
-- The records are "\n" .. lines sorted by key id (byte order) .. "\n", searched where they lie
-- (binary search over byte positions, ~25 steps for 100k keys) instead of parsed into a table:
-- Envoy runs this chunk once to check it, then once per thread, at every publish, and building a
-- 100k-entry table took ~0.25 s each time; read from a file, not lexed as a 5 MB Lua literal
-- (~0.05 s each) (bench/README.md "Per-key config cost").
local KEYS_TEXT = KEYS
if KEYS_FILE then
  -- A missing file fails this chunk where Envoy checks it: it refuses these routes and keeps the
  -- ones it runs. (The control plane writes the file first and keeps it for several publishes.)
  local file = assert(io.open(KEYS_FILE, "rb"))
  KEYS_TEXT = file:read("*a")
  file:close()
end
KEYS, KEYS_FILE = nil, nil

-- The record ("owner scopes cost rpm") of key `id`, or nil.
local function key_record(id)
  local text = KEYS_TEXT
  -- Invariant: the line of `id`, if present, starts right after a newline at a position p with
  -- lo <= p < hi. Every step moves lo up or hi down, so the loop ends.
  local lo, hi = 1, #text
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local nl = string.find(text, "\n", mid, true)
    if nl == nil or nl >= hi then
      hi = mid                                  -- no line starts in [mid, hi)
    else
      local stop = string.find(text, "\n", nl + 1, true)
      if stop == nil then return nil end        -- nl is the final newline: no line after it
      local space = string.find(text, " ", nl + 1, true)
      if space == nil or space > stop then return nil end  -- not a record line: refuse
      local found = string.sub(text, nl + 1, space - 1)
      if found == id then
        return string.sub(text, space + 1, stop - 1)
      elseif found < id then
        lo = stop                               -- past this line
      else
        hi = nl                                 -- before this line
      end
    end
  end
  return nil
end

local function split_record(record)
  return string.match(record, "^(%S+) (%S+) (%d+) (%d+)$")
end

local revoked = {}
for sid in string.gmatch(REVOKED, "%S+") do revoked[sid] = true end
REVOKED = nil

-- A REST path still here was not mapped by the transcoder (it runs first): no method of ours.
local function not_found(handle, headers)
  if headers:get("x-ai4vc-grpc") then
    handle:respond({[":status"] = "200", ["grpc-status"] = "12", ["content-type"] = "application/grpc",
                    ["grpc-message"] = "no such method"}, "")
  else
    handle:respond({[":status"] = "404", ["content-type"] = "application/json"},
      '{"code":5,"message":"no such path or method","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",' ..
      '"reason":"NOT_FOUND","domain":"ai4vc"}]}')
  end
end

function envoy_on_request(handle)
  local headers = handle:headers()
  local path = headers:get(":path") or ""
  if (string.sub(path, 1, 4) == "/v1/" and string.sub(path, 1, 7) ~= "/v1/ws/")
      or string.sub(path, 1, 20) == "/services/inference/" or string.sub(path, 1, 11) == "/ulca/apis/" then
    return not_found(handle, headers)
  end
  local id = headers:get("x-ai4vc-key-id")
  local cost, rpm
  if id then
    local record = key_record(id)
    local owner, scopes
    if record then owner, scopes, cost, rpm = split_record(record) end
    if owner == nil then
      -- basic_auth knew it but this table does not (cannot happen within one publish): refuse.
      headers:remove("x-ai4vc-key-id")
      headers:remove("x-ai4vc-principal")
      headers:remove("x-ai4vc-scopes")
      return
    end
    headers:replace("x-ai4vc-principal", owner)
    headers:replace("x-ai4vc-scopes", scopes == "-" and "" or scopes)
    headers:replace("x-ai4vc-limit-id", "k" .. id)
  else
    local principal = headers:get("x-ai4vc-principal")
    if principal == nil then return end
    local sid = headers:get("x-ai4vc-session")
    if sid and revoked[sid] then
      handle:streamInfo():dynamicMetadata():set("ai4vc", "credential", "bearer")
      if headers:get("x-ai4vc-grpc") then
        handle:respond({[":status"] = "401", ["grpc-status"] = "16", ["content-type"] = "application/grpc",
                        ["grpc-message"] = "session logged out"}, "")
      else
        handle:respond({[":status"] = "401", ["content-type"] = "application/json"},
          '{"code":16,"message":"session logged out","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",' ..
          '"reason":"UNAUTHENTICATED","domain":"ai4vc"}]}')
      end
      return
    end
    local scopes = headers:get("x-ai4vc-scopes") or ""
    headers:replace("x-ai4vc-scopes", (string.gsub(string.gsub(scopes, "^%s+", ""), "%s+", ",")))
    headers:replace("x-ai4vc-limit-id", "u" .. principal)
    cost, rpm = DEFAULT_COST, DEFAULT_RPM
  end
  if SHARE > 1 then
    headers:replace("x-ai4vc-cost", string.format("%d", math.min(tonumber(cost) * SHARE, BUCKET_TOKENS)))
  else
    headers:replace("x-ai4vc-cost", cost)
  end
  handle:streamInfo():dynamicMetadata():set("ai4vc", "cost", cost)
  handle:streamInfo():dynamicMetadata():set("ai4vc", "rpm", rpm)
end

-- x-ratelimit-* from local_ratelimit count tokens; callers are told requests.
function envoy_on_response(handle)
  local meta = handle:streamInfo():dynamicMetadata():get("ai4vc")
  if meta == nil or meta["cost"] == nil then return end
  local headers = handle:headers()
  local remaining = tonumber(headers:get("x-ratelimit-remaining") or "")
  if remaining then
    headers:replace("x-ratelimit-limit", meta["rpm"])
    headers:replace("x-ratelimit-remaining", tostring(math.floor(remaining / tonumber(meta["cost"]))))
  end
end
