"""The on-failure destination of a stream mapping: an SQS queue or SNS topic for discarded batches."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from aws_clients import AwsClients
from sandbox.pollers.mapping import arn_parts


class OnFailureDestination:
    """An SQS queue or SNS topic that receives the metadata of discarded stream batches."""

    def __init__(self, arn: str, clients: AwsClients) -> None:
        self.arn = arn
        self._service, self._account, self._name = arn_parts(arn)
        if self._service not in ("sns", "sqs"):
            raise ValueError(f"unsupported on-failure destination {arn} (the sandbox sends to SQS or SNS)")
        # Created here: lanes of a ParallelizationFactor send from several threads at once.
        self._client = clients.client(self._service)
        self._lock = threading.Lock()
        self._queue_url: str | None = None

    def send(self, document: Mapping[str, Any]) -> None:
        """Deliver one on-failure record."""
        body = json.dumps(document)
        if self._service == "sns":
            self._client.publish(TopicArn=self.arn, Message=body)
            return
        with self._lock:
            if self._queue_url is None:
                answer = self._client.get_queue_url(
                    QueueName=self._name, QueueOwnerAWSAccountId=self._account
                )
                self._queue_url = str(answer["QueueUrl"])
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=body)
