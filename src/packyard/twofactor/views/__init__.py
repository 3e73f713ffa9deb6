"""The two-factor pages: the login's second step (`login`), confirming it is you again
(`reauth`), and managing factors (`manage`)."""
