"""The control plane's renderer: the route skeleton + the policy + the per-key data → the
RouteConfiguration Envoy gets by RDS. Pure functions (and the KeyTable cache), no I/O but reading
the Lua sources.

Where each piece of per-key data goes (all in the virtual host's `typed_per_filter_config`, so a
publish is an RDS update and never drains the listener):

- `ai4vc.basic_auth` (BasicAuthPerRoute): `<key id>:{SHA}<hash>` per active key — a hashed
  lookup in Envoy, whatever the number of keys;
- `ai4vc.identity` (Lua): key → owner, scopes, rate-limit cost as one sorted records string the
  code binary-searches in place; revoked sessions — a Lua table (RBAC would compare principals
  one by one: 100k keys make it linear);
- `ai4vc.guard` (Lua): blocked addresses, (address, key) pairs and quota-exhausted keys;
- `envoy.filters.http.rbac` (RBACPerRoute): the scope policy of `gateway.policy`, as rules on the
  gRPC path and the x-ai4vc-scopes / x-ai4vc-principal headers — no per-key entries at all.

Scale (issue 9: a change live within 1 s at 100k keys; measured by `python -m bench.edge_config`,
bench/README.md "Per-key config cost"). At 100k keys the old single document (9.9 MB of
routes.json) took Envoy 0.9-1.4 s to apply, and `--breakdown` showed where: the JSON parse of the
two ~5 MB strings (0.25-0.55 s: the same bytes in an unused field cost as much), the identity
code turning its records into a 100k-entry Lua table (0.14-1.1 s: Envoy runs the chunk once to
check it plus once per thread), lexing those records as a 5 MB Lua literal (~0.15 s), basic_auth's
htpasswd parse (~0.05-0.1 s); the render of every key came on top (0.2-0.3 s). Hence, instead of
sharding:

- the users and the key records are `store`d (gateway.edge.publish.DataFiles: files beside the
  routes that basic_auth reads as a DataSource and the identity code through Lua's io, as they
  are — no JSON, no lexing), so routes.json stays a few KB whatever the number of keys;
- the identity code searches the sorted records where they lie (O(log n), ~1 µs a call at 100k),
  so loading it costs a file read per Lua state instead of building a table;
- `KeyTable` keeps both texts and splices a changed key's line in (~10 ms at 100k): a publish
  after one change renders one key, not all of them.

Measured after: one revocation at 100k keys is live in ~0.1 s (render + write + apply; 0.25-0.4 s
on the loaded machine), 1k and 10k faster than before too. What stays linear per change is
basic_auth's parse and the records read; sharding by key-id prefix (an ECDS filter per shard
behind a matcher on a shard header the guard sets) removes that, and is the step past ~1M keys
(bench/README.md). At 100k it is not needed.
"""

from __future__ import annotations

import base64
import bisect
import copy
import dataclasses
import functools
import importlib
import itertools
import re
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, ValuesView
from pathlib import Path
from typing import Any

from google.api import annotations_pb2
from google.rpc import error_details_pb2, status_pb2

from gateway import policy

LUA_DIR = Path(__file__).parent
BUCKET_TOKENS = 1_000_000_000  # equals deploy.local.envoy_config.BUCKET_TOKENS (the listener's buckets)
FILTER_CONFIG = "type.googleapis.com/envoy.config.route.v3.FilterConfig"
LUA_PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.lua.v3.LuaPerRoute"
BASIC_AUTH_PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.basic_auth.v3.BasicAuthPerRoute"
RBAC_PER_ROUTE = "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBACPerRoute"
ROUTE_CONFIGURATION = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration"
# Filters a public method skips: it needs no credential (and one it carries is not checked).
AUTH_FILTERS = ("ai4vc.guard", "envoy.filters.http.jwt_authn", "ai4vc.basic_auth", "ai4vc.identity")
MESSAGES = {
    "FAILED_ATTEMPTS": "too many failed authentication attempts",
    "DAILY_QUOTA_EXCEEDED": "daily quota exhausted: the key's characters or audio seconds for today (UTC) are used up",
}
_SAFE = re.compile(r"^[A-Za-z0-9._:|\[\]-]+$")
# What the guard accepts as a key id (gateway/edge/guard.lua); no other id can reach the filters.
_KEY_ID = re.compile(r"^[0-9a-f]{1,64}$")


