"""GDPR: the audit of erased customers (art. 17), the notice mailed to an
erased address, and what an export (art. 20) reads about them. The erasure
itself spans accounts and otp: flows/erasure.py runs it."""
