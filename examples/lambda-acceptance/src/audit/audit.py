"""Audit: a Python handler on the alerts topic (SNS). It writes what it saw to the audit
results queue with boto3 (through AWS_ENDPOINT_URL on lyrebird); an alert whose message is
"fail" raises, so SNS's asynchronous invoke retries it."""

import json
import os

import boto3

sqs = boto3.client("sqs")


def handler(event, context):
    for record in event["Records"]:
        message = record["Sns"]["Message"]
        sqs.send_message(
            QueueUrl=os.environ["RESULTS_QUEUE_URL"],
            MessageBody=json.dumps(
                {
                    "record": record,
                    "function_name": context.function_name,
                    "invoked_function_arn": context.invoked_function_arn,
                    "memory_limit_in_mb": context.memory_limit_in_mb,
                    "request_id": context.aws_request_id,
                    "stage": os.environ.get("STAGE"),
                    "runtime_env": os.environ.get("AWS_EXECUTION_ENV"),
                }
            ),
        )
        print(f"audited {record['Sns']['MessageId']}")
        if message == "fail":
            raise RuntimeError("audit refused the alert")
    return {"audited": len(event["Records"])}
