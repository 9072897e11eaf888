#!/usr/bin/env python3
# Copied unchanged (but for this line) from the peer benchmark kit shared with the team, next to django-allauth's start script; bench/peer_compare.py runs it.
"""Closed-loop benchmark of an e-mail one-time-code login: request code -> read code -> confirm -> "me".

Stdlib only (http.client + threads). Default profile: django-allauth headless "app" client
(run-peer.sh in this folder). The "generic" profile drives any JSON API (our service) from env vars.

For each concurrency C (default 1,8,32) a fresh slice of M users (default 200) is taken and, in MODE=phased
(default), three closed-loop phases are timed separately with C worker threads:
  request  POST code request for each of the M users                    (allauth: 401 + pending login_by_code)
  confirm  POST code confirm with the code read from the mail drop      (must be 200 and return a token)
  me       GET authenticated read with the returned token, ME_REPEAT x M (allauth: GET /auth/session)
Reading the code (mail drop file or CODE_URL) is not inside any timed request.
MODE=flow instead runs the whole per-user flow in each worker and reports flows/s.

Env (defaults):  BASE_URL=http://127.0.0.1:8100  PROFILE=allauth|generic  M=200  CONCURRENCY=1,8,32
  N_USERS=1000  OFFSET=0  EMAIL_FMT=user{i}@peer.local  ME_REPEAT=5  WARMUP=20  MODE=phased|flow
  MAIL_DIR=$WORK/mail (WORK defaults to ./.work next to this script; $WORK/peer.env is read if present)
  CODE_URL (instead of MAIL_DIR: GET template with {email}; JSON {"code": ...} or plain text)
  CODE_REGEX (multiline; group 1 = code)  LABEL (free text put in every JSONL row)  OUT (append JSONL here)
  TIMEOUT=30 (seconds per request)
Generic profile (JSON bodies use literal placeholders {email} {code} {state}; headers are a JSON object):
  REQUEST_PATH REQUEST_BODY='{"email": "{email}"}' REQUEST_OK=200,201,202,204 REQUEST_STATE_FIELD (dot path,
  optional: value passed to confirm as {state})  CONFIRM_PATH CONFIRM_BODY='{"email": "{email}", "code": "{code}"}'
  CONFIRM_HEADERS='{}' CONFIRM_OK=200,201 TOKEN_FIELD=token  ME_PATH ME_HEADERS='{"Authorization": "Bearer {token}"}'
  ME_OK=200  EXTRA_HEADERS='{}' (JSON object added to every request, e.g. a publishable key)
Exit status 1 if any request failed its check.
"""
import email
import http.client
import json
import os
import re
import resource
import sys
import threading
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
WORK = os.environ.get("WORK", os.path.join(HERE, ".work"))
PEER_ENV = {}
if os.path.exists(os.path.join(WORK, "peer.env")):
    for line in open(os.path.join(WORK, "peer.env")):
        if "=" in line:
            k, v = line.rstrip("\n").split("=", 1)
            PEER_ENV[k] = v.strip('"')


def env(name, default=None):
    return os.environ.get(name, PEER_ENV.get(name, default))


BASE_URL = env("BASE_URL", "http://127.0.0.1:8100").rstrip("/")
PROFILE = env("PROFILE", "allauth")
M = int(env("M", "200"))
CONCURRENCY = [int(c) for c in env("CONCURRENCY", "1,8,32").split(",")]
N_USERS = int(env("N_USERS", "1000"))
OFFSET = int(env("OFFSET", "0"))
EMAIL_FMT = env("EMAIL_FMT", "user{i}@peer.local")
ME_REPEAT = int(env("ME_REPEAT", "5"))
WARMUP = int(env("WARMUP", "20"))
MODE = env("MODE", "phased")
MAIL_DIR = env("MAIL_DIR", os.path.join(WORK, "mail"))
CODE_URL = env("CODE_URL")
CODE_REGEX = re.compile(env("CODE_REGEX", r"^\s*([A-Z0-9]{4}-[A-Z0-9]{4}|[0-9]{4,9}|[A-Z0-9]{6,12})\s*$"), re.M)
LABEL = env("LABEL", "")
OUT = env("OUT")
TIMEOUT = float(env("TIMEOUT", "30"))
SERVER_WORKERS = env("WORKERS")  # from peer.env when run against run-peer.sh


def oks(s):
    return tuple(int(x) for x in s.split(","))


if PROFILE == "allauth":
    P = "/_allauth/app/v1"
    T = dict(
        request_path=P + "/auth/code/request", request_body='{"email": "{email}"}', request_ok=(401,),
        request_state_field="meta.session_token",
        confirm_path=P + "/auth/code/confirm", confirm_body='{"code": "{code}"}',
        confirm_headers={"X-Session-Token": "{state}"}, confirm_ok=(200,), token_field="meta.session_token",
        me_path=P + "/auth/session", me_headers={"X-Session-Token": "{token}"}, me_ok=(200,),
    )
