"""Model repositories in S3-compatible object storage (`s3://`), against a
real S3 server on loopback: moto's server (PyPI moto[server]), with its
authentication switched on after set-up, so that every request inferd sends
must carry a valid SigV4 signature of an IAM user's key. The repository is
written with boto3, as a user would.

Covered: Triton's location forms (s3://host:port/..., s3://http(s)://...,
s3://bucket/... with AWS_ENDPOINT_URL), HTTPS with a CA bundle
(AWS_CA_BUNDLE), poll mode picking up added, changed and removed models,
explicit loads of models uploaded later, a wrong secret and keys that would
leave the mirror refused with errors naming them, and the mirror removed at
exit.
"""

import http.client
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3  # with moto[server] in scripts/requirements-test.txt
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient

from support import InferdServer, fp32_identity, free_port


VENV_BIN = Path(sys.executable).parent
BUCKET = "models"
ADD_ONE = """
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor(
            "OUTPUT0", pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy() + 1)]) for r in requests]
"""


class MotoS3:
    """moto's server on a loopback port (optionally HTTPS with our own certificate)."""

    def __init__(self, workdir, tls=False):
        self.workdir = Path(workdir)
        self.port = free_port()
        self.tls = tls
        self.proc = None
        self.cert = None

    @property
    def endpoint(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def start(self):
        argv = [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(self.port)]
        if self.tls:
            self.cert = self.workdir / "s3.crt"
            key = self.workdir / "s3.key"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                            "-keyout", str(key), "-out", str(self.cert)], check=True, capture_output=True)
            argv += ["-c", str(self.cert), "-k", str(key)]
        self.log = open(self.workdir / f"moto-{self.port}.log", "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            assert self.proc.poll() is None, (self.workdir / f"moto-{self.port}.log").read_text()
            try:
                self.client("s3").list_buckets()
                return self
            except Exception:  # noqa: BLE001 - not up yet
                assert time.monotonic() < deadline, "moto's server did not start within 30 s"
                time.sleep(0.1)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        if self.proc:
            self.log.close()

    def client(self, service, key_id="setup", secret="setup"):
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=key_id, aws_secret_access_key=secret,
                            verify=str(self.cert) if self.cert else None)

    def make_user(self):
        """An IAM user allowed everything in S3; then authentication is switched on."""
        iam = self.client("iam")
        iam.create_user(UserName="inferd")
        iam.put_user_policy(UserName="inferd", PolicyName="s3", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName="inferd")["AccessKey"]
        self.client("s3").create_bucket(Bucket=BUCKET)
        return key["AccessKeyId"], key["SecretAccessKey"]

    def enforce_auth(self):
        conn = (http.client.HTTPSConnection if self.tls else http.client.HTTPConnection)(
            "127.0.0.1", self.port, timeout=10,
            **({"context": __import__("ssl").create_default_context(cafile=str(self.cert))} if self.tls else {}))
        conn.request("POST", "/moto-api/reset-auth", body=b"0")
        assert conn.getresponse().status == 200
        conn.close()


@pytest.fixture
def s3(tmp_path):
    server = MotoS3(tmp_path).start()
    key_id, secret = server.make_user()
    server.enforce_auth()
    server.bucket = server.client("s3", key_id, secret)
    server.env = {**os.environ, "AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret,
                  "AWS_DEFAULT_REGION": "us-east-1"}
    server.env.pop("AWS_ENDPOINT_URL", None)
    yield server
    server.stop()


def put(s3, key, body=b""):
    s3.bucket.put_object(Bucket=BUCKET, Key=key, Body=body)


def upload_identity(s3, prefix, name, extra=""):
    put(s3, f"{prefix}{name}/config.pbtxt", fp32_identity(name, extra=extra).encode())
    put(s3, f"{prefix}{name}/1/")  # the empty version folder


