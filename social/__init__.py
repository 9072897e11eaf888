"""Social login: OpenID Connect providers (Google, Apple, any issuer by
discovery) and GitHub (OAuth 2.0 and its REST API, social/github.py) as
Medusa's auth providers. This app speaks to the provider: the
authorization URL with state, nonce and PKCE, the code exchange, the ID
token's checks or GitHub's user and addresses (Authlib), and the
server-side store of started logins. Who
the verified claims log in is the flow's (flows/social_login.py) and
accounts' business."""
