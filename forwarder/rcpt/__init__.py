"""Stage 2 of the trip: at RCPT, which alias a recipient is and where it forwards to.

``resolve`` decides one recipient (our domain? a bounce address? the alias, ``name+tag``,
the catch-all), ``routecache`` keeps the store's answers for a few seconds, ``denylist``
refuses listed clients, HELO names and senders."""