@dataclasses.dataclass(frozen=True)
class EdgeKey:
    """An active API key as the edge needs it."""

    key_id: str
    owner: str
    scopes: frozenset[str]
    edge_hash: str  # "{SHA}<base64 sha1(secret)>"; "" for a key that predates it (refused at the edge)
    requests_per_minute: int = 0
    audio_seconds_per_day: int = 0
    characters_per_day: int = 0


@dataclasses.dataclass(frozen=True)
class Block:
    """One refusal the guard applies until `until` (unix seconds): kind "a" (address), "p"
    ("<address>|<key id>"), "k" (key id)."""

    kind: str
    subject: str
    until: int
    reason: str


@functools.lru_cache(maxsize=4096)
def cost(requests_per_minute: int) -> int:
    """Tokens one call takes from its minute bucket of BUCKET_TOKENS."""
    return max(1, BUCKET_TOKENS // max(1, requests_per_minute))


def _status_details(reason: str) -> str:
    status = status_pb2.Status(code=8, message=MESSAGES[reason])
    status.details.add().Pack(error_details_pb2.ErrorInfo(reason=reason, domain="ai4vc"))
    return base64.b64encode(status.SerializeToString()).decode()


def _lua_table(values: Mapping[str, str]) -> str:
    return "{" + ", ".join(f'{k} = "{v}"' for k, v in values.items()) + "}"


def guard_source(blocks: Iterable[Block]) -> str:
    lines = "\n".join(f"{b.kind} {b.subject} {b.until} {b.reason}" for b in blocks
                      if _SAFE.match(b.subject) and b.reason in MESSAGES)
    details = {reason: _status_details(reason) for reason in MESSAGES}
    return (f"BLOCKS = [==[\n{lines}\n]==]\nMESSAGES = {_lua_table(MESSAGES)}\nDETAILS = {_lua_table(details)}\n"
            + (LUA_DIR / "guard.lua").read_text())


@functools.lru_cache(maxsize=4096)
def _scopes_text(scopes: frozenset[str]) -> str:
    return ",".join(sorted(scopes)) or "-"


@functools.lru_cache(maxsize=65536)
def _safe(text: str) -> bool:
    return bool(_SAFE.match(text))


def identity_line(key: EdgeKey, default_rpm: int) -> str:
    """The key's record for ai4vc.identity ("key_id owner scopes cost rpm"); "" for a key whose
    owner would not survive the Lua string (never such a key in practice: owners are ids)."""
    if not _safe(key.owner) or not _KEY_ID.match(key.key_id):
        return ""
    rpm = key.requests_per_minute or default_rpm
    return f"{key.key_id} {key.owner} {_scopes_text(key.scopes)} {cost(rpm)} {rpm}"


@dataclasses.dataclass(frozen=True)
class KeyTexts:
    """The per-key texts of one publish, each line ending in a newline, in key-id order: basic_auth's
    users and ai4vc.identity's records. Immutable, so a render in another thread sees one state."""

    users: str
    records: str


class KeyTable(Mapping[str, EdgeKey]):
    """The active keys by id, and the two texts a publish needs (basic_auth's users, identity's
    records in key-id order, one line per key) kept up to date as keys change: a change splices
    its key's line into each text (a search and a copy of ~5 MB at 100k keys, a few ms) instead
    of rendering every key again (~0.2-0.3 s), and a full build is one join, as a render was."""

    def __init__(self, default_rpm: int, keys: Iterable[EdgeKey] = ()) -> None:
        self.default_rpm = default_rpm
        self._keys: dict[str, EdgeKey] = {}
        self._ids: list[str] = []  # sorted (byte order = the identity code's binary search order)
        # "\n" + lines, each ending in "\n": every line starts after a newline, so "\n<id>:" and
        # "\n<id> " find a key's line (ids are hex: no ":" or " " in them). Only the records need
        # an order (identity.lua searches them); basic_auth hashes its users, new ones go last.
        self._users = "\n"
        self._records = "\n"
        self._texts: KeyTexts | None = None
        self._limited: dict[str, EdgeKey] = {}
        self.replace(keys)

    def __getitem__(self, key_id: str) -> EdgeKey:
        return self._keys[key_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)

    # The dict's own views and lookups: Mapping's would call __getitem__ per key in Python, and the
    # control plane reads these every quota poll.
    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def get(self, key_id: str, default: Any = None) -> Any:
        return self._keys.get(key_id, default)

    def values(self) -> ValuesView[EdgeKey]:
        return self._keys.values()

    def items(self) -> ItemsView[str, EdgeKey]:
        return self._keys.items()

    def limited(self) -> list[EdgeKey]:
        """The keys with a daily quota (kept as keys change: the quota poller reads them often)."""
        return list(self._limited.values())

    def copy(self) -> dict[str, EdgeKey]:
        return dict(self._keys)

    def _user(self, key: EdgeKey) -> str:
        ok = key.edge_hash.startswith("{SHA}") and _KEY_ID.match(key.key_id)
        return f"{key.key_id}:{key.edge_hash}\n" if ok else ""

    def _record(self, key: EdgeKey) -> str:
        line = identity_line(key, self.default_rpm)
        return f"{line}\n" if line else ""

    def _build(self, keys: Iterable[EdgeKey]) -> tuple[str, str, dict[str, EdgeKey]]:
        """Both texts of `keys`: _user and _record inlined, keys read in the order they were made
        and the lines sorted after (per-key calls, and reading 100k keys in id order — scattered
        in memory — each made a build twice as slow as the render it replaces)."""
        users, records, limited = [], [], {}
        default_rpm, valid, safe, scopes_text, tokens = self.default_rpm, _KEY_ID.match, _safe, _scopes_text, cost
        for key in keys:
            key_id = key.key_id
            if key.characters_per_day or key.audio_seconds_per_day:
                limited[key_id] = key
            if not valid(key_id):
                continue
            if key.edge_hash.startswith("{SHA}"):
                users.append(f"{key_id}:{key.edge_hash}\n")
            if safe(key.owner):
                rpm = key.requests_per_minute or default_rpm
                records.append(f"{key_id} {key.owner} {scopes_text(key.scopes)} {tokens(rpm)} {rpm}\n")
        # Line order is id order: " " sorts before every hex digit, so an id that is a prefix of
        # another sorts first, as in identity.lua's comparison.
        records.sort()
        return "\n" + "".join(users), "\n" + "".join(records), limited

    @staticmethod
    def _splice(text: str, key_id: str, sep: str, line: str, successors: Iterable[str]) -> str:
        """`text` with key_id's line (if any) replaced by `line` ("" removes it); a new line goes
        before the first of `successors` (the ids after key_id, in order) that has one."""
        at = text.find(f"\n{key_id}{sep}")
        if at >= 0:
            end = text.index("\n", at + 1)
            return text[:at + 1] + line + text[end + 1:]
        if not line:
            return text
        for successor in successors:
            at = text.find(f"\n{successor}{sep}")
            if at >= 0:
                return text[:at + 1] + line + text[at + 1:]
        return text + line

    def _successors(self, at: int) -> Iterator[str]:
        return itertools.islice(self._ids, at, None)

    def put(self, key: EdgeKey) -> None:
        old = self._keys.get(key.key_id)
        if old == key:
            return
        at = bisect.bisect_left(self._ids, key.key_id)
        if old is None:
            self._ids.insert(at, key.key_id)
        self._keys[key.key_id] = key
        user, record = self._user(key), self._record(key)
        if old is None or self._user(old) != user:
            self._users = self._splice(self._users, key.key_id, ":", user, ())
        if old is None or self._record(old) != record:
            self._records = self._splice(self._records, key.key_id, " ", record, self._successors(at + 1))
        self._note_limited(key)
        self._texts = None

    def discard(self, key_id: str) -> None:
        if self._keys.pop(key_id, None) is None:
            return
        del self._ids[bisect.bisect_left(self._ids, key_id)]
        self._users = self._splice(self._users, key_id, ":", "", ())
        self._records = self._splice(self._records, key_id, " ", "", ())
        self._limited.pop(key_id, None)
        self._texts = None

    def _note_limited(self, key: EdgeKey) -> None:
        if key.characters_per_day or key.audio_seconds_per_day:
            self._limited[key.key_id] = key
        else:
            self._limited.pop(key.key_id, None)

    @staticmethod
    def changes(keys: Iterable[EdgeKey], known: Mapping[str, EdgeKey]) -> tuple[list[EdgeKey], list[str]]:
        """What turns `known` (a copy of a table's keys) into `keys`: the new or changed keys and
        the ids gone. Reads no shared state, so the full re-read runs it in a worker thread."""
        fresh = {k.key_id: k for k in keys}
        if not known:
            return list(fresh.values()), []
        changed = [k for k in fresh.values() if known.get(k.key_id) != k]
        return changed, [key_id for key_id in known if key_id not in fresh]

    def update(self, changed: Iterable[EdgeKey], gone: Iterable[str]) -> None:
        """Applies `changes`: a few one by one, many (the first load) by one build of the texts."""
        changed, gone = list(changed), list(gone)
        if len(changed) + len(gone) <= 200:
            for key_id in gone:
                self.discard(key_id)
            for key in changed:
                self.put(key)
            return
        keys = dict(self._keys)
        for key_id in gone:
            keys.pop(key_id, None)
        for key in changed:
            keys[key.key_id] = key
        self._keys = keys
        self._ids = sorted(keys)
        self._users, self._records, self._limited = self._build(keys.values())
        self._texts = None

    def replace(self, keys: Iterable[EdgeKey]) -> None:
        """Makes the table hold exactly `keys`; only the keys that differ are rendered."""
        self.update(*self.changes(keys, self._keys))

    def texts(self) -> KeyTexts:
        """The texts of the keys as they are now (the same objects until a key changes). Call it
        where the table changes (the event loop), and render from the result anywhere."""
        if self._texts is None:
            self._texts = KeyTexts(self._users[1:], self._records[1:])
        return self._texts


def _texts(keys: Iterable[EdgeKey] | KeyTable | KeyTexts, default_rpm: int) -> KeyTexts:
    if isinstance(keys, KeyTexts):
        return keys
    if isinstance(keys, KeyTable):
        return keys.texts() if keys.default_rpm == default_rpm else KeyTable(default_rpm, keys.values()).texts()
    return KeyTable(default_rpm, keys).texts()


def identity_source(keys: Iterable[EdgeKey] | KeyTable | KeyTexts, revoked_sessions: Iterable[str],
                    default_rpm: int, store: Callable[[str, str], dict[str, str]] | None = None,
                    share: int = 1) -> str:
    """ai4vc.identity's code. The key records are one string the code searches where it lies (a
    Lua chunk holds at most 65,536 constants, so a table literal of 100k keys would not load, and
    parsing the string into a table cost ~0.25 s per Lua state at 100k): in a file the code reads
    at load when `store` gives one, else a long string literal. `share`: how many Envoys a key's
    requests_per_minute is divided across (each call then costs `share` times its tokens here)."""
    if share < 1:
        raise ValueError("share must be at least 1")
    records = "\n" + _texts(keys, default_rpm).records
    source = (store or inline)("records", records)
    if "filename" in source:
        head = f"KEYS_FILE = [==[{source['filename']}]==]\n"
    else:
        # The long bracket drops the newline right after it; the records keep their first one.
        head = f"KEYS = [==[\n{records}]==]\n"
    sessions = "\n".join(s for s in revoked_sessions if _SAFE.match(s))
    return (f"{head}REVOKED = [==[\n{sessions}\n]==]\n"
            f'DEFAULT_COST, DEFAULT_RPM = "{cost(default_rpm)}", "{default_rpm}"\n'
            f"SHARE, BUCKET_TOKENS = {share}, {BUCKET_TOKENS}\n"
            + (LUA_DIR / "identity.lua").read_text())


def htpasswd(keys: Iterable[EdgeKey]) -> str:
    return _texts(keys, 0).users.rstrip("\n")


# -- policy → RBAC -----------------------------------------------------------------------------

def _scopes_principal(scope: str) -> dict[str, Any]:
    names = sorted({scope, "admin"})
    return {"header": {"name": "x-ai4vc-scopes", "string_match": {
        "safe_regex": {"regex": f"(^|.*,)({'|'.join(map(re.escape, names))})(,.*|$)"}}}}


def _principals(rule: policy.Rule) -> list[dict[str, Any]]:
    if rule.access is policy.Access.PUBLIC:
        return [{"any": True}]
    if rule.access is policy.Access.AUTHENTICATED:
        return [{"header": {"name": "x-ai4vc-principal", "present_match": True}}]
    return [_scopes_principal(rule.scope)]


def rbac_policies() -> dict[str, Any]:
    """`gateway.policy` as RBAC policies (action ALLOW; what no policy allows is 403). A service's
    policy excludes the methods that have rules of their own, so the more specific rule decides."""
    policies: dict[str, Any] = {}
    for path, rule in {**policy.METHOD_RULES, **policy.PATH_RULES}.items():
        if rule.access is not policy.Access.DENY:
            policies[path] = {"permissions": [{"url_path": {"path": {"exact": path}}}],
                              "principals": _principals(rule)}
    for prefix, rule in policy.PREFIX_RULES.items():
        if rule.access is not policy.Access.DENY:
            policies[prefix] = {"permissions": [{"url_path": {"path": {"prefix": prefix}}}],
                                "principals": _principals(rule)}
    for service, rule in policy.SERVICE_RULES.items():
        if rule.access is policy.Access.DENY:
            continue
        prefix = f"/{service}/"
        own = [p for p in policy.METHOD_RULES if p.startswith(prefix)]
        permission: dict[str, Any] = {"url_path": {"path": {"prefix": prefix}}}
        if own:
            permission = {"and_rules": {"rules": [permission, {"not_rule": {"or_rules": {"rules": [
                {"url_path": {"path": {"exact": p}}} for p in own]}}}]}}
        policies[service] = {"permissions": [permission], "principals": _principals(rule)}
    return policies


def _public(route: dict[str, Any]) -> bool:
    match = route.get("match", {})
    path = match.get("path") or match.get("prefix", "")
    if "path" in match:
        return policy.rule_for(path).access is policy.Access.PUBLIC
    if path in policy.PREFIX_RULES:
        return policy.PREFIX_RULES[path].access is policy.Access.PUBLIC
    # A prefix route: public when its whole service is ("/grpc.reflection." covers both versions).
    services = [s for s in policy.SERVICE_RULES if f"/{s}/".startswith(path)]
    return bool(services) and all(policy.SERVICE_RULES[s].access is policy.Access.PUBLIC for s in services)


def rest_bindings(grpc_path: str) -> list[tuple[str, str]]:
    """(HTTP verb, path) of each literal google.api.http binding of the method at `grpc_path`
    ("/pkg.Service/Method"), read from its generated module; templated paths are left out (no
    public method has one)."""
    service, _, method = grpc_path.strip("/").partition("/")
    package, _, name = service.rpartition(".")
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    try:
        module = importlib.import_module(f"{package}.{snake}_pb2")
        descriptor = module.DESCRIPTOR.services_by_name[name].methods_by_name[method]
    except (ImportError, KeyError):
        return []
    rule = descriptor.GetOptions().Extensions[annotations_pb2.http]
    out = []
    for binding in (rule, *rule.additional_bindings):
        verb = binding.WhichOneof("pattern")
        if verb and verb != "custom" and "{" not in getattr(binding, verb):
            out.append((verb.upper(), getattr(binding, verb)))
    return out


def _disable_auth(route: dict[str, Any]) -> None:
    per_filter = route.setdefault("typed_per_filter_config", {})
    for name in AUTH_FILTERS:
        per_filter[name] = {"@type": FILTER_CONFIG, "disabled": True}


def inline(name: str, content: str) -> dict[str, str]:
    """A DataSource holding `content` itself (the default: one self-contained document)."""
    return {"inline_string": content}


def routes(skeleton: Mapping[str, Any], keys: Iterable[EdgeKey] | KeyTable | KeyTexts, blocks: Iterable[Block],
           revoked_sessions: Iterable[str], default_rpm: int,
           store: Callable[[str, str], dict[str, str]] = inline, share: int = 1) -> dict[str, Any]:
    """The complete RouteConfiguration: `skeleton` (from deploy.local.envoy_config.render_routes) with
    public methods routed past the credential filters and the per-key data in the virtual host.
    `store(name, content)` gives the DataSource of each big per-key text ("users", "records"):
    inline, or a file read as it is (gateway.edge.publish.DataFiles)."""
    texts = _texts(keys, default_rpm)
    users = texts.users.rstrip("\n")
    # basic_auth refuses an empty list; a user no secret matches stands in.
    users_source = store("users", users or "ai4vc-nobody:{SHA}AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
    identity_code = identity_source(texts, revoked_sessions, default_rpm, store, share)
    guard_code = guard_source(blocks)
    config = copy.deepcopy(dict(skeleton))
    for vhost in config["virtual_hosts"]:
        out = []
        for route in vhost["routes"]:
            prefix = route.get("match", {}).get("prefix", "")
            # Public methods of a service that is not public: a route of their own, ahead of it.
            for path, rule in policy.METHOD_RULES.items():
                if prefix and path.startswith(prefix) and rule.access is policy.Access.PUBLIC:
                    public = copy.deepcopy(route)
                    public["match"] = {"path": path}
                    _disable_auth(public)
                    out.append(public)
                    # Its REST paths too: Envoy decides which filters run on the route the request
                    # matches before the transcoder rewrites the path to the gRPC method's.
                    for verb, rest_path in rest_bindings(path):
                        rest = copy.deepcopy(public)
                        rest["match"] = {"path": rest_path, "headers": [
                            {"name": ":method", "string_match": {"exact": verb}}]}
                        out.append(rest)
            # The catch-alls (no such path or method) keep every filter: which filters run is
            # decided on the route a request matches *before* the transcoder rewrites a REST
            # path, and every REST path matches a catch-all then.
            if route.get("match", {}).get("prefix") != "/" and _public(route):
                _disable_auth(route)
            out.append(route)
        vhost["routes"] = out
        per_filter = vhost.setdefault("typed_per_filter_config", {})
        per_filter["ai4vc.guard"] = {"@type": LUA_PER_ROUTE, "source_code": {"inline_string": guard_code}}
        per_filter["ai4vc.identity"] = {"@type": LUA_PER_ROUTE, "source_code": {"inline_string": identity_code}}
        per_filter["ai4vc.basic_auth"] = {"@type": BASIC_AUTH_PER_ROUTE, "users": users_source}
        routed = [{"url_path": {"path": {"exact": r["match"]["path"]} if "path" in r["match"]
                                else {"prefix": r["match"]["prefix"]}}}
                  for r in vhost["routes"] if "route" in r]
        policies = rbac_policies()
        # A path no service route takes ends in Envoy's own NOT_FOUND / UNIMPLEMENTED: any
        # authenticated caller may hear that (a wrong scope is not the problem there).
        policies["unrouted"] = {"permissions": [{"not_rule": {"or_rules": {"rules": routed}}}],
                                "principals": [{"any": True}]}
        per_filter["envoy.filters.http.rbac"] = {"@type": RBAC_PER_ROUTE, "rbac": {
            "rules": {"action": "ALLOW", "policies": policies}}}
    return config


def discovery_response(route_config: Mapping[str, Any], version: str) -> dict[str, Any]:
    """What Envoy's file-based RDS reads: a DiscoveryResponse holding the one RouteConfiguration."""
    return {"version_info": version, "resources": [{"@type": ROUTE_CONFIGURATION, **route_config}]}
