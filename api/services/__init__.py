"""What the function modules, the CLI and the console's pages share: audit entries, keyset
paging, artifact versions, people, one-time links and sign-in."""
