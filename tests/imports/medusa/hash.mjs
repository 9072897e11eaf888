#!/usr/bin/env node
// Hash passwords exactly like @medusajs/auth-emailpass@2.21.2 (dist/services/emailpass.js):
//   (await scrypt.kdf(password, { logN: 15, r: 8, p: 1 })).toString("base64")
// with scrypt-kdf@2.0.1. The result is what Medusa stores in provider_identity.provider_metadata.password.
//
// stdin:  one JSON object per line: {"password": "..."}   (blank lines are ignored)
// stdout: one JSON object per non-blank input line, same order: {"hash": "<base64>"}
// (~0.1 s CPU and 32 MiB per hash.) Exits 1 on malformed input.
import { createRequire } from "node:module";
import readline from "node:readline";

const scrypt = createRequire(import.meta.url)("scrypt-kdf");
const HASH_CONFIG = { logN: 15, r: 8, p: 1 };

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
let lineNo = 0;
try {
  for await (const line of rl) {
    lineNo += 1;
    if (!line.trim()) continue;
    const { password } = JSON.parse(line);
    if (typeof password !== "string") throw new Error('expected {"password": "<string>"}');
    const hash = (await scrypt.kdf(password, HASH_CONFIG)).toString("base64");
    process.stdout.write(JSON.stringify({ hash }) + "\n");
  }
} catch (err) {
  console.error(`hash.mjs: line ${lineNo}: ${err.message}`);
  process.exit(1);
}
