// A real OpenID Connect provider for the social login tests, configured
// like Google: discovery, JWKS (RS256, a fresh key each run), authorization
// code flow with PKCE (S256), `email` and `email_verified` in the ID token,
// confidential clients authenticating with client_secret_basic.
//
// Accounts are whoever the test says: there is no login page. Following the
// authorization URL lands on /interaction/<uid>; the test POSTs
// /interaction/<uid>/login with a JSON body {sub, email, email_verified,
// name?, given_name?, family_name?}, which logs that account in (consent is
// granted as a first-party client's would be), and the 303s that follow end
// at the client's redirect_uri with ?code=…&state=…
//
// A login body may also carry `id_token`, to make the ID token the token
// endpoint hands out for that account misbehave as a broken or hostile
// provider's would (the relying party must refuse it, or, for a rotation,
// fetch the JWKS again):
//   "expired"          exp ten minutes ago
//   "foreign-audience" aud another client's id
//   "other-issuer"     iss another issuer
//   "unknown-key"      signed with a key the JWKS never publishes
//   "rotated-key"      signed with a new key (each time) that the JWKS
//                      publishes from then on, beside the others
//   "alg-none"         unsigned (alg "none")
//
// Environment (set by devstack/oidc.py):
//   OIDC_PORT            port on 127.0.0.1; the issuer is http://127.0.0.1:PORT
//   OIDC_CLIENTS         JSON: [{client_id, client_secret, redirect_uris}]

import {
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  sign,
} from "node:crypto";
import http from "node:http";

import Provider, { errors } from "oidc-provider";

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OIDC_CLIENTS || "[]").map((client) => ({
  grant_types: ["authorization_code"],
  response_types: ["code"],
  token_endpoint_auth_method: "client_secret_basic",
  ...client,
}));

function signingKey() {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = privateKey.export({ format: "jwk" });
  return { ...jwk, kid: randomBytes(8).toString("hex"), alg: "RS256", use: "sig" };
}

// sub -> the claims the test logged in with; sub -> its ID token behaviour.
const accounts = new Map();
const behaviours = new Map();
const currentKey = signingKey();
// The keys "rotated-key" logins brought in, published from then on.
const rotatedKeys = [];

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [currentKey] },
  cookies: { keys: [randomBytes(32).toString("hex")] },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name", "given_name", "family_name", "picture"],
  },
  // Google puts the scopes' claims in the ID token itself.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    // Google has no registration, introspection or revocation for us.
    revocation: { enabled: false },
  },
  pkce: { required: () => true },
  async findAccount(ctx, sub) {
    const claims = accounts.get(sub);
    if (!claims) return undefined;
    return { accountId: sub, claims: async () => ({ sub, ...claims }) };
  },
  // A first-party client: no consent screen, every requested scope granted.
  async loadExistingGrant(ctx) {
    const grantId =
      ctx.oidc.result?.consent?.grantId ||
      ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
    if (grantId) {
      const existing = await ctx.oidc.provider.Grant.find(grantId);
      if (existing) return existing;
    }
    const grant = new ctx.oidc.provider.Grant({
      clientId: ctx.oidc.client.clientId,
      accountId: ctx.oidc.session.accountId,
    });
    grant.addOIDCScope(ctx.oidc.params.scope || "openid");
    await grant.save();
    return grant;
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  ttl: { Interaction: 600, Session: 600, Grant: 600 },
  renderError(ctx, out) {
    ctx.type = "application/json";
    ctx.body = out;
  },
});
// Plain http on 127.0.0.1: the cookies are not `secure`.
provider.proxy = false;

function readJson(req) {
  return new Promise((resolve, reject) => {
    let body = "";
    req.on("data", (chunk) => {
      body += chunk;
    });
    req.on("end", () => {
      try {
        resolve(body ? JSON.parse(body) : {});
      } catch (error) {
        reject(error);
      }
    });
    req.on("error", reject);
  });
}

function json(res, status, body) {
  res.statusCode = status;
  res.setHeader("Content-Type", "application/json");
  res.end(JSON.stringify(body));
}

// ---------------------------------------------------------- misbehaviour

const b64url = (value) => Buffer.from(value).toString("base64url");

function jws(header, payload, jwk) {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(payload))}`;
  if (!jwk) return `${input}.`;
  const key = createPrivateKey({ key: jwk, format: "jwk" });
  return `${input}.${sign("sha256", Buffer.from(input), key).toString("base64url")}`;
}

function publicJwk(jwk) {
  const { kty, n, e, kid, alg, use } = jwk;
  return { kty, n, e, kid, alg, use };
}

// The ID token the provider signed, changed as the account's behaviour says.
function misbehave(idToken) {
  const [header, payload] = idToken
    .split(".")
    .slice(0, 2)
    .map((part) => JSON.parse(Buffer.from(part, "base64url").toString()));
  const behaviour = behaviours.get(payload.sub);
  const now = Math.floor(Date.now() / 1000);
  switch (behaviour) {
    case "expired":
      return jws(header, { ...payload, iat: now - 1200, exp: now - 600 }, currentKey);
    case "foreign-audience":
      return jws(header, { ...payload, aud: "another-client" }, currentKey);
    case "other-issuer":
      return jws(header, { ...payload, iss: "https://issuer.example" }, currentKey);
    case "unknown-key": {
      const key = signingKey();
      return jws({ ...header, kid: key.kid }, payload, key);
    }
    case "rotated-key": {
      const key = signingKey();
      rotatedKeys.push(key);
      return jws({ ...header, kid: key.kid }, payload, key);
    }
    case "alg-none":
      return jws({ alg: "none", typ: header.typ }, payload, null);
    default:
      return idToken;
  }
}

// Rewrite the JSON body a route answers (the whole body comes in one end()).
function rewriteJson(res, change) {
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    if (chunk && res.statusCode === 200) {
      const body = change(JSON.parse(chunk.toString()));
      const text = JSON.stringify(body);
      if (!res.headersSent) res.setHeader("Content-Length", Buffer.byteLength(text));
      return end(text, ...rest);
    }
    return end(chunk, ...rest);
  };
}

function misbehaving(req, res) {
  const path = req.url.split("?")[0];
  if (req.method === "POST" && path === "/token") {
    rewriteJson(res, (body) =>
      body.id_token ? { ...body, id_token: misbehave(body.id_token) } : body,
    );
  } else if (req.method === "GET" && path === "/jwks" && rotatedKeys.length) {
    rewriteJson(res, (body) => ({
      keys: [...body.keys, ...rotatedKeys.map(publicJwk)],
    }));
  }
}

// ----------------------------------------------------------- interaction

async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (req.method === "GET") {
    json(res, 200, { uid: details.uid, prompt: details.prompt.name });
    return;
  }
  if (req.method !== "POST" || !req.url.endsWith("/login")) {
    json(res, 405, { error: "method not allowed" });
    return;
  }
  const { sub, id_token: behaviour, ...claims } = await readJson(req);
  if (typeof sub !== "string" || !sub) {
    json(res, 400, { error: "sub is required" });
    return;
  }
  accounts.set(sub, claims);
  behaviours.set(sub, behaviour);
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: sub } },
    { mergeWithLastSubmission: false },
  );
}

const handler = provider.callback();
const server = http.createServer(async (req, res) => {
  if (req.url.startsWith("/interaction/")) {
    try {
      await interaction(req, res);
    } catch (error) {
      const status = error instanceof errors.SessionNotFound ? 400 : 500;
      json(res, status, { error: String(error) });
    }
    return;
  }
  misbehaving(req, res);
  handler(req, res);
});
server.listen(port, "127.0.0.1", () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
