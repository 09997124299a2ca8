"""Projections: the pure rules (``core``), their storage (``store``) and read routes (``query``)."""
