"""Stage 4 of the trip: the forwarded copy is rewritten before it leaves.

The envelope sender with SRS (``srs``), the ARC set (``arc_seal``, with the key in
``arc_key``), DKIM signatures for copies that leave as the alias's domain (``dkim_sign``,
``author``, ``outbound``), and our one trace header (``received``)."""