else:
    T = dict(
        request_path=env("REQUEST_PATH"), request_body=env("REQUEST_BODY", '{"email": "{email}"}'),
        request_ok=oks(env("REQUEST_OK", "200,201,202,204")), request_state_field=env("REQUEST_STATE_FIELD"),
        confirm_path=env("CONFIRM_PATH"), confirm_body=env("CONFIRM_BODY", '{"email": "{email}", "code": "{code}"}'),
        confirm_headers=json.loads(env("CONFIRM_HEADERS", "{}")), confirm_ok=oks(env("CONFIRM_OK", "200,201")),
        token_field=env("TOKEN_FIELD", "token"), me_path=env("ME_PATH"),
        me_headers=json.loads(env("ME_HEADERS", '{"Authorization": "Bearer {token}"}')), me_ok=oks(env("ME_OK", "200")),
    )
    missing = [k for k in ("request_path", "confirm_path", "me_path") if not T[k]]
    if missing:
        sys.exit(f"PROFILE=generic needs {', '.join(k.upper() for k in missing)}")

_u = urllib.parse.urlsplit(BASE_URL)
HOST, PORT, PREFIX = _u.hostname, _u.port or 80, _u.path
_local = threading.local()


def fill(s, **kw):
    for k, v in kw.items():
        s = s.replace("{" + k + "}", str(v))
    return s


def dig(obj, path):
    for part in path.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return obj


