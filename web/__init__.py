"""quietmail's web app: accounts, domains, aliases, the error log, export and deletion."""
