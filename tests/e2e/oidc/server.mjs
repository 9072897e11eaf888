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
// Apple-like clients (an `apple` entry in OIDC_CLIENTS: team_id, key_id,
// public_key PEM, clock_skew seconds) authenticate as Sign in with Apple
// wants: `client_secret` in the token request's body (client_secret_post)
// is an ES256 JWT the shop signed with its private key, which the provider
// verifies with jose against the public key it was given (header kid = the
// key id; iss = the team id, sub = the client id, aud = the issuer, exp in
// the future, iat at most six months before it), reading its clock
// clock_skew seconds ahead. A JWT that fails is refused as Apple refuses
// it: 400 {"error": "invalid_client"}. They also get Apple's form_post
// answer: a `user` field (JSON {name: {firstName, lastName}, email}) beside
// code and state on an account's first authorization of the client only.
// `is_private_email` is an `email` scope claim; `name` a scope of no claim
// (Apple's ID token carries no name).
//
// Environment (set by devstack/oidc.py):
//   OIDC_PORT            port on 127.0.0.1; the issuer is http://127.0.0.1:PORT
//   OIDC_CLIENTS         JSON: [{client_id, client_secret, redirect_uris, apple?}]

import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  randomBytes,
  sign,
} from "node:crypto";
import http from "node:http";
import querystring from "node:querystring";

import { jwtVerify } from "jose";
import Provider, { errors } from "oidc-provider";

const port = Number(process.env.OIDC_PORT);
const issuer = `http://127.0.0.1:${port}`;
// client_id -> its Apple-like settings, with the static secret the
// provider's own client_secret_post check is handed once the JWT verified.
const appleClients = new Map();
const clients = JSON.parse(process.env.OIDC_CLIENTS || "[]").map(
  ({ apple, ...client }) => {
    if (!apple) {
      return {
        grant_types: ["authorization_code"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_basic",
        ...client,
      };
    }
    const secret = randomBytes(24).toString("hex");
    appleClients.set(client.client_id, {
      ...apple,
      key: createPublicKey(apple.public_key),
      secret,
    });
    return {
      grant_types: ["authorization_code"],
      response_types: ["code"],
      token_endpoint_auth_method: "client_secret_post",
      ...client,
      client_secret: secret,
    };
  },
);

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
    email: ["email", "email_verified", "is_private_email"],
    profile: ["name", "given_name", "family_name", "picture"],
    name: [],
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

// ------------------------------------------------------------------ apple

const SIX_MONTHS = 15777000; // Apple's longest client secret lifetime (s)

// Whether the body's client_secret is the JWT an Apple-like client must
// sign; the reason it is not, else.
async function appleSecretRefusal(apple, clientId, secret) {
  if (typeof secret !== "string" || !secret) return "no client_secret";
  try {
    const { payload, protectedHeader } = await jwtVerify(secret, apple.key, {
      algorithms: ["ES256"],
      issuer: apple.team_id,
      subject: clientId,
      audience: issuer,
      requiredClaims: ["iat", "exp"],
      currentDate: new Date(Date.now() + apple.clock_skew * 1000),
      clockTolerance: 0,
    });
    if (protectedHeader.kid !== apple.key_id) return "another key id";
    if (payload.exp - payload.iat > SIX_MONTHS) return "lives too long";
    return null;
  } catch (error) {
    return error.code || "invalid";
  }
}

// The token request of an Apple-like client: its JWT verified here, then
// swapped for the static secret oidc-provider compares (the body is read
// now, and handed on as req.body, which oidc-provider reads then).
async function appleTokenRequest(req, res) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const raw = Buffer.concat(chunks).toString();
  const body = querystring.parse(raw);
  const apple = appleClients.get(body.client_id);
  if (apple) {
    const refusal = await appleSecretRefusal(apple, body.client_id, body.client_secret);
    if (refusal) {
      console.log(`client secret JWT refused: ${refusal}`);
      json(res, 400, { error: "invalid_client" });
      return false;
    }
    body.client_secret = apple.secret;
  }
  req.body = apple ? querystring.stringify(body) : raw;
  return true;
}

// The form_post page an interaction's resume renders, with Apple's `user`
// field when the account authorizes the Apple-like client the first time.
const resumes = new Map(); // interaction uid -> {clientId, sub, claims}
const appleAuthorized = new Set(); // `${clientId} ${sub}`

const htmlAttribute = (value) =>
  value
    .replace(/&/g, "&amp;")
    .replace(/"/g, "&quot;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;");

function appleUserField(req, res) {
  const match = req.method === "GET" && req.url.match(/^\/auth\/([^/?]+)/);
  const resume = match && resumes.get(match[1]);
  if (!resume || !appleClients.has(resume.clientId)) return;
  resumes.delete(match[1]);
  const seen = `${resume.clientId} ${resume.sub}`;
  if (appleAuthorized.has(seen)) return;
  appleAuthorized.add(seen);
  const { given_name: firstName, family_name: lastName, email } = resume.claims;
  const user = JSON.stringify({ name: { firstName, lastName }, email });
  const input = `<input type="hidden" name="user" value="${htmlAttribute(user)}"/>`;
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    if (chunk && res.statusCode === 200) {
      const text = chunk.toString().replace("<noscript>", `${input}\n    <noscript>`);
      if (!res.headersSent) res.setHeader("Content-Length", Buffer.byteLength(text));
      return end(text, ...rest);
    }
    return end(chunk, ...rest);
  };
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
  resumes.set(details.uid, { clientId: details.params.client_id, sub, claims });
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
  if (
    req.method === "POST" &&
    req.url.split("?")[0] === "/token" &&
    !(await appleTokenRequest(req, res))
  ) {
    return;
  }
  appleUserField(req, res);
  misbehaving(req, res);
  handler(req, res);
});
server.listen(port, "127.0.0.1", () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
