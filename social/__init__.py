"""Social login: OpenID Connect providers (Google, any issuer by discovery)
as Medusa's auth providers. This app speaks to the provider: the
authorization URL with state, nonce and PKCE, the code exchange, the ID
token's checks (Authlib), and the server-side store of started logins. Who
the verified claims log in is the flow's (flows/social_login.py) and
accounts' business."""
