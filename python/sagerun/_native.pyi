# Type stubs for the Rust extension module. Each part adds its own names.
__version__: str

# --- sigv4 (wrapped by sagerun.sigv4) ---
from collections.abc import Iterable, Mapping
from typing import Optional, Union, final

class SigningError(ValueError): ...

@final
class SignatureDetails:
    @property
    def canonical_request(self) -> str: ...
    @property
    def string_to_sign(self) -> str: ...
    @property
    def signature(self) -> str: ...
    @property
    def authorization(self) -> str: ...
    @property
    def headers(self) -> dict[str, str]: ...

_Headers = Union[Mapping[str, str], Iterable[tuple[str, str]], None]
_Body = Union[bytes, bytearray, memoryview, str, None]

def sigv4_sign(
    method: str, url: str, headers: _Headers, body: _Body, region: str, service: str,
    access_key: str, secret_key: str, session_token: Optional[str] = None,
    timestamp: Optional[int] = None,
) -> dict[str, str]: ...
def sigv4_sign_details(
    method: str, url: str, headers: _Headers, body: _Body, region: str, service: str,
    access_key: str, secret_key: str, session_token: Optional[str] = None,
    timestamp: Optional[int] = None,
) -> SignatureDetails: ...
def sigv4_verify(method: str, url: str, headers: _Headers, body: _Body, secret_key: str) -> str: ...
