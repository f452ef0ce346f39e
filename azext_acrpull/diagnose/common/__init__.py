"""Helpers shared by checks and by ``fix``: a check module never imports another check module, and ``fix``
imports no check, so what several of them use lives here (az command builders, registry targets, the pull
identity's roles in words)."""
