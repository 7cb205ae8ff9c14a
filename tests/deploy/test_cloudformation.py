"""Offline checks of deploy/aws/imgbatch.yaml: it parses with CloudFormation's tags, every
reference resolves, the dependency graph has no cycle, and the properties that make the
stack correct and least-privilege hold (the task role names exactly the two buckets and
two queues; the notification and the queue policy agree; the scaling policies drive the
service; the DLQ redrive count is 5; the task drains within its stop timeout).

Run: python3 tests/deploy/test_cloudformation.py   (unittest; PyYAML only)
The schema check against AWS's resource specification is cfn_schema.test.mjs."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cfn_yaml  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEMPLATE = os.environ.get("IMGBATCH_CFN_TEMPLATE",
                          os.path.join(REPO, "deploy", "aws", "imgbatch.yaml"))

WORKER_STOP_TIMEOUT_S = 25  # DESIGN.md, "The worker": default drain deadline after SIGTERM
IMAGE_SUFFIXES = [".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".gif", ".heic", ".avif"]


def as_list(value):
    return value if isinstance(value, list) else [value]


class TemplateTestCase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t = cfn_yaml.load(TEMPLATE)
        cls.res = cls.t["Resources"]

    def props(self, name):
        return self.res[name]["Properties"]

    def resources_of_type(self, type_name):
        return {k: v for k, v in self.res.items() if v["Type"] == type_name}


class StructureTest(TemplateTestCase):
    def test_sections_and_types(self):
        self.assertEqual(self.t["AWSTemplateFormatVersion"], "2010-09-09")
        for name, resource in self.res.items():
            self.assertRegex(resource.get("Type", ""), r"^AWS::\w+::\w+$", name)

    def test_unknown_tag_is_refused(self):
        import yaml

        with self.assertRaises(cfn_yaml.UnknownTagError):
            yaml.load("A: !NotAFunction x", Loader=cfn_yaml.CfnLoader)

    def test_every_reference_resolves(self):
        known = set(self.t["Parameters"]) | set(self.res) | cfn_yaml.PSEUDO_PARAMETERS
        for section in ("Resources", "Outputs", "Conditions"):
            for name, node in self.t.get(section, {}).items():
                for ref in cfn_yaml.references(node):
                    self.assertIn(ref, known, f"{section}.{name} refers to unknown {ref}")
        conditions = set(self.t.get("Conditions", {}))
        for path, node in cfn_yaml.walk(self.t["Resources"]):
            if isinstance(node, dict) and "Fn::If" in node:
                self.assertIn(node["Fn::If"][0], conditions, path)

    def test_getatt_targets_resources_not_parameters(self):
        for path, node in cfn_yaml.walk(self.res):
            if isinstance(node, dict) and "Fn::GetAtt" in node:
                self.assertIn(node["Fn::GetAtt"][0], self.res, path)

    def test_dependency_graph_is_acyclic(self):
        graph = {}
        for name, resource in self.res.items():
            deps = {r for r in cfn_yaml.references(resource) if r in self.res}
            deps |= set(as_list(resource.get("DependsOn", [])))
            graph[name] = deps
        state = {}

        def visit(node, stack):
            if state.get(node) == "done":
                return
            self.assertNotEqual(state.get(node), "visiting", f"cycle: {' -> '.join(stack + [node])}")
            state[node] = "visiting"
            for dep in sorted(graph[node]):
                visit(dep, stack + [node])
            state[node] = "done"

        for name in sorted(graph):
            visit(name, [])

    def test_parameters_and_outputs(self):
        for p in ("Image", "Subnets", "VpcId", "MinTasks", "MaxTasks", "TargetBacklogPerTask"):
            self.assertIn(p, self.t["Parameters"])
        self.assertEqual(self.t["Parameters"]["Subnets"]["Type"], "List<AWS::EC2::Subnet::Id>")
        self.assertEqual(self.t["Parameters"]["VpcId"]["Type"], "AWS::EC2::VPC::Id")
        outputs = self.t["Outputs"]
        self.assertTrue(cfn_yaml.is_ref(outputs["InputBucketName"]["Value"], "InputBucket"))
        self.assertTrue(cfn_yaml.is_ref(outputs["OutputBucketName"]["Value"], "OutputBucket"))
        self.assertTrue(cfn_yaml.is_ref(outputs["QueueUrl"]["Value"], "Queue"))
        self.assertTrue(cfn_yaml.is_ref(outputs["DeadLetterQueueUrl"]["Value"], "DeadLetterQueue"))


class StorageTest(TemplateTestCase):
    def test_buckets_private_and_encrypted(self):
        buckets = self.resources_of_type("AWS::S3::Bucket")
        self.assertEqual(set(buckets), {"InputBucket", "OutputBucket"})
        for name, bucket in buckets.items():
            block = bucket["Properties"]["PublicAccessBlockConfiguration"]
            for key in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls",
                        "RestrictPublicBuckets"):
                self.assertIs(block[key], True, f"{name}.{key}")
            rules = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            self.assertIn(rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"],
                          ("AES256", "aws:kms", "aws:kms:dsse"))

    def test_output_bucket_has_no_notification(self):
        # Outputs landing where the filter matches would re-trigger the job forever.
        self.assertNotIn("NotificationConfiguration", self.props("OutputBucket"))

    def test_dlq_redrive_after_five_receives(self):
        queue = self.props("Queue")
        self.assertEqual(queue["RedrivePolicy"]["maxReceiveCount"], 5)
        self.assertTrue(cfn_yaml.is_getatt(queue["RedrivePolicy"]["deadLetterTargetArn"],
                                           "DeadLetterQueue", "Arn"))
        self.assertEqual(queue["VisibilityTimeout"], 120)
        self.assertNotIn("RedrivePolicy", self.props("DeadLetterQueue"))


class NotificationTest(TemplateTestCase):
    def configurations(self):
        return self.props("InputBucket")["NotificationConfiguration"]["QueueConfigurations"]

    def suffixes(self):
        result = []
        for config in self.configurations():
            rules = config["Filter"]["S3Key"]["Rules"]
            self.assertEqual(len(rules), 1)
            self.assertEqual(rules[0]["Name"].lower(), "suffix")
            result.append(rules[0]["Value"])
        return result

    def test_one_configuration_per_suffix_and_case(self):
        expected = sorted(IMAGE_SUFFIXES + [s.upper() for s in IMAGE_SUFFIXES])
        self.assertEqual(sorted(self.suffixes()), expected)

    def test_filters_do_not_overlap(self):
        # S3 refuses overlapping filters for one event type ("ambiguously defined"):
        # with suffix-only rules, two overlap when one suffix ends the other.
        suffixes = self.suffixes()
        for a in suffixes:
            for b in suffixes:
                if a != b:
                    self.assertFalse(a.endswith(b), f"{a} overlaps {b}")

    def test_every_configuration_sends_creations_to_the_queue(self):
        for config in self.configurations():
            self.assertEqual(config["Event"], "s3:ObjectCreated:*")
            self.assertTrue(cfn_yaml.is_getatt(config["Queue"], "Queue", "Arn"), config)

    def test_queue_policy_names_the_input_bucket_exactly(self):
        bucket_name = self.props("InputBucket")["BucketName"]["Fn::Sub"]
        policy = self.props("QueuePolicy")
        self.assertEqual(policy["Queues"], [{"Ref": "Queue"}])
        statements = policy["PolicyDocument"]["Statement"]
        self.assertEqual(len(statements), 1)
        statement = statements[0]
        self.assertEqual(statement["Effect"], "Allow")
        self.assertEqual(statement["Principal"], {"Service": "s3.amazonaws.com"})
        self.assertEqual(statement["Action"], "sqs:SendMessage")
        self.assertTrue(cfn_yaml.is_getatt(statement["Resource"], "Queue", "Arn"))
        source_arn = statement["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"]
        self.assertEqual(source_arn, "arn:${AWS::Partition}:s3:::" + bucket_name)
        self.assertTrue(cfn_yaml.is_ref(statement["Condition"]["StringEquals"]["aws:SourceAccount"],
                                        "AWS::AccountId"))

    def test_bucket_name_is_deterministic_and_waits_for_the_policy(self):
        # The AWS-documented way out of the bucket <-> queue policy cycle: a name known
        # before the bucket exists, and the bucket created after the policy.
        name = self.props("InputBucket")["BucketName"]["Fn::Sub"]
        for part in ("${AWS::StackName}", "${AWS::AccountId}", "${AWS::Region}"):
            self.assertIn(part, name)
        self.assertIn("QueuePolicy", as_list(self.res["InputBucket"].get("DependsOn", [])))
        self.assertNotIn("InputBucket", cfn_yaml.references(self.res["QueuePolicy"]))
        # 63-character S3 limit: the fixed part leaves room for a 30-character stack name.
        fixed = name.replace("${AWS::StackName}", "").replace("${AWS::AccountId}", "0" * 12)
        self.assertLessEqual(len(fixed.replace("${AWS::Region}", "ap-southeast-2")) + 30, 63)


class TaskRoleTest(TemplateTestCase):
    EXPECTED = {
        ("InputBucket/*", "s3:GetObject"),
        ("InputBucket", "s3:ListBucket"),
        ("OutputBucket/*", "s3:PutObject"),
        ("OutputBucket/*", "s3:GetObject"),
        ("Queue", "sqs:ReceiveMessage"),
        ("Queue", "sqs:DeleteMessage"),
        ("Queue", "sqs:ChangeMessageVisibility"),
        ("Queue", "sqs:GetQueueUrl"),
        ("Queue", "sqs:GetQueueAttributes"),
        ("DeadLetterQueue", "sqs:SendMessage"),
        ("DeadLetterQueue", "sqs:GetQueueUrl"),
    }

    def statements(self):
        result = []
        for policy in self.props("TaskRole")["Policies"]:
            result.extend(as_list(policy["PolicyDocument"]["Statement"]))
        return result

    @staticmethod
    def resource_key(resource):
        """InputBucket, InputBucket/* or Queue for the forms the template may use."""
        if isinstance(resource, dict) and "Fn::GetAtt" in resource:
            return resource["Fn::GetAtt"][0]
        if isinstance(resource, dict) and "Fn::Sub" in resource:
            text = resource["Fn::Sub"]
            if text.startswith("${") and text.endswith(".Arn}/*"):
                return text[2:-len(".Arn}/*")] + "/*"
        raise AssertionError(f"task role resource in an unexpected form: {resource}")

    def test_no_wildcard_resource_for_s3_or_sqs(self):
        for statement in self.statements():
            actions = as_list(statement["Action"])
            if any(a.startswith(("s3:", "sqs:")) for a in actions):
                for resource in as_list(statement["Resource"]):
                    self.assertNotEqual(resource, "*", statement)
                    self.assertFalse(isinstance(resource, str) and resource.endswith(":*"),
                                     statement)
            for action in actions:
                self.assertNotIn("*", action, f"wildcard action in {statement}")
            self.assertEqual(statement["Effect"], "Allow")
            self.assertNotIn("NotResource", statement)
            self.assertNotIn("NotAction", statement)

    def test_grants_exactly_what_the_worker_needs(self):
        granted = set()
        for statement in self.statements():
            for resource in as_list(statement["Resource"]):
                for action in as_list(statement["Action"]):
                    granted.add((self.resource_key(resource), action))
        self.assertEqual(granted, self.EXPECTED)

    def test_only_ecs_tasks_of_this_account_assume_it(self):
        trust = self.props("TaskRole")["AssumeRolePolicyDocument"]["Statement"]
        self.assertEqual(len(trust), 1)
        self.assertEqual(trust[0]["Principal"], {"Service": "ecs-tasks.amazonaws.com"})
        self.assertIn("aws:SourceAccount", trust[0]["Condition"]["StringEquals"])

    def test_task_definition_uses_the_roles(self):
        task = self.props("TaskDefinition")
        self.assertTrue(cfn_yaml.is_getatt(task["TaskRoleArn"], "TaskRole", "Arn"))
        self.assertTrue(cfn_yaml.is_getatt(task["ExecutionRoleArn"], "ExecutionRole", "Arn"))


class TaskDefinitionTest(TemplateTestCase):
    def container(self):
        containers = self.props("TaskDefinition")["ContainerDefinitions"]
        self.assertEqual(len(containers), 1)
        return containers[0]

    def test_stop_timeout_above_the_worker_drain(self):
        stop = self.container()["StopTimeout"]
        self.assertGreater(stop, WORKER_STOP_TIMEOUT_S)
        self.assertLessEqual(stop, 120)  # Fargate's maximum

    def test_health_check_uses_the_heartbeat_file(self):
        container = self.container()
        check = container["HealthCheck"]["Command"]
        self.assertEqual(check[:3], ["CMD", "imgbatch", "worker"])
        self.assertIn("--check-health", check)
        health_file = check[check.index("--health-file") + 1]
        command = container["Command"]
        self.assertEqual(command[command.index("--health-file") + 1], health_file)

    def test_environment_names_the_stack_resources(self):
        env = {e["Name"]: e["Value"] for e in self.container()["Environment"]}
        self.assertTrue(cfn_yaml.is_ref(env["s3InputBucket"], "InputBucket"))
        self.assertTrue(cfn_yaml.is_ref(env["s3OutputBucket"], "OutputBucket"))
        self.assertTrue(cfn_yaml.is_ref(env["SQSBatchQueue"], "Queue"))
        self.assertTrue(cfn_yaml.is_ref(env["AWSRegion"], "AWS::Region"))
        command = self.container()["Command"]
        self.assertTrue(cfn_yaml.is_ref(command[command.index("--dlq") + 1], "DeadLetterQueue"))

    def test_fargate_and_logs(self):
        task = self.props("TaskDefinition")
        self.assertEqual(task["RequiresCompatibilities"], ["FARGATE"])
        self.assertEqual(task["NetworkMode"], "awsvpc")
        logs = self.container()["LogConfiguration"]
        self.assertEqual(logs["LogDriver"], "awslogs")
        self.assertTrue(cfn_yaml.is_ref(logs["Options"]["awslogs-group"], "LogGroup"))

    def test_service_runs_the_task_without_a_fixed_count(self):
        service = self.props("Service")
        self.assertTrue(cfn_yaml.is_ref(service["TaskDefinition"], "TaskDefinition"))
        self.assertTrue(cfn_yaml.is_ref(service["Cluster"], "Cluster"))
        # Auto scaling owns the count; a template value would reset it on every update.
        self.assertNotIn("DesiredCount", service)

    def test_security_group_is_egress_only(self):
        group = self.props("WorkerSecurityGroup")
        self.assertNotIn("SecurityGroupIngress", group)
        self.assertFalse(self.resources_of_type("AWS::EC2::SecurityGroupIngress"))
        self.assertTrue(group["SecurityGroupEgress"])


class ScalingTest(TemplateTestCase):
    def test_scalable_target_is_the_service(self):
        target = self.props("ScalableTarget")
        self.assertEqual(target["ServiceNamespace"], "ecs")
        self.assertEqual(target["ScalableDimension"], "ecs:service:DesiredCount")
        self.assertEqual(target["ResourceId"], {"Fn::Sub": "service/${Cluster}/${Service.Name}"})
        self.assertTrue(cfn_yaml.is_ref(target["MinCapacity"], "MinTasks"))
        self.assertTrue(cfn_yaml.is_ref(target["MaxCapacity"], "MaxTasks"))

    def test_every_policy_targets_the_service(self):
        policies = self.resources_of_type("AWS::ApplicationAutoScaling::ScalingPolicy")
        self.assertEqual({p["Properties"]["PolicyType"] for p in policies.values()},
                         {"TargetTrackingScaling", "StepScaling"})
        for name, policy in policies.items():
            self.assertTrue(cfn_yaml.is_ref(policy["Properties"]["ScalingTargetId"],
                                            "ScalableTarget"), name)

    def test_target_tracking_on_backlog_per_task(self):
        config = self.props("BacklogPerTaskPolicy")["TargetTrackingScalingPolicyConfiguration"]
        self.assertTrue(cfn_yaml.is_ref(config["TargetValue"], "TargetBacklogPerTask"))
        metrics = {m["Id"]: m for m in config["CustomizedMetricSpecification"]["Metrics"]}
        returned = [m for m in metrics.values() if m.get("ReturnData")]
        self.assertEqual(len(returned), 1, "metric math must return exactly one series")
        expression = returned[0]["Expression"]
        names = {m["MetricStat"]["Metric"]["MetricName"]: i for i, m in metrics.items()
                 if "MetricStat" in m}
        visible = names["ApproximateNumberOfMessagesVisible"]
        inflight = names["ApproximateNumberOfMessagesNotVisible"]
        running = names["RunningTaskCount"]
        self.assertEqual(expression.replace(" ", ""), f"({visible}+{inflight})/{running}")
        for metric_id in (visible, inflight):
            dims = metrics[metric_id]["MetricStat"]["Metric"]["Dimensions"]
            self.assertEqual(dims, [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["Queue", "QueueName"]}}])
        dims = {d["Name"]: d["Value"] for d in metrics[running]["MetricStat"]["Metric"]["Dimensions"]}
        self.assertTrue(cfn_yaml.is_ref(dims["ClusterName"], "Cluster"))
        self.assertTrue(cfn_yaml.is_getatt(dims["ServiceName"], "Service", "Name"))
        # RunningTaskCount comes from Container Insights, which must be on.
        settings = self.props("Cluster")["ClusterSettings"]
        self.assertIn({"Name": "containerInsights", "Value": "enabled"}, settings)

    def test_step_policy_wakes_from_zero(self):
        config = self.props("WakeFromZeroPolicy")["StepScalingPolicyConfiguration"]
        self.assertEqual(config["AdjustmentType"], "ExactCapacity")
        self.assertEqual(config["StepAdjustments"], [{"MetricIntervalLowerBound": 0,
                                                      "ScalingAdjustment": 1}])
        alarm = self.props("WakeFromZeroAlarm")
        self.assertEqual(alarm["AlarmActions"], [{"Ref": "WakeFromZeroPolicy"}])
        self.assertEqual(alarm["Threshold"], 1)
        self.assertEqual(alarm["ComparisonOperator"], "GreaterThanOrEqualToThreshold")
        returned = [m for m in alarm["Metrics"] if m.get("ReturnData")]
        self.assertEqual(len(returned), 1)
        # Fires on waiting messages only while no task runs ("no data" = none running).
        self.assertIn("FILL(running, 0) < 1", returned[0]["Expression"])


class AlarmTest(TemplateTestCase):
    def test_dlq_depth_and_oldest_message_alarms(self):
        dlq = self.props("DeadLetterQueueDepthAlarm")
        self.assertEqual(dlq["MetricName"], "ApproximateNumberOfMessagesVisible")
        self.assertEqual(dlq["Dimensions"][0]["Value"], {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]})
        self.assertEqual(dlq["Threshold"], 1)
        age = self.props("OldestMessageAgeAlarm")
        self.assertEqual(age["MetricName"], "ApproximateAgeOfOldestMessage")
        self.assertEqual(age["Dimensions"][0]["Value"], {"Fn::GetAtt": ["Queue", "QueueName"]})
        self.assertTrue(cfn_yaml.is_ref(age["Threshold"], "OldestMessageAgeAlarmSeconds"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
