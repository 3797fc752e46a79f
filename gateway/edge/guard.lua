-- ai4vc.guard: runs after the transcoder (the path is the gRPC method for REST callers too) and
-- before jwt_authn/basic_auth. The control plane (gateway/edge/publish.py) prepends BLOCKS, a
-- long string of "kind subject until reason" lines, and publishes it through RDS.
--   1. refuses blocked client addresses, (address, key id) pairs and quota-exhausted keys (429);
--   2. reshapes the API key (x-api-key, an authorization header holding nothing but the raw key as
--      Dhruva / Bhashini clients send it, or the WebSocket sub-protocol ai4vc-key.<key>) into
--      "authorization: Basic base64(<key id>:<secret>)" for basic_auth, and ai4vc-bearer.<token>
--      into "authorization: Bearer <token>" for jwt_authn;
--   3. notes the credential kind and key id in dynamic metadata for the access log, from which the
--      control plane counts failed authentications.
local blocked = {}
for kind, subject, untils, reason in string.gmatch(BLOCKS, "(%a) (%S+) (%d+) (%S+)") do
  blocked[kind .. subject] = {tonumber(untils), reason}
end
BLOCKS = nil

local WS_PROTOCOL = "ai4vc.v1"

-- MESSAGES and DETAILS (base64 google.rpc.Status per reason) are prepended with BLOCKS.
local function refuse(handle, grpc, entry)
  local wait = entry[1] - os.time()
  if wait < 1 then wait = 1 end
  local reason = entry[2]
  local message = MESSAGES[reason] or reason
  if grpc then
    handle:respond({[":status"] = "429", ["grpc-status"] = "8", ["grpc-message"] = message,
                    ["grpc-status-details-bin"] = DETAILS[reason], ["retry-after"] = tostring(wait),
                    ["content-type"] = "application/grpc"}, "")
  else
    handle:respond({[":status"] = "429", ["content-type"] = "application/json", ["retry-after"] = tostring(wait)},
      '{"code":8,"message":"' .. message .. '","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo",' ..
      '"reason":"' .. reason .. '","domain":"ai4vc"},{"@type":"type.googleapis.com/google.rpc.RetryInfo",' ..
      '"retryDelay":"' .. wait .. 's"}]}')
  end
end

local function active(entry, now)
  return entry ~= nil and entry[1] > now
end

function envoy_on_request(handle)
  local headers = handle:headers()
  local grpc = headers:get("x-ai4vc-grpc") ~= nil
  local now = os.time()
  local address = handle:streamInfo():downstreamRemoteAddress() or ""
  address = string.match(address, "^%[?([^%]]*)%]?:%d+$") or address
  local entry = blocked["a" .. address]
  if active(entry, now) then
    return refuse(handle, grpc, entry)
  end
  local key = headers:get("x-api-key")
  -- Dhruva's and Bhashini's clients send the raw key as "authorization: <key>". Only a value of
  -- our key's exact shape is taken as one; Bearer tokens go on to jwt_authn, and any other value
  -- (a client's own Basic header included) is refused below as before.
  local authorization = headers:get("authorization")
  if not key and authorization and string.match(authorization, "^%s*ai4vc_[0-9a-f]+_[0-9a-f]+%s*$") then
    key = authorization
  end
  local bearer = nil
  local offered = headers:get("sec-websocket-protocol")
  if offered and not key and not headers:get("authorization") then
    for item in string.gmatch(offered, "[^,%s]+") do
      if string.sub(item, 1, 10) == "ai4vc-key." then key = string.sub(item, 11) end
      if string.sub(item, 1, 13) == "ai4vc-bearer." then bearer = string.sub(item, 14) end
    end
    if key or bearer then
      -- The upstream sees only the protocol it must select, never the credential.
      headers:replace("sec-websocket-protocol", WS_PROTOCOL)
    end
  end
  local meta = handle:streamInfo():dynamicMetadata()
  if key then
    headers:remove("x-api-key")
    local id, secret = string.match(key, "^%s*ai4vc_([0-9a-f]+)_([0-9a-f]+)%s*$")
    if id and #id <= 64 and #secret <= 256 then
      meta:set("ai4vc", "credential", "key")
      meta:set("ai4vc", "key_id", id)
      entry = blocked["p" .. address .. "|" .. id]
      if active(entry, now) then
        return refuse(handle, grpc, entry)
      end
      entry = blocked["k" .. id]
      if active(entry, now) then
        return refuse(handle, grpc, entry)
      end
      headers:replace("authorization", "Basic " .. handle:base64Escape(id .. ":" .. secret))
    else
      -- Malformed: basic_auth answers 401 (no credential it can check).
      meta:set("ai4vc", "credential", "malformed")
      headers:replace("authorization", "Basic -")
    end
    return
  end
  if bearer then
    headers:replace("authorization", "Bearer " .. bearer)
  end
  authorization = headers:get("authorization")
  if authorization then
    if string.sub(authorization, 1, 7) == "Bearer " then
      meta:set("ai4vc", "credential", "bearer")
    else
      -- Only API keys travel as Basic, and only as x-api-key: a client's own Basic header is not a
      -- way around the blocks above.
      meta:set("ai4vc", "credential", "other")
      headers:replace("authorization", "Basic -")
    end
  end
end
