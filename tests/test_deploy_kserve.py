"""deploy/: the Dockerfile and KServe manifests, checked by running their exact command and
probes locally (no docker or cluster here): what the kubelet would do, done by hand."""

from __future__ import annotations

import json
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from _deploy_fakes import linear

import modelmgmt as mm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEPLOY = os.path.join(ROOT, "deploy")


def parse_yaml(text):
    """The block-YAML subset the manifests use: maps, "- " lists, scalars, JSON flow lists."""
    lines = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line.strip():
            lines.append((len(line) - len(line.lstrip()), line.strip()))

    def scalar(v):
        if v.startswith(("[", "{", '"')):
            return json.loads(v)
        if v in ("true", "false"):
            return v == "true"
        try:
            return int(v)
        except ValueError:
            return v

    def block(i, indent):
        if lines[i][1].startswith("- "):
            out = []
            while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
                rest = lines[i][1][2:]
                if ":" in rest and not rest.startswith(("[", '"')):
                    # a map item: its first key is on the dash line, the others indented by 2
                    lines[i] = (indent + 2, rest)
                    item, i = block(i, indent + 2)
                else:
                    item, i = scalar(rest), i + 1
                out.append(item)
            return out, i
        out = {}
        while i < len(lines) and lines[i][0] == indent and not lines[i][1].startswith("- "):
            key, _, value = lines[i][1].partition(":")
            value = value.strip()
            i += 1
            if value:
                out[key] = scalar(value)
            elif i < len(lines) and lines[i][0] > indent:
                out[key], i = block(i, lines[i][0])
            elif i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
                out[key], i = block(i, indent)
            else:
                out[key] = None
        return out, i

    doc, end = block(0, lines[0][0])
    assert end == len(lines), f"unparsed YAML from line {end}: {lines[end]}"
    return doc


def test_tiny_yaml_parser_matches_pyyaml_on_the_manifests():
    yaml = pytest.importorskip("yaml")  # a cross-check where PyYAML happens to be installed
    for name in ("servingruntime.yaml", "inferenceservice.yaml"):
        with open(os.path.join(DEPLOY, "kserve", name)) as f:
            text = f.read()
        assert parse_yaml(text) == yaml.safe_load(text)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def probe(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status
    except Exception:
        return None


def run_container(argv, env, port, probe_path):
    """Start ``argv`` as the container would (python -m for the console script), wait until the
    readiness probe passes, and return the process."""
    assert argv[0] == "modelmgmt"
    proc = subprocess.Popen([sys.executable, "-m", "modelmgmt", *argv[1:]], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while probe(port, probe_path) != 200:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"never ready: {proc.communicate()[1][-2000:]}")
        time.sleep(0.1)
    return proc


def with_port(argv, port):
    """The same command with the manifest's fixed port swapped for a free one."""
    out = list(argv)
    i = out.index("--port")
    out[i + 1] = str(port)
    return out


@pytest.fixture
def registry(tmp_path):
    reg = mm.Registry(str(tmp_path / "registry"))
    reg.register("churn", linear([1.0, 2.0, 3.0]))
    reg.register("churn", linear([0.0, 0.0, 1.0]))
    reg.set_alias("churn", "prod", 1)
    return reg


def _env(registry, extra=()):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.update(extra)
    env["MODELMGMT_REGISTRY"] = registry.url
    return env


def _infer(port, name):
    body = json.dumps({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 1, 1]}]}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v2/models/{name}/infer", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.headers["X-Model-Version"], json.loads(r.read())


def test_kserve_runtime_and_inferenceservice_run_locally(registry):
    with open(os.path.join(DEPLOY, "kserve", "servingruntime.yaml")) as f:
        runtime = parse_yaml(f.read())
    with open(os.path.join(DEPLOY, "kserve", "inferenceservice.yaml")) as f:
        isvc = parse_yaml(f.read())
    assert runtime["kind"] == "ServingRuntime" and isvc["kind"] == "InferenceService"
    assert runtime["spec"]["protocolVersions"] == ["v2"]
    (container,) = runtime["spec"]["containers"]
    assert container["securityContext"]["runAsNonRoot"] is True and container["securityContext"]["runAsUser"] != 0
    model = isvc["spec"]["predictor"]["model"]
    assert model["runtime"] == runtime["metadata"]["name"] and model["protocolVersion"] == "v2"
    assert model["modelFormat"]["name"] in [f["name"] for f in runtime["spec"]["supportedModelFormats"]]
    container_port = container["ports"][0]["containerPort"]
    ready, live = container["readinessProbe"]["httpGet"], container["livenessProbe"]["httpGet"]
    assert ready["port"] == live["port"] == container_port
    argv = container["command"] + model["args"]  # the isvc's args follow the runtime's command
    assert argv[argv.index("--port") + 1] == str(container_port)
    port = free_port()
    env = {e["name"]: e["value"] for e in model["env"]}
    assert env["MODELMGMT_REGISTRY"].startswith("s3://")  # replaced by the local registry below
    proc = run_container(with_port(argv, port), _env(registry), port, ready["path"])
    try:
        assert probe(port, live["path"]) == 200
        version, body = _infer(port, "churn")
        assert version == "churn/1" and body["outputs"][0]["data"] == [6.0]
        registry.set_alias("churn", "prod", 2)  # the runtime follows the alias
        deadline = time.monotonic() + 90
        while _infer(port, "churn")[0] != "churn/2":
            assert time.monotonic() < deadline, "the alias move was never followed"
            time.sleep(0.5)
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def parse_dockerfile(text):
    """Instruction -> list of arguments (JSON exec form parsed), continuation lines joined."""
    out: dict[str, list] = {}
    joined = text.replace("\\\n", " ")
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instr, _, rest = line.partition(" ")
        out.setdefault(instr.upper(), []).append(rest.strip())
    return out


def test_dockerfile_runs_its_entrypoint_as_non_root_with_readiness(registry):
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        docker = parse_dockerfile(f.read())
    user = docker["USER"][-1].split(":")[0]
    assert user not in ("0", "root") and (not user.isdigit() or int(user) >= 1000)
    entry = json.loads(docker["ENTRYPOINT"][-1])
    cmd = json.loads(docker["CMD"][-1])
    assert entry[:2] == ["modelmgmt", "serve"]
    (health,) = docker["HEALTHCHECK"]
    assert "/v2/health/ready" in health
    exposed = int(docker["EXPOSE"][-1])
    assert entry[entry.index("--port") + 1] == str(exposed) and f":{exposed}/v2/health/ready" in health
    argv = entry + [c.replace("model@prod", "churn@prod") for c in cmd]
    port = free_port()
    proc = run_container(with_port(argv, port), _env(registry), port, "/v2/health/ready")
    try:
        # the HEALTHCHECK command itself, pointed at the free port
        check = json.loads(health.split("CMD", 1)[1].strip())
        check = [c.replace(":8080/", f":{port}/") for c in check]
        assert check[0] == "python"
        assert subprocess.run([sys.executable, *check[1:]], timeout=30).returncode == 0
        version, body = _infer(port, "churn")
        assert version == "churn/1" and body["outputs"][0]["data"] == [6.0]
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    assert shlex.split(docker["FROM"][0])[0].startswith("python:")


def test_the_container_refuses_a_missing_model(registry):
    with open(os.path.join(DEPLOY, "Dockerfile")) as f:
        entry = json.loads(parse_dockerfile(f.read())["ENTRYPOINT"][-1])
    res = subprocess.run([sys.executable, "-m", "modelmgmt", *with_port(entry, free_port())[1:], "nope@prod"],
                         env=_env(registry), capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and "nope" in res.stderr
