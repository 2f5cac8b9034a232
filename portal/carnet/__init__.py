"""Carnet d'adresses: personal contact groups and their vCard import and export (SPEC §5)."""
