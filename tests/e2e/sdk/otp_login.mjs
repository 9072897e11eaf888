// Logs in with an e-mailed one-time code through the real SDK:
// sdk.auth.login("customer", "email-otp", {email, code}), then reads the
// customer with the stored token. Prints one JSON object; exits 1 on any
// unexpected error. Environment: BASE_URL, PUBLISHABLE_KEY, EMAIL, CODE,
// WRONG_CODE.

import Medusa, { FetchError } from "@medusajs/js-sdk";

const { BASE_URL, PUBLISHABLE_KEY, EMAIL, CODE, WRONG_CODE } = process.env;
const sdk = new Medusa({
  baseUrl: BASE_URL,
  publishableKey: PUBLISHABLE_KEY,
  auth: { type: "jwt", jwtTokenStorageMethod: "memory" },
});

try {
  let wrong;
  try {
    await sdk.auth.login("customer", "email-otp", { email: EMAIL, code: WRONG_CODE });
    wrong = { thrown: false };
  } catch (error) {
    if (!(error instanceof FetchError)) throw error;
    wrong = { thrown: true, status: error.status, message: error.message };
  }
  const token = await sdk.auth.login("customer", "email-otp", { email: EMAIL, code: CODE });
  const { customer } = await sdk.store.customer.retrieve();
  process.stdout.write(JSON.stringify({ wrong, token, customer }));
} catch (error) {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
}
