"""The login flow, above both `accounts` (identity, passwords, sessions) and `twofactor` (the
factors): the password step, the pending state between the steps, the second step, the hold
for a browser never seen, passkeys, and re-authentication before sensitive actions."""
