"""Stage 4 of the trip: the forwarded copy is rewritten before it leaves.

The envelope sender with SRS (``srs``), the ARC seal (``arc_signer``, with the key in
``arc_key``), and our one trace header (``received``)."""
