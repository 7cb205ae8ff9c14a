"""Offline checks of deploy/docker/Dockerfile (no Docker engine runs here): the build stage
runs the same scripts CI runs, the runtime stage is Debian slim with only the libraries
the binary loads, runs as a non-root user, starts `imgbatch worker`, stops on SIGTERM and
checks health through the heartbeat file; nothing in it is tied to one CPU architecture.
Also runs deploy/docker/runtime-packages.sh, the helper that lists those libraries, on a
real binary (IMGBATCH_BIN when set, e.g. by ctest, else /bin/ls).

Run: python3 tests/deploy/test_dockerfile.py   (unittest, standard library only)"""

import json
import os
import re
import shlex
import subprocess
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DOCKERFILE = os.path.join(REPO, "deploy", "docker", "Dockerfile")
RUNTIME_PACKAGES = os.path.join(REPO, "deploy", "docker", "runtime-packages.sh")

# The binary's path as scripts/build.sh release leaves it (README, CI).
BUILT_BINARY = "build/release/src/cli/imgbatch"
ARCH_SPECIFIC = re.compile(r"x86_64|amd64|aarch64|arm64|i386|armhf", re.IGNORECASE)


def parse_dockerfile(path):
    """Returns [(instruction, arguments)] with continuation lines joined and comments
    (including those between continued lines, as Docker allows) dropped."""
    instructions, pending = [], ""
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if line.lstrip().startswith("#"):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            line = pending + line
            pending = ""
            if line.strip():
                word, _, rest = line.strip().partition(" ")
                instructions.append((word.upper(), rest.strip()))
    if pending.strip():
        raise ValueError("Dockerfile ends inside a continued line")
    return instructions


def split_stages(instructions):
    """[(stage_name, from_image, [(instruction, args)])]; global ARGs resolved into FROM."""
    args, stages = {}, []
    for word, rest in instructions:
        if word == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif word == "FROM":
            image, _, alias = rest.partition(" AS ")
            image = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image.strip())
            stages.append((alias.strip() or str(len(stages)), image, []))
        elif stages:
            stages[-1][2].append((word, rest))
    return stages


def exec_form(args):
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


class DockerfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.instructions = parse_dockerfile(DOCKERFILE)
        cls.stages = split_stages(cls.instructions)
        cls.build = next(s for s in cls.stages if s[0] == "build")
        cls.runtime = cls.stages[-1]

    def final(self, word):
        found = [rest for w, rest in self.runtime[2] if w == word]
        self.assertTrue(found, f"no {word} in the runtime stage")
        return found[-1]

    def test_multi_stage_on_debian_12(self):
        self.assertEqual(self.build[1], "debian:12")
        self.assertEqual(self.runtime[1], "debian:12-slim")
        self.assertNotEqual(self.build, self.runtime)

    def test_build_stage_runs_the_ci_scripts(self):
        runs = " && ".join(rest for w, rest in self.build[2] if w == "RUN")
        self.assertRegex(runs, r"(^|\s)scripts/deps\.sh --build-only(\s|$)")
        self.assertRegex(runs, r"(^|\s)scripts/build\.sh release(\s|$)")
        self.assertIn(BUILT_BINARY, runs)
        self.assertIn("deploy/docker/runtime-packages.sh", runs)

    def test_runtime_has_only_runtime_libraries(self):
        runs = " ".join(rest for w, rest in self.runtime[2] if w == "RUN")
        self.assertIn("--no-install-recommends", runs)
        self.assertIn("ca-certificates", runs)
        self.assertIn("runtime-packages.txt", runs)
        self.assertNotRegex(runs, r"-dev\b|build-essential|cmake|g\+\+")
        self.assertIn("rm -rf /var/lib/apt/lists/*", runs)
        copies = [rest for w, rest in self.runtime[2] if w == "COPY"]
        self.assertTrue(all(c.startswith("--from=build ") for c in copies), copies)

    def test_non_root_user(self):
        user = self.final("USER").split(":")[0]
        self.assertNotIn(user, ("root", "0", ""))
        self.assertTrue(user.isdigit(), "numeric, so Kubernetes runAsNonRoot can verify it")

    def test_entrypoint_stopsignal_and_health(self):
        self.assertEqual(exec_form(self.final("ENTRYPOINT")), ["imgbatch", "worker"])
        self.assertEqual(self.final("STOPSIGNAL"), "SIGTERM")
        options, _, command = self.final("HEALTHCHECK").partition("CMD ")
        check = exec_form(command)
        self.assertEqual(check[:3], ["imgbatch", "worker", "--check-health"])
        self.assertRegex(options, r"--interval=\d+s")
        health_file = check[check.index("--health-file") + 1]
        cmd = exec_form(self.final("CMD"))
        self.assertEqual(cmd[cmd.index("--health-file") + 1], health_file)

    def test_nothing_tied_to_one_architecture(self):
        for word, rest in self.instructions:
            self.assertIsNone(ARCH_SPECIFIC.search(rest), f"{word} {rest}")

    def test_dockerignore_keeps_the_sources(self):
        with open(os.path.join(REPO, ".dockerignore"), encoding="utf-8") as f:
            patterns = [p.strip() for p in f if p.strip() and not p.startswith("#")]
        for excluded in (".git", "/build*", "**/node_modules"):
            self.assertIn(excluded, patterns)
        needed = ("scripts", "src", "cmake", "CMakeLists.txt")
        for pattern in patterns:
            self.assertNotIn(pattern.strip("/"), needed)
        self.assertIn("!deploy/docker/runtime-packages.sh", patterns)


class RuntimePackagesTest(unittest.TestCase):
    def run_script(self, binary):
        return subprocess.run(["sh", RUNTIME_PACKAGES, binary], capture_output=True, text=True,
                              timeout=60)

    def test_lists_the_packages_of_a_binary(self):
        binary = os.environ.get("IMGBATCH_BIN") or "/bin/ls"
        result = self.run_script(binary)
        self.assertEqual(result.returncode, 0, result.stderr)
        packages = result.stdout.split()
        self.assertIn("libc6", packages)
        self.assertEqual(packages, sorted(set(packages)))
        for package in packages:
            self.assertRegex(package, r"^[a-z0-9][a-z0-9.+-]+$")
            self.assertFalse(package.endswith("-dev"), package)
        if os.environ.get("IMGBATCH_BIN"):
            for package in ("libvips42", "libcurl4", "libsqlite3-0", "libssl3"):
                self.assertIn(package, packages)

    def test_refuses_what_is_not_a_dynamic_executable(self):
        result = self.run_script(DOCKERFILE)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("not a dynamically linked executable", result.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
