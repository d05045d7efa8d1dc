"""The checks a message passes before it is forwarded: DNS block lists at connection."""
