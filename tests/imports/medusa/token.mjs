#!/usr/bin/env node
// Sign a customer token exactly as Medusa 2.21 does (@medusajs/utils
// dist/auth/token.js generateJwtToken): jsonwebtoken.sign(payload, secret,
// { expiresIn }), HS256, `iat` and `exp` added by jsonwebtoken after the
// claims of generateJwtTokenForAuthIdentity (docs/medusa-contract.md, "Tokens").
//
// stdin:  {"payload": {...claims without iat/exp...}, "secret": "...", "expiresIn": "1d"}
// stdout: the token
import { createRequire } from "node:module";

const jwt = createRequire(import.meta.url)("jsonwebtoken");

let input = "";
for await (const chunk of process.stdin) input += chunk;
const { payload, secret, expiresIn } = JSON.parse(input);
process.stdout.write(jwt.sign(payload, secret, { expiresIn: expiresIn ?? "1d" }));
