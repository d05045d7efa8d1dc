"""The JSON API under /api/v1 (Authorization: Bearer qm_<prefix>_<secret>)."""
