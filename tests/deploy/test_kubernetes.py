"""Offline checks of deploy/kubernetes/ (and yamllint over all of deploy/): the worker gets
more time than its drain needs, KEDA scales on the queue from zero with in-flight
messages counted, the queue URL and region come from one ConfigMap through kustomize, and
the pod has resource requests and limits. The schema check is deploy_schema.test.mjs.

Run: python3 tests/deploy/test_kubernetes.py   (unittest; PyYAML; Debian's yamllint;
kubectl, when installed, renders the kustomization)"""

import os
import shutil
import subprocess
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
K8S = os.path.join(REPO, "deploy", "kubernetes")

WORKER_STOP_TIMEOUT_S = 25  # DESIGN.md, "The worker": default drain deadline after SIGTERM
IMAGE_USER_ID = 10001  # deploy/docker/Dockerfile: USER 10001:10001


def load(name):
    with open(os.path.join(K8S, name), encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    return docs[0] if len(docs) == 1 else docs


def parse_quantity(text):
    """Kubernetes quantities used here: 500m, 2, 1Gi, 512Mi."""
    text = str(text)
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


class YamllintTest(unittest.TestCase):
    def test_deploy_yaml_is_clean(self):
        yamllint = shutil.which("yamllint")
        self.assertIsNotNone(yamllint, "yamllint not installed (Debian package yamllint)")
        result = subprocess.run(
            [yamllint, "--strict", "-f", "parsable", "-c", os.path.join(HERE, "yamllint.yaml"),
             os.path.join(REPO, "deploy")],
            capture_output=True, text=True, timeout=120)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)


class ManifestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.deployment = load("deployment.yaml")
        cls.pod = cls.deployment["spec"]["template"]["spec"]
        cls.container = cls.pod["containers"][0]
        cls.scaled = load("scaledobject.yaml")
        cls.trigger = cls.scaled["spec"]["triggers"][0]
        cls.kustomization = load("kustomization.yaml")

    def test_grace_period_above_the_worker_drain(self):
        self.assertGreater(self.pod["terminationGracePeriodSeconds"], WORKER_STOP_TIMEOUT_S)
        # No preStop hook may eat into the drain time.
        self.assertNotIn("lifecycle", self.container)

    def test_resources_requested_and_limited(self):
        resources = self.container["resources"]
        for kind in ("cpu", "memory"):
            request = parse_quantity(resources["requests"][kind])
            limit = parse_quantity(resources["limits"][kind])
            self.assertGreater(request, 0, kind)
            self.assertGreaterEqual(limit, request, kind)

    def test_count_belongs_to_keda(self):
        self.assertNotIn("replicas", self.deployment["spec"])
        self.assertEqual(self.scaled["spec"]["scaleTargetRef"]["name"],
                         self.deployment["metadata"]["name"])

    def test_sqs_trigger_from_zero_counting_in_flight(self):
        self.assertEqual(self.scaled["spec"]["minReplicaCount"], 0)
        self.assertGreaterEqual(self.scaled["spec"]["maxReplicaCount"], 1)
        self.assertEqual(self.trigger["type"], "aws-sqs-queue")
        meta = self.trigger["metadata"]
        # KEDA metadata values are strings.
        self.assertTrue(all(isinstance(v, str) for v in meta.values()), meta)
        self.assertGreaterEqual(int(meta["queueLength"]), 1)
        # Active when more than activationQueueLength messages: 0 wakes on the first one.
        self.assertEqual(meta["activationQueueLength"], "0")
        self.assertEqual(meta["scaleOnInFlight"], "true")
        auth = load("triggerauthentication.yaml")
        self.assertEqual(self.trigger["authenticationRef"]["name"], auth["metadata"]["name"])
        self.assertEqual(auth["spec"]["podIdentity"]["provider"], "aws")

    def replacement_targets(self, data_key):
        targets = []
        for replacement in self.kustomization.get("replacements", []):
            source = replacement["source"]
            if (source["kind"], source["name"], source["fieldPath"]) == (
                    "ConfigMap", "imgbatch-worker", f"data.{data_key}"):
                for target in replacement["targets"]:
                    for path in target["fieldPaths"]:
                        targets.append((target["select"]["kind"], target["select"]["name"], path))
        return targets

    def test_queue_url_and_region_come_from_the_configmap(self):
        generated = {g["name"]: g for g in self.kustomization["configMapGenerator"]}
        literals = dict(lit.split("=", 1) for lit in generated["imgbatch-worker"]["literals"])
        for key in ("s3InputBucket", "s3OutputBucket", "SQSBatchQueue", "AWSRegion"):
            self.assertIn(key, literals)
        self.assertTrue(literals["SQSBatchQueue"].startswith("https://sqs."), "KEDA needs the URL")
        name = self.scaled["metadata"]["name"]
        self.assertIn(("ScaledObject", name, "spec.triggers.[type=aws-sqs-queue].metadata.queueURL"),
                      self.replacement_targets("SQSBatchQueue"))
        self.assertIn(("ScaledObject", name, "spec.triggers.[type=aws-sqs-queue].metadata.awsRegion"),
                      self.replacement_targets("AWSRegion"))
        self.assertIn({"configMapRef": {"name": "imgbatch-worker"}}, self.container["envFrom"])
        for resource in ("deployment.yaml", "scaledobject.yaml", "serviceaccount.yaml",
                         "triggerauthentication.yaml"):
            self.assertIn(resource, self.kustomization["resources"])

    def test_irsa_service_account(self):
        account = load("serviceaccount.yaml")
        self.assertIn("eks.amazonaws.com/role-arn", account["metadata"]["annotations"])
        self.assertEqual(self.pod["serviceAccountName"], account["metadata"]["name"])

    def test_non_root_matching_the_image(self):
        security = self.pod["securityContext"]
        self.assertIs(security["runAsNonRoot"], True)
        self.assertEqual(security["runAsUser"], IMAGE_USER_ID)
        self.assertIs(self.container["securityContext"]["allowPrivilegeEscalation"], False)

    def test_liveness_uses_the_heartbeat_file(self):
        probe = self.container["livenessProbe"]["exec"]["command"]
        self.assertEqual(probe[:3], ["imgbatch", "worker", "--check-health"])
        health_file = probe[probe.index("--health-file") + 1]
        args = self.container["args"]
        self.assertEqual(args[args.index("--health-file") + 1], health_file)
        # The file must live on a writable volume when the root filesystem is read-only.
        mounts = [m["mountPath"] for m in self.container.get("volumeMounts", [])]
        self.assertTrue(any(health_file.startswith(m.rstrip("/") + "/") for m in mounts), mounts)


@unittest.skipUnless(shutil.which("kubectl"), "kubectl not installed")
class KustomizeRenderTest(unittest.TestCase):
    def test_rendered_trigger_matches_the_worker_environment(self):
        out = subprocess.run(["kubectl", "kustomize", K8S], capture_output=True, text=True,
                             timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        docs = {d["kind"]: d for d in yaml.safe_load_all(out.stdout)}
        config = docs["ConfigMap"]
        meta = docs["ScaledObject"]["spec"]["triggers"][0]["metadata"]
        self.assertEqual(meta["queueURL"], config["data"]["SQSBatchQueue"])
        self.assertEqual(meta["awsRegion"], config["data"]["AWSRegion"])
        container = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(container["envFrom"], [{"configMapRef": {"name": config["metadata"]["name"]}}])
        for doc in docs.values():
            if doc["kind"] != "Namespace":
                self.assertEqual(doc["metadata"]["namespace"], "imgbatch", doc["kind"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
