"""The flows' tests log in by e-mailed code too: the OTP fixtures
(tests/otp/conftest.py) serve them here as well."""

from tests.otp.conftest import send_code, verify

__all__ = ["send_code", "verify"]
