#!/bin/sh
# Regenerate ../medusa_schema.sql from a database migrated by `node migrate.mjs <url>`.
#   sh dump-schema.sh postgres://postgres@127.0.0.1:55999/medusa
# Cleanup: no \restrict lines, no SET / set_config lines, no owner/privilege statements,
# no "public." qualification (objects land in the first schema of search_path, as Medusa's
# own unqualified migration SQL does), blank-line runs squeezed. The result must be
# executable as one string by psycopg `cursor.execute()` and by `psql -f`.
set -eu
url="${1:?usage: sh dump-schema.sh <postgres-url>}"
out="$(dirname "$0")/../medusa_schema.sql"
tmp="$out.tmp"
{
  cat <<HEADER
-- Medusa 2.21.2 schema for the tables customer, customer_address, auth_identity, provider_identity.
--
-- GENERATED FILE - do not edit by hand. Produced from a database migrated by Medusa's own module
-- migrations (@medusajs/auth@2.21.2 dist/migrations/Migration20240205025928 .. 20260616075929 and
-- @medusajs/customer@2.21.2 dist/migrations/Migration20240124154000 .. 20251010130829, run by
-- MikroORM 6.6.14 through tests/imports/medusa/migrate.mjs), with:
--
--   node tests/imports/medusa/migrate.mjs "\$URL"
--   sh tests/imports/medusa/dump-schema.sh "\$URL"
--     = pg_dump --schema-only --no-owner --no-privileges \\
--         -t customer -t customer_address -t auth_identity -t provider_identity "\$URL"
--       minus \\restrict/SET/set_config lines and "public." qualifiers
--
-- $(pg_dump --version)
-- Other tables those migrations also create (not dumped here): auth_mfa_factor,
-- auth_mfa_recovery_code, auth_password_reset_token, auth_verification, customer_group,
-- customer_group_customer, and MikroORM's bookkeeping table mikro_orm_migrations.
-- Runnable on an empty database with psql -f or psycopg cursor.execute(<whole file>).
HEADER
  pg_dump --schema-only --no-owner --no-privileges \
    -t customer -t customer_address -t auth_identity -t provider_identity "$url" |
    sed -e '/^\\restrict /d' -e '/^\\unrestrict /d' \
        -e '/^SET /d' -e '/^SELECT pg_catalog.set_config(/d' \
        -e '/^-- Dumped from /d' -e '/^-- Dumped by /d' \
        -e 's/; Owner: -$//' -e 's/\bpublic\.//g' -e 's/; Schema: public$//' |
    cat -s
} > "$tmp"
mv "$tmp" "$out"
echo "wrote $out"
