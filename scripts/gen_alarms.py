#!/usr/bin/env python3
"""Writes template.yaml's alarms: the section between the markers below, made from the
functions the template declares (so a new function gets its alarms), and the fixed
alarms of the runbook (docs/runbook.md). Run it after adding a function;
tests/api_contract.py fails while the section is not what this script writes.

    python3 scripts/gen_alarms.py          # rewrite the section
    python3 scripts/gen_alarms.py --check  # exit 1 when it is out of date

Every alarm notifies the `AlarmTopicArn` parameter's SNS topic (no action when it is
empty) and has its threshold as a parameter.
"""
import re
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
BEGIN = "  # --- alarms: written by scripts/gen_alarms.py, do not edit by hand ---\n"
END = "  # --- end of the generated alarms ---\n"
ACTIONS = """      AlarmActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]
      OKActions: !If [HasAlarmTopic, [!Ref AlarmTopicArn], !Ref AWS::NoValue]
"""


def functions(text):
    """(logical id, binary, serves HTTP) of every function, in template order."""
    found = []
    for match in re.finditer(r"^  (\w+):\n    Type: AWS::Serverless::Function\n(.*?)(?=^  \w+:\n|\Z)",
                             text, re.M | re.S):
        body = match.group(2)
        binary = re.search(r"Binary: ([\w-]+)", body)
        if binary:
            found.append((match.group(1), binary.group(1), "Type: Api" in body))
    return found


def ns_metric(name, function, dims=None):
    """One of our metrics (MetricsNamespace) by function and more dimensions."""
    lines = ["      Namespace: !Ref MetricsNamespace", f"      MetricName: {name}", "      Dimensions:"]
    for key, value in [("function", function), *(dims or {}).items()]:
        lines += [f"        - Name: {key}", f"          Value: {value}"]
    return "\n".join(lines) + "\n"


def alarm(logical, description, body, anchor=None):
    return f"""  {logical}:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub "${{AWS::StackName}}-{logical}"
      AlarmDescription: >-
        {description} See docs/runbook.md#{(anchor or logical).lower()}.
{body}{ACTIONS}      TreatMissingData: notBreaching

"""


def fixed_alarms():
    out = ""
    out += alarm("DispatchLagAlarm",
                 "Scheduled posts go out late: the dispatcher's p99 lag (scheduled_at to init) is over DispatchLagP99Seconds.",
                 f"""{ns_metric("DispatchLag", "publish-scheduled-posts")}      ExtendedStatistic: p99
      Period: 300
      EvaluationPeriods: 1
      Threshold: !Ref DispatchLagP99Seconds
      ComparisonOperator: GreaterThanThreshold
""")
    out += alarm("UnconfirmedPostsAlarm",
                 "A scheduled post became UNCONFIRMED in the last hour: TikTok's answer to its init was lost.",
                 f"""{ns_metric("unconfirmed", "publish-scheduled-posts")}      Statistic: Sum
      Period: 3600
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
""")
    for logical, job, function, period in (
            ("DispatcherStoppedAlarm", "The dispatcher", "publish-scheduled-posts", 60),
            ("SweepStoppedAlarm", "The keep-alive sweep", "refresh-connections", 3600),
            ("SyncStoppedAlarm", "The analytics sync", "sync-analytics", 300)):
        out += alarm(logical,
                     f"{job} stopped early (TikTok's 429s or outages, the database) two runs in a row.",
                     f"""{ns_metric("RunsStopped", function)}      Statistic: Sum
      Period: {period}
      EvaluationPeriods: 2
      DatapointsToAlarm: 2
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
""")
    out += alarm("WebhookSignatureFailuresAlarm",
                 "TikTok's webhooks are refused for their signature (a rotated client secret?) more than WebhookSignatureFailuresThreshold times in 5 minutes.",
                 f"""{ns_metric("WebhookDeliveries", "tiktok-webhook", {"event": "none", "outcome": "bad_signature"})}      Statistic: Sum
      Period: 300
      EvaluationPeriods: 1
      Threshold: !Ref WebhookSignatureFailuresThreshold
      ComparisonOperator: GreaterThanThreshold
""")
    out += alarm("DeadLetterQueueAlarm",
                 "A dispatcher invocation failed and its event is in the dead-letter queue.",
                 """      Namespace: AWS/SQS
      MetricName: ApproximateNumberOfMessagesVisible
      Dimensions:
        - Name: QueueName
          Value: !GetAtt DispatchDeadLetterQueue.QueueName
      Statistic: Maximum
      Period: 300
      EvaluationPeriods: 1
      Threshold: 0
      ComparisonOperator: GreaterThanThreshold
""")
    return out


def function_alarms(logical, binary, http):
    out = ""
    for metric, threshold in (("Errors", "LambdaErrorsThreshold"), ("Throttles", "LambdaThrottlesThreshold")):
        out += alarm(f"{logical}{metric}Alarm",
                     f"{binary}: Lambda {metric.lower()} over {threshold} in 5 minutes.",
                     f"""      Namespace: AWS/Lambda
      MetricName: {metric}
      Dimensions:
        - Name: FunctionName
          Value: !Ref {logical}
      Statistic: Sum
      Period: 300
      EvaluationPeriods: 1
      Threshold: !Ref {threshold}
      ComparisonOperator: GreaterThanThreshold
""", f"{metric}Alarm")
    if http:
        out += alarm(f"{logical}ServerErrorRateAlarm",
                     f"{binary}: over ServerErrorRatePercent of its answers in 5 minutes are 5xx.",
                     f"""      Metrics:
        - Id: rate
          Expression: "100 * errors / requests"
          Label: 5xx percent
        - Id: errors
          ReturnData: false
          MetricStat:
            Metric:
              Namespace: !Ref MetricsNamespace
              MetricName: Errors5xx
              Dimensions:
                - Name: function
                  Value: {binary}
            Period: 300
            Stat: Sum
        - Id: requests
          ReturnData: false
          MetricStat:
            Metric:
              Namespace: !Ref MetricsNamespace
              MetricName: Requests
              Dimensions:
                - Name: function
                  Value: {binary}
            Period: 300
            Stat: Sum
      EvaluationPeriods: 1
      Threshold: !Ref ServerErrorRatePercent
      ComparisonOperator: GreaterThanThreshold
""", "ServerErrorRateAlarm")
    return out


def section(text):
    body = fixed_alarms()
    for logical, binary, http in functions(text):
        body += function_alarms(logical, binary, http)
    return BEGIN + body.rstrip("\n") + "\n\n" + END


def main():
    text = TEMPLATE.read_text()
    if BEGIN not in text or END not in text:
        sys.exit(f"{TEMPLATE} has no alarm markers")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    updated = head + section(text) + tail
    if "--check" in sys.argv:
        if updated != text:
            sys.exit("template.yaml's alarms are out of date: run python3 scripts/gen_alarms.py")
        return
    TEMPLATE.write_text(updated)


if __name__ == "__main__":
    main()