def upload_python(s3, prefix, name):
    put(s3, f"{prefix}{name}/config.pbtxt",
        fp32_identity(name).replace('backend: "identity"', 'backend: "python"').encode())
    put(s3, f"{prefix}{name}/1/model.py", ADD_ONE.encode())


def infer(srv, model, values, protocol="http"):
    x = np.asarray(values, dtype=np.float32).reshape(1, -1)
    lib = httpclient if protocol == "http" else grpcclient
    client = (lib.InferenceServerClient(srv.url) if protocol == "http"
              else lib.InferenceServerClient(srv.grpc_url))
    try:
        tensor = lib.InferInput("INPUT0", list(x.shape), "FP32")
        tensor.set_data_from_numpy(x)
        return client.infer(model, [tensor]).as_numpy("OUTPUT0").tolist()
    finally:
        client.close()


def index(srv):
    client = httpclient.InferenceServerClient(srv.url)
    try:
        return {m["name"]: m.get("state", "") for m in client.get_model_repository_index()}
    finally:
        client.close()


def start_fails(inferd_bin, location, env):
    """Runs inferd on `location`; asserts it exits non-zero and returns what it printed."""
    done = subprocess.run([str(inferd_bin), f"--model-repository={location}", f"--http-port={free_port()}",
                           f"--grpc-port={free_port()}", f"--metrics-port={free_port()}"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def wait_until(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"{what} not reached within {timeout} s"
        time.sleep(0.1)


def s3_mirrors():
    """The mirror folders of s3:// repositories that exist now (inferd makes them in $TMPDIR)."""
    return set(Path(os.environ.get("TMPDIR", "/tmp")).glob("inferd-s3-*"))


def test_a_repository_in_s3_serves_over_http_and_grpc(inferd_bin, s3, tmp_path):
    upload_identity(s3, "repo/", "identity")
    upload_python(s3, "repo/", "add_one")
    before = s3_mirrors()
    srv = InferdServer(inferd_bin, [f"s3://127.0.0.1:{s3.port}/{BUCKET}/repo"], log_dir=tmp_path,
                       env=s3.env).start()
    try:
        for protocol in ("http", "grpc"):
            assert infer(srv, "identity", [1, 2], protocol) == [[1, 2]]
            assert infer(srv, "add_one", [1, 2], protocol) == [[2, 3]]
        created = s3_mirrors() - before
        assert len(created) == 1
        (mirror,) = created
        assert (mirror / "repository/add_one/1/model.py").read_text() == ADD_ONE
        assert oct((mirror).stat().st_mode & 0o777) == "0o700"
    finally:
        srv.stop()
    assert not mirror.exists(), "the mirror is removed when the server exits"


def test_the_aws_form_with_an_endpoint_url_and_a_wrong_secret(inferd_bin, s3, tmp_path):
    upload_identity(s3, "", "identity")  # the bucket's root is the repository
    env = {**s3.env, "AWS_ENDPOINT_URL": s3.endpoint}
    srv = InferdServer(inferd_bin, [f"s3://{BUCKET}"], log_dir=tmp_path, env=env).start()
    try:
        assert infer(srv, "identity", [5]) == [[5]]
    finally:
        srv.stop()
    output = start_fails(inferd_bin, f"s3://{BUCKET}", {**env, "AWS_SECRET_ACCESS_KEY": "not-the-secret"})
    assert "SignatureDoesNotMatch" in output or "HTTP 403" in output


def test_https_with_a_ca_bundle(inferd_bin, tmp_path):
    server = MotoS3(tmp_path, tls=True).start()
    try:
        key_id, secret = server.make_user()
        server.enforce_auth()
        server.bucket = server.client("s3", key_id, secret)
        upload_identity(server, "tls/", "identity")
        env = {**os.environ, "AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret,
               "AWS_CA_BUNDLE": str(server.cert)}
        srv = InferdServer(inferd_bin, [f"s3://https://127.0.0.1:{server.port}/{BUCKET}/tls"], log_dir=tmp_path,
                           env=env).start()
        try:
            assert infer(srv, "identity", [3], "grpc") == [[3]]
        finally:
            srv.stop()
        # Without the CA bundle the certificate is not trusted: no start.
        env.pop("AWS_CA_BUNDLE")
        assert "TLS handshake" in start_fails(inferd_bin, f"s3://https://127.0.0.1:{server.port}/{BUCKET}/tls", env)
    finally:
        server.stop()


def test_poll_mode_follows_the_bucket(inferd_bin, s3, tmp_path):
    upload_identity(s3, "poll/", "identity")
    srv = InferdServer(inferd_bin, [f"s3://http://127.0.0.1:{s3.port}/{BUCKET}/poll/"],
                       ["--model-control-mode=poll", "--repository-poll-secs=1"], log_dir=tmp_path,
                       env=s3.env).start()
    try:
        assert infer(srv, "identity", [1]) == [[1]]
        upload_python(s3, "poll/", "added")
        wait_until(lambda: index(srv).get("added") == "READY", what="the added model serving")
        assert infer(srv, "added", [1]) == [[2]]
        # A changed config is reloaded.
        upload_identity(s3, "poll/", "identity", extra='parameters { key: "rev" value { string_value: "2" } }')

        def revised():
            client = httpclient.InferenceServerClient(srv.url)
            try:
                return client.get_model_config("identity").get("parameters", {}).get("rev", {}).get("string_value")
            finally:
                client.close()
        wait_until(lambda: revised() == "2", what="the changed config loaded")
        # Removed objects unload the model.
        for key in ("poll/added/config.pbtxt", "poll/added/1/model.py"):
            s3.bucket.delete_object(Bucket=BUCKET, Key=key)
        wait_until(lambda: index(srv).get("added") in (None, "UNAVAILABLE"), what="the removed model unloaded")
        assert infer(srv, "identity", [4]) == [[4]]
    finally:
        srv.stop()


def test_explicit_load_fetches_what_was_uploaded_since(inferd_bin, s3, tmp_path):
    upload_identity(s3, "explicit/", "first")
    srv = InferdServer(inferd_bin, [f"s3://127.0.0.1:{s3.port}/{BUCKET}/explicit"],
                       ["--model-control-mode=explicit", "--load-model=first"], log_dir=tmp_path,
                       env=s3.env).start()
    try:
        upload_identity(s3, "explicit/", "later")
        client = httpclient.InferenceServerClient(srv.url)
        client.load_model("later")
        client.close()
        assert infer(srv, "later", [9]) == [[9]]
    finally:
        srv.stop()


@pytest.mark.parametrize("key, message", [
    ("bad/../escape/config.pbtxt", "'.' or '..'"),
    ("bad//double/config.pbtxt", "'.' or '..'"),
    ("bad/" + "d/" * 40 + "x", "folders deep"),
    ("bad/" + "k" * 1100, "longer than 1024 bytes"),
])
def test_keys_that_would_leave_the_mirror_are_refused(inferd_bin, s3, tmp_path, key, message):
    upload_identity(s3, "bad/", "identity")
    put(s3, key, b"x")
    output = start_fails(inferd_bin, f"s3://127.0.0.1:{s3.port}/{BUCKET}/bad", s3.env)
    assert message in output, output
    assert not (tmp_path.parent / "escape").exists()


@pytest.mark.parametrize("location, message", [
    ("gs://bucket/repo", "only s3://"),
    ("s3://", "names no bucket"),
    ("s3://http://127.0.0.1:99999/b", "expected s3://http(s)://host[:port]/bucket"),
    ("s3://http://127.0.0.1:1/bucket/x", "connect"),
])
def test_bad_locations_are_refused_naming_them(inferd_bin, tmp_path, location, message):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    output = start_fails(inferd_bin, location, env)
    assert message in output, output
