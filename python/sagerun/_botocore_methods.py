"""The methods of a boto3 client that never call the service (pagination,
waiters, presigned URLs), answered by the botocore client that each sagerun
client keeps for resolution: same service model, config, endpoint and
credentials, so the answers are boto3's own. SageMaker Runtime has no
paginated operation and no waiter: ``can_paginate`` is False,
``waiter_names`` empty, and ``get_paginator``/``get_waiter`` raise botocore's
errors for that."""

from __future__ import annotations

from typing import Any, Dict, List, Optional


class BotocoreMethods:
    _botocore_client: Any

    def can_paginate(self, operation_name: str) -> bool:
        return self._botocore_client.can_paginate(operation_name)

    def get_paginator(self, operation_name: str) -> Any:
        return self._botocore_client.get_paginator(operation_name)

    def get_waiter(self, waiter_name: str) -> Any:
        return self._botocore_client.get_waiter(waiter_name)

    @property
    def waiter_names(self) -> List[str]:
        return self._botocore_client.waiter_names

    def generate_presigned_url(
        self,
        ClientMethod: str,
        Params: Optional[Dict[str, Any]] = None,
        ExpiresIn: int = 3600,
        HttpMethod: Optional[str] = None,
    ) -> str:
        return self._botocore_client.generate_presigned_url(
            ClientMethod, Params=Params, ExpiresIn=ExpiresIn, HttpMethod=HttpMethod
        )
