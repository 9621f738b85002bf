"""Generated database documentation: catalog reader, data classification, dictionary and ERD.

Plain Python (no Dagster): `platformctl docs ...` and the tests call it directly.
"""
