"""An AppSync direct Lambda resolver: the event AppSync builds for a field, and its GraphQL answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

LOGGER: Final = logging.getLogger("sandbox.appsync")
SOURCE_IP: Final = "127.0.0.1"
_CALLER_ROLE: Final = "sandbox-caller"


class AppSyncResolver:
    """Resolves one GraphQL field with a Lambda handler, as an AWS_LAMBDA data source without templates."""

    # The handler gets AppSync's direct-resolver event (IAM identity); its return value becomes the
    # field's data, and an exception a GraphQL error whose `errorType` is the exception's class name,
    # as AppSync reports a Lambda function error.

    def __init__(
        self,
        *,
        type_name: str,
        field_name: str,
        invoke: Callable[[dict[str, Any]], Any],
        account_id: str,
        region: str,
        api_id: str = "sandbox",
    ) -> None:
        self.type_name = type_name
        self.field_name = field_name
        self._invoke = invoke
        self._account_id = account_id
        self._region = region
        self._api_id = api_id

    def event(
        self,
        arguments: Mapping[str, Any],
        *,
        selection_set: Sequence[str] = (),
        variables: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The direct Lambda resolver event for this field and `arguments`."""
        selection = list(selection_set)
        session = f"{_CALLER_ROLE}-session"
        return {
            "arguments": dict(arguments),
            "identity": {
                "accountId": self._account_id,
                "cognitoIdentityAuthProvider": None,
                "cognitoIdentityAuthType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "sourceIp": [SOURCE_IP],
                "userArn": f"arn:aws:sts::{self._account_id}:assumed-role/{_CALLER_ROLE}/{session}",
                "username": f"AROASANDBOXCALLER:{session}",
            },
            "source": None,
            "request": {
                "headers": {
                    "content-type": "application/json",
                    "host": f"{self._api_id}.appsync-api.{self._region}.amazonaws.com",
                    "x-forwarded-for": SOURCE_IP,
                    **(headers or {}),
                },
                "domainName": None,
            },
            "prev": None,
            "info": {
                "selectionSetList": selection,
                "selectionSetGraphQL": _selection_graphql(selection),
                "parentTypeName": self.type_name,
                "fieldName": self.field_name,
                "variables": dict(variables or {}),
            },
            "stash": {},
        }

    def resolve(self, arguments: Mapping[str, Any], *, selection_set: Sequence[str] = ()) -> dict[str, Any]:
        """The GraphQL response: `{"data": {field: result}}`, or `{"data": None, "errors": [...]}`."""
        try:
            result = self._invoke(self.event(arguments, selection_set=selection_set))
        except Exception as error:  # noqa: BLE001 - AppSync turns any function error into a GraphQL error
            LOGGER.info("%s.%s: %s: %s", self.type_name, self.field_name, type(error).__name__, error)
            return {
                "data": None,
                "errors": [
                    {
                        "path": [self.field_name],
                        "data": None,
                        "errorType": type(error).__name__,
                        "errorInfo": None,
                        "locations": [{"line": 1, "column": 1, "sourceName": None}],
                        "message": str(error),
                    }
                ],
            }
        return {"data": {self.field_name: result}}


def _selection_graphql(selection: Sequence[str]) -> str:
    top_level = [name for name in selection if "/" not in name]
    return "{\n  " + "\n  ".join(top_level) + "\n}" if top_level else ""
