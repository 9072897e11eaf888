-- Medusa 2.21.2 schema for the tables customer, customer_address, auth_identity, provider_identity.
--
-- GENERATED FILE - do not edit by hand. Produced from a database migrated by Medusa's own module
-- migrations (@medusajs/auth@2.21.2 dist/migrations/Migration20240205025928 .. 20260616075929 and
-- @medusajs/customer@2.21.2 dist/migrations/Migration20240124154000 .. 20251010130829, run by
-- MikroORM 6.6.14 through tests/imports/medusa/migrate.mjs), with:
--
--   node tests/imports/medusa/migrate.mjs "$URL"
--   sh tests/imports/medusa/dump-schema.sh "$URL"
--     = pg_dump --schema-only --no-owner --no-privileges \
--         -t customer -t customer_address -t auth_identity -t provider_identity "$URL"
--       minus \restrict/SET/set_config lines and "public." qualifiers
--
-- pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)
-- Other tables those migrations also create (not dumped here): auth_mfa_factor,
-- auth_mfa_recovery_code, auth_password_reset_token, auth_verification, customer_group,
-- customer_group_customer, and MikroORM's bookkeeping table mikro_orm_migrations.
-- Runnable on an empty database with psql -f or psycopg cursor.execute(<whole file>).
--
-- PostgreSQL database dump
--

--
-- Name: auth_identity; Type: TABLE
--

CREATE TABLE auth_identity (
    id text NOT NULL,
    app_metadata jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone
);

--
-- Name: customer; Type: TABLE
--

CREATE TABLE customer (
    id text NOT NULL,
    company_name text,
    first_name text,
    last_name text,
    email text,
    phone text,
    has_account boolean DEFAULT false NOT NULL,
    metadata jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone,
    created_by text
);

--
-- Name: customer_address; Type: TABLE
--

CREATE TABLE customer_address (
    id text NOT NULL,
    customer_id text NOT NULL,
    address_name text,
    is_default_shipping boolean DEFAULT false NOT NULL,
    is_default_billing boolean DEFAULT false NOT NULL,
    company text,
    first_name text,
    last_name text,
    address_1 text,
    address_2 text,
    city text,
    country_code text,
    province text,
    postal_code text,
    phone text,
    metadata jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone
);

--
-- Name: provider_identity; Type: TABLE
--

CREATE TABLE provider_identity (
    id text NOT NULL,
    entity_id text NOT NULL,
    provider text NOT NULL,
    auth_identity_id text NOT NULL,
    user_metadata jsonb,
    provider_metadata jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    deleted_at timestamp with time zone
);

--
-- Name: auth_identity auth_identity_pkey; Type: CONSTRAINT
--

ALTER TABLE ONLY auth_identity
    ADD CONSTRAINT auth_identity_pkey PRIMARY KEY (id);

--
-- Name: customer_address customer_address_pkey; Type: CONSTRAINT
--

ALTER TABLE ONLY customer_address
    ADD CONSTRAINT customer_address_pkey PRIMARY KEY (id);

--
-- Name: customer customer_pkey; Type: CONSTRAINT
--

ALTER TABLE ONLY customer
    ADD CONSTRAINT customer_pkey PRIMARY KEY (id);

--
-- Name: provider_identity provider_identity_pkey; Type: CONSTRAINT
--

ALTER TABLE ONLY provider_identity
    ADD CONSTRAINT provider_identity_pkey PRIMARY KEY (id);

--
-- Name: IDX_auth_identity_deleted_at; Type: INDEX
--

CREATE INDEX "IDX_auth_identity_deleted_at" ON auth_identity USING btree (deleted_at) WHERE (deleted_at IS NULL);

--
-- Name: IDX_customer_address_customer_id; Type: INDEX
--

CREATE INDEX "IDX_customer_address_customer_id" ON customer_address USING btree (customer_id);

--
-- Name: IDX_customer_address_deleted_at; Type: INDEX
--

CREATE INDEX "IDX_customer_address_deleted_at" ON customer_address USING btree (deleted_at) WHERE (deleted_at IS NULL);

--
-- Name: IDX_customer_address_unique_customer_billing; Type: INDEX
--

CREATE UNIQUE INDEX "IDX_customer_address_unique_customer_billing" ON customer_address USING btree (customer_id) WHERE (is_default_billing = true);

--
-- Name: IDX_customer_address_unique_customer_shipping; Type: INDEX
--

CREATE UNIQUE INDEX "IDX_customer_address_unique_customer_shipping" ON customer_address USING btree (customer_id) WHERE (is_default_shipping = true);

--
-- Name: IDX_customer_deleted_at; Type: INDEX
--

CREATE INDEX "IDX_customer_deleted_at" ON customer USING btree (deleted_at) WHERE (deleted_at IS NULL);

--
-- Name: IDX_customer_email_has_account_unique; Type: INDEX
--

CREATE UNIQUE INDEX "IDX_customer_email_has_account_unique" ON customer USING btree (email, has_account) WHERE (deleted_at IS NULL);

--
-- Name: IDX_provider_identity_auth_identity_id; Type: INDEX
--

CREATE INDEX "IDX_provider_identity_auth_identity_id" ON provider_identity USING btree (auth_identity_id);

--
-- Name: IDX_provider_identity_deleted_at; Type: INDEX
--

CREATE INDEX "IDX_provider_identity_deleted_at" ON provider_identity USING btree (deleted_at) WHERE (deleted_at IS NULL);

--
-- Name: IDX_provider_identity_provider_entity_id; Type: INDEX
--

CREATE UNIQUE INDEX "IDX_provider_identity_provider_entity_id" ON provider_identity USING btree (entity_id, provider);

--
-- Name: customer_address customer_address_customer_id_foreign; Type: FK CONSTRAINT
--

ALTER TABLE ONLY customer_address
    ADD CONSTRAINT customer_address_customer_id_foreign FOREIGN KEY (customer_id) REFERENCES customer(id) ON UPDATE CASCADE ON DELETE CASCADE;

--
-- Name: provider_identity provider_identity_auth_identity_id_foreign; Type: FK CONSTRAINT
--

ALTER TABLE ONLY provider_identity
    ADD CONSTRAINT provider_identity_auth_identity_id_foreign FOREIGN KEY (auth_identity_id) REFERENCES auth_identity(id) ON UPDATE CASCADE ON DELETE CASCADE;

--
-- PostgreSQL database dump complete
--

