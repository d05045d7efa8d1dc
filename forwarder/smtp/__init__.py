"""Stage 1 of the trip: the SMTP conversation.

The listener and its graceful stop (``server``), the session (``session``: aiosmtpd adjusted,
admitted by ``admission`` with the ``limits``), the hooks that decide the reply to RCPT and
DATA in one place (``handler``) with the transaction state (``transaction``), the error log
(``errorlog``) and STARTTLS (``tls``). Every reply is a named value in
:mod:`forwarder.replies`.

Exceptions: the one the stage raises is ``data.DataInterrupted(reply)`` (the client stopped
sending), caught by the session; exceptions of later stages become replies in the handler
(``StoreError`` → STORE_UNAVAILABLE, anything else → LOCAL_ERROR).
"""
