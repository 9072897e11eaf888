// Copied unchanged (but for this line) from the peer benchmark kit shared with the team, next to Medusa's start script; bench/peer_compare.py runs it.
// Closed-loop throughput/latency benchmark for the customer-auth endpoints.
// No dependencies (Node >= 20 global fetch). Works against Medusa or the Django
// re-implementation, as long as both speak the same wire contract.
//
//   BASE_URL=http://127.0.0.1:9000 PUBLISHABLE_KEY=pk_... node bench-login.mjs
//
// Env: N (requests per phase, default 200), CONCURRENCY (default 8),
//      PHASES (comma list, default "login-seq,login-conc,me-seq,me-conc").
// It registers one fresh customer first (register -> create customer), then:
//   login-seq : N sequential POST /auth/customer/emailpass
//   login-conc: N logins spread over CONCURRENCY workers
//   me-seq / me-conc: the same for GET /store/customers/me (JWT only, no scrypt)
// Every response must be 200, otherwise the run fails (exit 1).
const BASE = (process.env.BASE_URL || "http://127.0.0.1:9000").replace(/\/$/, "")
const PK = process.env.PUBLISHABLE_KEY || ""
const N = Number(process.env.N || 200)
const C = Number(process.env.CONCURRENCY || 8)
const PHASES = (process.env.PHASES || "login-seq,login-conc,me-seq,me-conc").split(",")
const email = `bench.${Date.now()}@example.com`
const password = "bench-Pass-1"
const pkh = PK ? { "x-publishable-api-key": PK } : {}

async function call(method, path, body, headers = {}) {
  const res = await fetch(BASE + path, {
    method,
    headers: { "content-type": "application/json", ...headers },
    body: body ? JSON.stringify(body) : undefined,
  })
  const json = await res.json().catch(() => ({}))
  if (res.status !== 200) throw new Error(`${method} ${path} -> ${res.status} ${JSON.stringify(json)}`)
  return json
}

const { token: regToken } = await call("POST", "/auth/customer/emailpass/register", { email, password })
await call("POST", "/store/customers", { email }, { ...pkh, authorization: `Bearer ${regToken}` })
const { token } = await call("POST", "/auth/customer/emailpass", { email, password })

const ops = {
  login: () => call("POST", "/auth/customer/emailpass", { email, password }),
  me: () => call("GET", "/store/customers/me", undefined, { ...pkh, authorization: `Bearer ${token}` }),
}

async function run(op, n, conc) {
  const lat = []
  let next = 0
  const t0 = performance.now()
  async function worker() {
    while (next < n) {
      next++
      const s = performance.now()
      await ops[op]()
      lat.push(performance.now() - s)
    }
  }
  await Promise.all(Array.from({ length: conc }, worker))
  const wall = (performance.now() - t0) / 1000
  lat.sort((a, b) => a - b)
  const q = (p) => lat[Math.min(lat.length - 1, Math.floor((p / 100) * lat.length))].toFixed(1)
  return {
    op,
    n,
    concurrency: conc,
    wall_s: +wall.toFixed(2),
    req_per_s: +(n / wall).toFixed(1),
    mean_ms: +(lat.reduce((a, b) => a + b, 0) / lat.length).toFixed(1),
    p50_ms: +q(50),
    p95_ms: +q(95),
    p99_ms: +q(99),
    max_ms: +lat[lat.length - 1].toFixed(1),
  }
}

// warm-up (JIT, connection pool)
for (let i = 0; i < 5; i++) await ops.login()
for (let i = 0; i < 20; i++) await ops.me()

for (const phase of PHASES) {
  const [op, mode] = phase.split("-")
  console.log(JSON.stringify({ base_url: BASE, ...(await run(op, N, mode === "seq" ? 1 : C)) }))
}
