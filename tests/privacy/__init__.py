"""Attacks on the stored data: what a reader of the whole database can link to a person."""
