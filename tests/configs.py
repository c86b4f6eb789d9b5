"""botocore configs the tests share."""

from botocore.config import Config

# One call, one request: what the tests compare against boto3 (which also
# retries unless told not to), with timeouts that end a stuck test.
NO_RETRIES = Config(retries={"total_max_attempts": 1}, read_timeout=30, connect_timeout=5)
