"""quietmail's web app: accounts, domains, aliases, the error log, export and deletion.

Every refusal is a :class:`web.exceptions.WebError` (the tree is drawn there), turned into an
answer in one place, web/app.py. ``web.mailer.MailError`` is no refusal: a message the app
could not send, which the service layer reports on the page that sent it.
"""
