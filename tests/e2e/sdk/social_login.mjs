// A storefront's social login through the real SDK, in Medusa's documented
// steps (third-party login guide). STEP=start: sdk.auth.login("customer",
// PROVIDER, {callback_url}) and print the {location} it returns (the test
// plays the browser at the provider). STEP=finish: sdk.auth.callback(
// "customer", PROVIDER, QUERY) with the callback page's query; if the token
// has no actor, sdk.store.customer.create({email: user_metadata.email}) and
// sdk.auth.refresh(); then sdk.store.customer.retrieve(). Prints one JSON
// object; exits 1 on any unexpected error. Environment: BASE_URL,
// PUBLISHABLE_KEY, PROVIDER, STEP, CALLBACK_URL (start), QUERY (finish:
// JSON).

import Medusa from "@medusajs/js-sdk";

const { BASE_URL, PUBLISHABLE_KEY, PROVIDER, STEP, CALLBACK_URL, QUERY } =
  process.env;
const sdk = new Medusa({
  baseUrl: BASE_URL,
  publishableKey: PUBLISHABLE_KEY,
  auth: { type: "jwt", jwtTokenStorageMethod: "memory" },
});

function payload(token) {
  return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString());
}

try {
  if (STEP === "start") {
    const result = await sdk.auth.login("customer", PROVIDER, {
      callback_url: CALLBACK_URL,
    });
    process.stdout.write(JSON.stringify(result));
  } else {
    const token = await sdk.auth.callback("customer", PROVIDER, JSON.parse(QUERY));
    const claims = payload(token);
    let created = null;
    let refreshed = null;
    if (!claims.actor_id) {
      ({ customer: created } = await sdk.store.customer.create({
        email: claims.user_metadata.email,
      }));
      refreshed = await sdk.auth.refresh();
    }
    const { customer } = await sdk.store.customer.retrieve();
    process.stdout.write(JSON.stringify({ token, created, refreshed, customer }));
  }
} catch (error) {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
}
