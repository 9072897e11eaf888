// Drives the real @medusajs/js-sdk 2.21.2 against a live Storefront Auth
// server, the way a storefront would, and prints ONE JSON object to stdout
// summarising every step. tests/e2e/test_js_sdk.py runs it and checks the
// summary (tokens, customers) and the database from outside.
//
// Environment: BASE_URL, PUBLISHABLE_KEY, EMAIL, PASSWORD (all required).
// Exit 0 when every step behaved as the SDK expects (an expected error is
// a step result, not a failure); on anything unexpected the error goes to
// stderr and the exit code is 1.

import Medusa, { FetchError } from "@medusajs/js-sdk";

function env(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set`);
  }
  return value;
}

// --- HTTP recorder and a minimal browser-like cookie jar -------------------
//
// The SDK calls the global `fetch` at request time, so wrapping it lets the
// summary show what went over the wire (method, path, status, whether a
// bearer was sent, whether a cookie was set). Node's fetch has no cookie
// jar: with `credentials: "include"` (what the SDK uses in session mode) a
// browser would store the Set-Cookie of POST /auth/session and send it back
// on later requests; Node does neither. To exercise the cookie session end
// to end anyway, this wrapper plays the browser's part for requests made
// with `credentials: "include"` only (jwt mode uses "omit", so the jwt
// client never sees a cookie). The SDK itself is unchanged.

const http = [];
const jar = new Map(); // cookie name -> value (one origin: BASE_URL)
const realFetch = globalThis.fetch;

function jarStore(setCookies) {
  for (const line of setCookies) {
    const [pair, ...attributes] = line.split(";");
    const eq = pair.indexOf("=");
    if (eq < 1) continue;
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = attributes.some((attribute) => {
      const [key, ...rest] = attribute.split("=");
      const val = rest.join("=").trim();
      const k = key.trim().toLowerCase();
      if (k === "max-age") return Number(val) <= 0;
      if (k === "expires") return Date.parse(val) <= Date.now();
      return false;
    });
    if (expired || value === "") jar.delete(name);
    else jar.set(name, value);
  }
}

globalThis.fetch = async (input, init = {}) => {
  const url = new URL(input instanceof Request ? input.url : String(input));
  const withCookies = init.credentials === "include";
  const headers = new Headers(init.headers);
  if (withCookies && jar.size) {
    headers.set(
      "cookie",
      [...jar].map(([name, value]) => `${name}=${value}`).join("; "),
    );
  }
  const resp = await realFetch(input, { ...init, headers });
  const setCookies = resp.headers.getSetCookie();
  if (withCookies) jarStore(setCookies);
  let body = null;
  if (url.pathname === "/auth/session") {
    body = await resp
      .clone()
      .json()
      .catch(() => null);
  }
  http.push({
    method: (init.method || "GET").toUpperCase(),
    path: url.pathname + url.search,
    status: resp.status,
    credentials: init.credentials ?? null,
    sentAuthorization: headers.has("authorization"),
    sentCookie: headers.has("cookie"),
    setCookieNames: setCookies.map((line) => line.split("=")[0].trim()),
    ...(body === null ? {} : { body }),
  });
  return resp;
};

// --- steps ----------------------------------------------------------------

function describe(error) {
  return {
    name: error?.constructor?.name ?? typeof error,
    isFetchError: error instanceof FetchError,
    status: error?.status ?? null,
    statusText: error?.statusText ?? null,
    message: error?.message ?? String(error),
  };
}

async function step(name, fn) {
  try {
    return await fn();
  } catch (error) {
    const info = describe(error);
    const wrapped = new Error(
      `step "${name}" failed: ${info.name} status=${info.status} ` +
        `message=${JSON.stringify(info.message)}`,
    );
    wrapped.cause = error;
    throw wrapped;
  }
}

async function expectFetchError(name, fn) {
  let result;
  try {
    result = await fn();
  } catch (error) {
    return describe(error);
  }
  throw new Error(
    `step "${name}" should have thrown but resolved to ${JSON.stringify(result)}`,
  );
}

// Requests sent while `fn` runs.
async function requestsDuring(fn) {
  const start = http.length;
  const result = await fn();
  return { result, requests: http.slice(start) };
}

function actorIdOf(token) {
  const payload = token.split(".")[1];
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8")).actor_id;
}

async function main() {
  const baseUrl = env("BASE_URL");
  const publishableKey = env("PUBLISHABLE_KEY");
  const email = env("EMAIL");
  const password = env("PASSWORD");
  const summary = {};

  // --- jwt mode, token kept in memory --------------------------------------
  const sdk = new Medusa({
    baseUrl,
    publishableKey,
    auth: { type: "jwt", jwtTokenStorageMethod: "memory" },
  });

  const registerToken = await step("register", () =>
    sdk.auth.register("customer", "emailpass", { email, password }),
  );
  summary.register = {
    token: registerToken,
    tokenActorId: actorIdOf(registerToken),
    stored: (await sdk.client.getToken()) === registerToken,
  };

  const created = await step("create", () =>
    sdk.store.customer.create({
      email,
      first_name: "Jane",
      last_name: "Doe",
    }),
  );
  summary.create = created;

  const logout = await requestsDuring(() =>
    step("logout", () => sdk.auth.logout()),
  );
  summary.logout = {
    // jwt mode: purely client-side, no HTTP request at all
    requests: logout.requests.length,
    tokenAfter: await sdk.client.getToken(),
  };

  summary.wrongPassword = await expectFetchError("wrongPassword", () =>
    sdk.auth.login("customer", "emailpass", {
      email,
      password: `${password}-wrong`,
    }),
  );

  const loginToken = await step("login", () =>
    sdk.auth.login("customer", "emailpass", { email, password }),
  );
  summary.login = {
    type: typeof loginToken,
    token: loginToken,
    stored: (await sdk.client.getToken()) === loginToken,
  };

  summary.retrieve = await step("retrieve", () => sdk.store.customer.retrieve());

  summary.update = await step("update", () =>
    sdk.store.customer.update({
      first_name: "Changed",
      metadata: { tier: "gold" },
    }),
  );

  const refreshed = await step("refresh", () => sdk.auth.refresh());
  summary.refresh = {
    keys: Object.keys(refreshed).sort(),
    token: refreshed.token,
    stored: (await sdk.client.getToken()) === refreshed.token,
  };

  summary.retrieveFields = await step("retrieveFields", () =>
    sdk.store.customer.retrieve({ fields: "id,email" }),
  );

  // --- the address book ---------------------------------------------------
  const home = await step("addressCreate", () =>
    sdk.store.customer.createAddress({
      address_name: "Home",
      first_name: "Jane",
      address_1: "1 Main Street",
      city: "Copenhagen",
      country_code: "dk",
      postal_code: "1050",
      is_default_shipping: true,
    }),
  );
  summary.addressCreate = home;
  const homeId = home.customer.addresses[0].id;

  summary.addressCreateSecond = await step("addressCreateSecond", () =>
    sdk.store.customer.createAddress(
      { city: "Aarhus", country_code: "DK", is_default_shipping: true },
      { fields: "id,*addresses" },
    ),
  );
  const workId = summary.addressCreateSecond.customer.addresses.find(
    (address) => address.id !== homeId,
  ).id;

  summary.addressList = await step("addressList", () =>
    sdk.store.customer.listAddress({
      q: "aarhus",
      country_code: ["dk", "se"],
      limit: 10,
      offset: 0,
    }),
  );
  summary.addressListAll = await step("addressListAll", () =>
    sdk.store.customer.listAddress({ fields: "id,city,is_default_shipping" }),
  );

  summary.addressRetrieve = await step("addressRetrieve", () =>
    sdk.store.customer.retrieveAddress(homeId, { fields: "id,city" }),
  );

  summary.addressUpdate = await step("addressUpdate", () =>
    sdk.store.customer.updateAddress(homeId, {
      city: "Odense",
      is_default_billing: true,
      metadata: { door: "red" },
    }),
  );

  summary.addressDelete = await step("addressDelete", () =>
    sdk.store.customer.deleteAddress(workId),
  );

  summary.addressDeletedRetrieve = await expectFetchError(
    "addressDeletedRetrieve",
    () => sdk.store.customer.retrieveAddress(workId),
  );
  summary.addressBadBody = await expectFetchError("addressBadBody", () =>
    sdk.store.customer.createAddress({ city: 12 }),
  );
  summary.addressIds = { home: homeId, work: workId };

  // --- session mode --------------------------------------------------------
  // login() gets a token, then POSTs it as a bearer to /auth/session; the
  // SDK never sends Authorization in this mode. Retrieval relies on the
  // session cookie, which the jar above carries as a browser would.
  const sessionSdk = new Medusa({
    baseUrl,
    publishableKey,
    auth: { type: "session" },
  });

  const sessionLogin = await requestsDuring(() =>
    step("sessionLogin", () =>
      sessionSdk.auth.login("customer", "emailpass", { email, password }),
    ),
  );
  const sessionPost = sessionLogin.requests.find(
    (r) => r.method === "POST" && r.path === "/auth/session",
  );
  summary.sessionLogin = {
    type: typeof sessionLogin.result,
    token: sessionLogin.result,
    sessionRequest: sessionPost ?? null,
  };

  const sessionRetrieve = await requestsDuring(() =>
    step("sessionRetrieve", () => sessionSdk.store.customer.retrieve()),
  );
  summary.sessionRetrieve = {
    ...sessionRetrieve.result,
    request: sessionRetrieve.requests[0] ?? null,
  };

  const sessionLogout = await requestsDuring(() =>
    step("sessionLogout", () => sessionSdk.auth.logout()),
  );
  summary.sessionLogout = { requests: sessionLogout.requests };

  summary.sessionRetrieveAfterLogout = await expectFetchError(
    "sessionRetrieveAfterLogout",
    () => sessionSdk.store.customer.retrieve(),
  );
  summary.cookieJarAfterLogout = [...jar.keys()];

  summary.http = http;
  process.stdout.write(`${JSON.stringify(summary)}\n`);
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error?.stack ?? error}\n`);
    if (error?.cause) {
      process.stderr.write(`cause: ${JSON.stringify(describe(error.cause))}\n`);
    }
    process.stderr.write(`http so far: ${JSON.stringify(http, null, 1)}\n`);
    process.exit(1);
  },
);
