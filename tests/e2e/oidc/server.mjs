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
// Environment (set by devstack/oidc.py):
//   OIDC_PORT            port on 127.0.0.1; the issuer is http://127.0.0.1:PORT
//   OIDC_CLIENTS         JSON: [{client_id, client_secret, redirect_uris}]

import { generateKeyPairSync, randomBytes } from "node:crypto";
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

// sub -> the claims the test logged in with.
const accounts = new Map();

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingKey()] },
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
  const { sub, ...claims } = await readJson(req);
  if (typeof sub !== "string" || !sub) {
    json(res, 400, { error: "sub is required" });
    return;
  }
  accounts.set(sub, claims);
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
  handler(req, res);
});
server.listen(port, "127.0.0.1", () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
for (const signal of ["SIGTERM", "SIGINT"]) {
  process.on(signal, () => server.close(() => process.exit(0)));
}
