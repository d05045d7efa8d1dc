"""The address of MAIL FROM and RCPT TO, read without the email parser when it is plain.

aiosmtpd reads each path with ``email._header_value_parser`` (``SMTP._getaddr``: a token tree
per address, and a ``Protocol`` class made anew on every call), which was ~13% of the event
loop's time per message in ``tests/bench/bench_stacks.py`` (issue 14). Nearly every path is
``<local@domain>``, optionally followed by parameters: :func:`plain_path` reads that one form
and gives exactly what aiosmtpd's parser gives for it; for anything else it returns None and
the session asks aiosmtpd's parser (quoted or non-ASCII local parts, source routes, address
literals, comments, the null path ``<>``, a missing bracket, encoded words, trailing dots).
tests/forwarder/smtp/test_paths.py compares the two on many inputs, odd ones included.
"""

from __future__ import annotations

import re

# RFC 5322 3.2.3 atext, ASCII only, as a dot-atom; the domain in letters, digits and hyphens
# (RFC 5321 4.1.2 sub-domain), as dot-separated labels, none empty (no trailing dot).
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_PLAIN = re.compile(rf"<({_ATEXT}+(?:\.{_ATEXT}+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>")


def plain_path(arg: str, local_part_limit: int = 0) -> tuple[str, str] | None:
    """``(address, rest)`` as aiosmtpd's ``_getaddr`` gives them for ``<local@domain> rest``,
    or None when ``arg`` is not that plain form or its local part is over the limit (0: none),
    which aiosmtpd refuses."""
    match = _PLAIN.match(arg)
    if match is None:
        return None
    address = match.group(1)
    if "=?" in address:  # the parser decodes an RFC 2047 encoded word at an atom's start
        return None
    if local_part_limit and address.index("@") > local_part_limit:
        return None
    rest = arg[match.end() :]
    if rest[:1] in (" ", "\t"):  # the parser's trailing CFWS: white space (str.lstrip) ...
        rest = rest.lstrip()
    if rest[:1] == "(":  # ... or a comment
        return None
    return address, rest
