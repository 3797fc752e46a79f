"""Auth service: users, sessions (JWT access + refresh tokens) and API keys with scopes and quotas."""
