"""quietmail's SMTP relay and everything it owns: settings, storage, delivery, checks."""
