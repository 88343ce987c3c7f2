"""Who may call what: tokens with roles, the owner a token acts for, and rate limits."""