def call(method, path, body=None, headers=None):
    """One request on this thread's connection; returns (status, parsed_json_or_text, seconds)."""
    hdrs = {"Accept": "application/json", **json.loads(os.environ.get("EXTRA_HEADERS", "{}"))}
    if body is not None:
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    data = body.encode() if body is not None else None
    for attempt in (0, 1):
        conn = getattr(_local, "conn", None)
        reused = conn is not None and conn.sock is not None
        if conn is None:
            conn = _local.conn = http.client.HTTPConnection(HOST, PORT, timeout=TIMEOUT)
        t0 = time.perf_counter()
        try:
            conn.request(method, PREFIX + path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()
            if reused and attempt == 0:  # stale keep-alive connection: retry once on a fresh one
                continue
            raise
        dt = time.perf_counter() - t0
        if resp.will_close:
            conn.close()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return resp.status, parsed, dt


def read_code(addr):
    if CODE_URL:
        with urllib.request.urlopen(fill(CODE_URL, email=urllib.parse.quote(addr)), timeout=TIMEOUT) as r:
            raw = r.read().decode()
        try:
            return json.loads(raw)["code"]
        except (ValueError, KeyError, TypeError):
            return raw.strip()
    with open(os.path.join(MAIL_DIR, addr.lower() + ".eml"), "rb") as f:
        msg = email.message_from_bytes(f.read())
    texts = [p.get_payload(decode=True).decode(p.get_content_charset() or "utf-8", "replace")
             for p in msg.walk() if p.get_content_type() == "text/plain"]
    m = CODE_REGEX.search("\n".join(texts))
    if not m:
        raise ValueError(f"no code found in mail for {addr}")
    return m.group(1)


# --- one operation per user --------------------------------------------------------------------------------
def op_request(u):
    st, js, dt = call("POST", T["request_path"], fill(T["request_body"], email=u["email"]))
    if st not in T["request_ok"]:
        return dt, f"request status {st}: {str(js)[:200]}"
    if PROFILE == "allauth":
        flows = {f.get("id"): f for f in (dig(js, "data.flows") or [])}
        if not flows.get("login_by_code", {}).get("is_pending"):
            return dt, f"request: login_by_code not pending: {str(js)[:200]}"
    if T["request_state_field"]:
        u["state"] = dig(js, T["request_state_field"])
        if not u["state"]:
            return dt, f"request: no {T['request_state_field']} in {str(js)[:200]}"
    return dt, None


def op_confirm(u):
    hdrs = {k: fill(v, state=u.get("state", ""), email=u["email"]) for k, v in T["confirm_headers"].items()}
    st, js, dt = call("POST", T["confirm_path"],
                      fill(T["confirm_body"], email=u["email"], code=u["code"], state=u.get("state", "")), hdrs)
    if st not in T["confirm_ok"]:
        return dt, f"confirm status {st}: {str(js)[:200]}"
    tok = dig(js, T["token_field"])
    if not tok:
        return dt, f"confirm: no {T['token_field']} in {str(js)[:200]}"
    if PROFILE == "allauth" and dig(js, "meta.is_authenticated") is not True:
        return dt, f"confirm: not authenticated: {str(js)[:200]}"
    u["token"] = tok
    return dt, None


def op_me(u):
    hdrs = {k: fill(v, token=u["token"]) for k, v in T["me_headers"].items()}
    st, js, dt = call("GET", T["me_path"], None, hdrs)
    if st not in T["me_ok"]:
        return dt, f"me status {st}: {str(js)[:200]}"
    if PROFILE == "allauth" and dig(js, "data.user.email") != u["email"]:
        return dt, f"me: wrong user: {str(js)[:200]}"
    return dt, None


def op_flow(u):
    t0 = time.perf_counter()
    parts = {}
    for name, fn in (("request", op_request), ("read_code", None), ("confirm", op_confirm), ("me", op_me)):
        if fn is None:
            t1 = time.perf_counter()
            try:
                u["code"] = read_code(u["email"])
            except Exception as e:  # noqa: BLE001
                return time.perf_counter() - t0, f"read_code: {e}", parts
            parts[name] = time.perf_counter() - t1
            continue
        dt, err = fn(u)
        parts[name] = dt
        if err:
            return time.perf_counter() - t0, err, parts
    return time.perf_counter() - t0, None, parts


# --- closed loop ---------------------------------------------------------------------------------------------
def run_closed(items, fn, conc):
    """C threads pull items until exhausted; returns (wall_s, [latency_s], [errors], [extra], client_cpu_s)."""
    lock = threading.Lock()
    idx = [0]
    lat, errs, extra = [], [], []

    def worker():
        _local.conn = None
        while True:
            with lock:
                i = idx[0]
                idx[0] += 1
            if i >= len(items):
                break
            try:
                res = fn(items[i])
            except Exception as e:  # noqa: BLE001
                res = (0.0, f"{type(e).__name__}: {e}")
            with lock:
                lat.append(res[0])
                if res[1]:
                    errs.append(res[1])
                if len(res) > 2:
                    extra.append(res[2])
        if _local.conn is not None:
            _local.conn.close()

    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(conc)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return wall, lat, errs, extra, cpu


def pct(sorted_ms, p):
    if not sorted_ms:
        return None
    k = max(0, min(len(sorted_ms) - 1, int(round(p / 100.0 * len(sorted_ms) + 0.5)) - 1))
    return round(sorted_ms[k], 1)


def row(op, conc, wall, lat, errs, cpu, **more):
    ms = sorted(x * 1000 for x in lat)
    r = {
        "label": LABEL, "profile": PROFILE, "base_url": BASE_URL, "server_workers": SERVER_WORKERS, "mode": MODE,
        "op": op, "n": len(lat), "concurrency": conc, "wall_s": round(wall, 3),
        "req_per_s": round(len(lat) / wall, 1) if wall else None,
        "mean_ms": round(sum(ms) / len(ms), 1) if ms else None,
        "p50_ms": pct(ms, 50), "p95_ms": pct(ms, 95), "p99_ms": pct(ms, 99), "max_ms": round(ms[-1], 1) if ms else None,
        "errors": len(errs), "error_samples": sorted(set(errs))[:3], "client_cpu_s": round(cpu, 2),
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    r.update(more)
    line = json.dumps(r)
    print(line, flush=True)
    if OUT:
        with open(OUT, "a") as f:
            f.write(line + "\n")
    print(f"  {op:<8} C={conc:<3} n={r['n']:<5} {r['req_per_s']:>7} req/s  p50 {r['p50_ms']:>7} ms  "
          f"p95 {r['p95_ms']:>7} ms  p99 {r['p99_ms']:>7} ms  errors {r['errors']}  client_cpu {r['client_cpu_s']} s",
          file=sys.stderr, flush=True)
    return r


def users(start, count):
    return [{"email": EMAIL_FMT.format(i=(start + j) % N_USERS)} for j in range(count)]


def phased(us, conc, record=True):
    failed = 0
    w, lat, errs, _, cpu = run_closed(us, op_request, conc)
    failed += len(errs)
    if record:
        row("request", conc, w, lat, errs, cpu)
    ok = [u for u in us if u.get("state") or not T["request_state_field"]]
    for u in ok:  # not timed
        u["code"] = read_code(u["email"])
    w, lat, errs, _, cpu = run_closed(ok, op_confirm, conc)
    failed += len(errs)
    if record:
        row("confirm", conc, w, lat, errs, cpu)
    authed = [u for u in ok if u.get("token")]
    me_items = authed * ME_REPEAT
    w, lat, errs, _, cpu = run_closed(me_items, op_me, conc)
    failed += len(errs)
    if record:
        row("me", conc, w, lat, errs, cpu)
    return failed


def flow(us, conc):
    w, lat, errs, parts, cpu = run_closed(us, op_flow, conc)
    row("flow", conc, w, lat, errs, cpu)
    for name in ("request", "read_code", "confirm", "me"):
        ms = sorted(p[name] * 1000 for p in parts if name in p)
        print(f"    in-flow {name:<9} p50 {pct(ms, 50)} ms  p95 {pct(ms, 95)} ms  p99 {pct(ms, 99)} ms", file=sys.stderr)
    return len(errs)


def main():
    print(f"bench {PROFILE} -> {BASE_URL}  mode={MODE} M={M} C={CONCURRENCY} me_repeat={ME_REPEAT} "
          f"server_workers={SERVER_WORKERS} label={LABEL!r}", file=sys.stderr)
    start = OFFSET
    if WARMUP:
        phased(users(start, WARMUP), min(4, WARMUP), record=False)
        start += WARMUP
    failed = 0
    for conc in CONCURRENCY:
        us = users(start, M)
        start += M
        failed += phased(us, conc) if MODE == "phased" else flow(us, conc)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
