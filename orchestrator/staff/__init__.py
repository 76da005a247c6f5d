"""Staff: accounts and API tokens, sign-in, server-side sessions."""
