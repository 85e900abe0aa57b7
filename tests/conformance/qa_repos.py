"""Model repositories for Triton's QA tests, made the way Triton makes them.

Triton's CI builds its QA model repositories with qa/common/gen_qa_*_models.py
(qa/common/gen_qa_model_repository runs them with --onnx, among others); each
L0_*/test.sh then copies what it needs and edits configs with sed. Here the same
generator scripts run unchanged (ONNX only: none of them imports TensorFlow,
TensorRT or PyTorch at the top, so no stub modules are needed), and the
per-test edits of test.sh are repeated in Python, each naming the test.sh lines
it mirrors. One change for a CPU-only machine: generated configs that ask for
KIND_GPU instances get KIND_CPU (Triton's own test.sh does the same for L0_infer
with TARGET=cpu; the other suites are run by Triton on GPU machines only)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import models

GENERATORS = {  # key -> the script and its flags (as gen_qa_model_repository runs them, ONNX only)
    "models": ["gen_qa_models.py", "--onnx"],
    "identity": ["gen_qa_identity_models.py", "--onnx"],
    # qa_ensemble_model_repository/qa_identity_model_repository: ensembles of
    # "nop" models on the identity backend (inferd's has Triton's behaviour)
    "identity_ensembles": ["gen_qa_identity_models.py", "--ensemble"],
    # qa_ensemble_model_repository/qa_model_repository: ensembles over the
    # ONNX models, and the nop models they compose
    "model_ensembles": ["gen_qa_models.py", "--ensemble"],
    "sequence": ["gen_qa_sequence_models.py", "--onnx"],
    # qa_ensemble_model_repository/qa_sequence_model_repository: the simple_,
    # sequence_ and fan_ ensembles over the sequence models, and their nop models
    "sequence_ensembles": ["gen_qa_sequence_models.py", "--ensemble"],
    "implicit": ["gen_qa_implicit_models.py", "--onnx"],
    "dyna_sequence": ["gen_qa_dyna_sequence_models.py", "--onnx"],
    "scalar": ["gen_qa_ort_scalar_models.py"],
}


class QaRepos:
    def __init__(self, server_repo, work):
        self.server_repo = Path(server_repo)
        self.common = self.server_repo / "qa" / "common"
        self.work = Path(work)
        self._generated = {}
        self._built = {}

    # ------------------------------------------------------------------ generation
    def generated(self, key):
        """Folder of the models one generator script writes (run once per run)."""
        if key not in self._generated:
            out = self.work / "generated" / key
            if out.exists():
                shutil.rmtree(out)
            out.mkdir(parents=True)
            cmd = [sys.executable, *GENERATORS[key], f"--models_dir={out}"]
            proc = subprocess.run(cmd, cwd=self.common, capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{(proc.stdout + proc.stderr)[-2000:]}")
            self._generated[key] = out
        return self._generated[key]

    def _copy(self, key, names, dest):
        src = self.generated(key)
        for name in names:
            shutil.copytree(src / name, dest / name)
            _cpu_only(dest / name / "config.pbtxt")

    # ------------------------------------------------------------------ repositories
    def get(self, key):
        """Path of the repository `key` (built on first use)."""
        if key not in self._built:
            dest = self.work / "repos" / key
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            getattr(self, "_build_" + key)(dest)
            self._built[key] = dest
        return self._built[key]

    def _build_infer(self, dest):
        # qa/L0_infer/test.sh generate_model_repository with BACKENDS=onnx, ENSEMBLES=1,
        # TARGET=cpu: cp -r qa_model_repository/onnx* models/; the ensembles over them
        # (qa_ensemble_model_repository/qa_model_repository/*onnx*) and its nop_* models
        # (create_nop_version_dir); then 'instance_group [ { kind: KIND_CPU }]' appended to
        # every onnx* config, and custom_zero_1_float32 / custom_nobatch_zero_1_float32 from
        # qa/custom_models, edited as the script edits them.
        src = self.generated("models")
        for d in sorted(src.iterdir()):
            shutil.copytree(d, dest / d.name)
            with open(dest / d.name / "config.pbtxt", "a") as f:
                f.write("instance_group [ { kind: KIND_CPU }]\n")
        ensembles = self.generated("model_ensembles")
        for d in sorted(ensembles.iterdir()):
            if "onnx" in d.name or d.name.startswith("nop_"):
                shutil.copytree(d, dest / d.name)
        for nop in dest.glob("nop_*"):
            (nop / "1").mkdir(exist_ok=True)
        custom = dest / "custom_zero_1_float32"
        shutil.copytree(self.server_repo / "qa" / "custom_models" / "custom_zero_1_float32", custom)
        (custom / "1").mkdir(exist_ok=True)
        with open(custom / "config.pbtxt", "a") as f:
            f.write("instance_group [ { kind: KIND_CPU }]\n")
        nobatch = dest / "custom_nobatch_zero_1_float32"
        shutil.copytree(custom, nobatch)
        cfg = custom / "config.pbtxt"
        cfg.write_text(cfg.read_text().replace("max_batch_size: 1", "max_batch_size: 8")
                       .replace("dims: [ 1 ]", "dims: [ -1 ]"))
        cfg = nobatch / "config.pbtxt"
        cfg.write_text(cfg.read_text().replace("custom_zero_1_float32", "custom_nobatch_zero_1_float32")
                       .replace("max_batch_size: 1", "max_batch_size: 0")
                       .replace("dims: [ 1 ]", "dims: [ -1, -1 ]"))

    def _build_server_status(self, dest):
        # qa/L0_server_status/test.sh: cp -r qa_model_repository models (ONNX only here).
        # The tests ask graphdef_int32_int8_int8 for its metadata by name only
        # (test_basic, test_unknown_model_version): an ONNX copy stands in for it.
        src = self.generated("models")
        for d in sorted(src.iterdir()):
            shutil.copytree(d, dest / d.name)
        standin = dest / "graphdef_int32_int8_int8"
        shutil.copytree(src / "onnx_int32_int8_int8", standin)
        cfg = standin / "config.pbtxt"
        cfg.write_text(cfg.read_text().replace("onnx_int32_int8_int8", "graphdef_int32_int8_int8"))

    def _build_shared_memory(self, dest):
        # Dockerfile.QA: cp -r docs/examples/model_repository/simple qa/L0_shared_memory/models
        models.BUILDERS["simple"](dest, self.server_repo)

    def _build_l0_http(self, dest):
        # Dockerfile.QA qa/L0_http/models + test.sh's simple_string_dyna_sequence (7 models)
        for name in models.L0_HTTP_MODELS:
            models.BUILDERS[name](dest, self.server_repo)

    def _build_l0_grpc(self, dest):
        # Dockerfile.QA qa/L0_grpc/models + test.sh's simple_string_dyna_sequence (8 models)
        for name in models.L0_GRPC_MODELS:
            models.BUILDERS[name](dest, self.server_repo)

    def _build_http_unit(self, dest):
        # qa/L0_http/test.sh "Run python unit test": python_unit_test_models
        self._copy("identity", ["onnx_zero_1_float32", "onnx_zero_1_object", "onnx_zero_1_float16",
                                "onnx_zero_3_float32"], dest)
        # cp -r onnx_zero_1_object onnx_zero_1_object_1_element; sed the name and the first -1 to 1
        one = dest / "onnx_zero_1_object_1_element"
        shutil.copytree(dest / "onnx_zero_1_object", one)
        cfg = one / "config.pbtxt"
        text = cfg.read_text().replace("onnx_zero_1_object", "onnx_zero_1_object_1_element")
        cfg.write_text(text.replace("-1", "1", 1))
        # onnx_zero_1_float32_queue: a queue of one request for the error-code test
        q = dest / "onnx_zero_1_float32_queue"
        shutil.copytree(dest / "onnx_zero_1_float32", q)
        cfg = q / "config.pbtxt"
        cfg.write_text(cfg.read_text().replace("onnx_zero_1_float32", "onnx_zero_1_float32_queue")
                       + "dynamic_batching { \n    max_queue_delay_microseconds: 1000000\n"
                         "    preferred_batch_size: [ 8 ]\n    default_queue_policy {\n"
                         "        max_queue_size: 1\n    }\n}\n")

    def _sequence_models(self, dest, key, dtypes, max_batch, count, ensembles=False):
        # qa/L0_sequence_batcher/test.sh, BACKENDS=onnx:
        #   models1/2/4: <backend>_sequence_<dtype>, max_batch_size 4/2/1, instance count 1/2/4
        #   models0: <backend>_nobatch_sequence_<dtype>, instance count 4
        # With ENSEMBLES=1 also the ensembles over them from
        # qa_ensemble_model_repository/qa_sequence_model_repository
        # (*_<backend>_sequence_<dtype>, none for bool), edited by the same sed lines, and
        # that repository's nop_* models with an empty version folder (create_nop_version_dir;
        # test.sh moves them to KIND_GPU, which stays KIND_CPU here).
        kind = "sequence" if max_batch else "nobatch_sequence"
        names = [(key, f"onnx_{kind}_{dtype}") for dtype in dtypes]
        if ensembles:
            src = self.generated("sequence_ensembles")
            names += [("sequence_ensembles", d.name) for dtype in dtypes if dtype != "bool"
                      for d in sorted(src.glob(f"*_onnx_{kind}_{dtype}"))]
            nops = sorted(d.name for d in src.glob("nop_*"))
            self._copy("sequence_ensembles", nops, dest)
            for nop in nops:
                (dest / nop / "1").mkdir(exist_ok=True)
        for src_key, name in names:
            self._copy(src_key, [name], dest)
            cfg = dest / name / "config.pbtxt"
            text = cfg.read_text()
            if max_batch:
                text = re.sub(r"(?m)^max_batch_size:.*", f"max_batch_size: {max_batch}", text)
            text = text.replace("kind: KIND_CPU", f"kind: KIND_CPU\ncount: {count}")
            cfg.write_text(text)

    def _build_sequence_models0(self, dest):
        self._sequence_models(dest, "sequence", ["int32", "bool"], 0, 4)

    def _build_sequence_models1(self, dest):
        self._sequence_models(dest, "sequence", ["int32", "bool"], 4, 1)

    def _build_sequence_models2(self, dest):
        self._sequence_models(dest, "sequence", ["int32", "bool"], 2, 2)

    def _build_sequence_models4(self, dest):
        self._sequence_models(dest, "sequence", ["int32", "bool"], 1, 4)

    def _build_ensemble_sequence_models0(self, dest):
        self._sequence_models(dest, "sequence", ["int32", "bool"], 0, 4, ensembles=True)

    def _build_ensemble_sequence_models1(self, dest):
        self._sequence_models(dest, "sequence", ["int32", "bool"], 4, 1, ensembles=True)

    def _build_ensemble_sequence_models2(self, dest):
        self._sequence_models(dest, "sequence", ["int32", "bool"], 2, 2, ensembles=True)

    def _build_ensemble_sequence_models4(self, dest):
        self._sequence_models(dest, "sequence", ["int32", "bool"], 1, 4, ensembles=True)

    def _build_preserve_ordering(self, dest):
        # qa/L0_sequence_batcher/test.sh, SequenceBatcherPreserveOrderingTest: python_models/sequence_py
        # as seqpy_{no_,}preserve_ordering_{decoupled,nondecoupled}, preserve_ordering set True in
        # the second, and 'model_transaction_policy { decoupled: true }' appended for decoupled.
        # (test.sh's sed is anchored at the line start and the setting is indented, so on Triton
        # both stay False; here the preserving ones really preserve, the stronger check.)
        base = self.server_repo / "qa" / "python_models" / "sequence_py"
        for mode in ("decoupled", "nondecoupled"):
            for preserve in (False, True):
                model = dest / f"seqpy_{'' if preserve else 'no_'}preserve_ordering_{mode}"
                (model / "1").mkdir(parents=True)
                shutil.copy(base / "model.py", model / "1" / "model.py")
                text = (base / "config.pbtxt").read_text()
                if preserve:
                    text = re.sub(r"(?m)^(\s*)preserve_ordering: False", r"\1preserve_ordering: True", text)
                if mode == "decoupled":
                    text += "\nmodel_transaction_policy { decoupled: true }\n"
                (model / "config.pbtxt").write_text(text)

    def _build_implicit_models1(self, dest):
        # IMPLICIT_STATE=1: qa_sequence_implicit_model_repository, onnx dtypes "object int32 bool"
        self._sequence_models(dest, "implicit", ["object", "int32", "bool"], 4, 1)

    def _build_infer_zero(self, dest):
        # qa/L0_infer_zero/test.sh: cp -r qa_identity_model_repository/* models/ (ONNX only here),
        # cp -r qa_ensemble_model_repository/qa_identity_model_repository/* models/, then
        # create_nop_version_dir: a version folder "1" for every nop_* model.
        src = self.generated("identity")
        self._copy("identity", sorted(d.name for d in src.iterdir()), dest)
        ensembles = self.generated("identity_ensembles")
        self._copy("identity_ensembles", sorted(d.name for d in ensembles.iterdir()), dest)
        for nop in dest.glob("nop_*"):
            (nop / "1").mkdir(exist_ok=True)

    def _build_scalar(self, dest):
        # qa/L0_scalar_io/test.sh: cp -r qa_scalar_models/* models/
        src = self.generated("scalar")
        self._copy("scalar", sorted(d.name for d in src.iterdir()), dest)

    def _build_log_models(self, dest):
        # qa/L0_logging/test.sh: onnx_int32_int32_int32 as "simple", versions 2 and 3 removed
        self._copy("models", ["onnx_int32_int32_int32"], dest)
        (dest / "onnx_int32_int32_int32").rename(dest / "simple")
        for v in ("2", "3"):
            shutil.rmtree(dest / "simple" / v)
        cfg = dest / "simple" / "config.pbtxt"
        cfg.write_text(re.sub(r"(?m)^name:.*", 'name: "simple"', cfg.read_text()))

    def _build_grpc_state_cleanup(self, dest):
        # Dockerfile.QA: qa/L0_grpc_state_cleanup/models/repeat_int32 (Triton's repeat backend);
        # test.sh: custom_zero_1_float32 (identity backend) with execute_delay_ms 1000, and
        # repeat_int32_non_decoupled (the same without model_transaction_policy)
        models.BUILDERS["repeat_int32"](dest, self.server_repo)
        czero = dest / "custom_zero_1_float32"
        shutil.copytree(self.server_repo / "qa/custom_models/custom_zero_1_float32", czero)
        (czero / "1").mkdir(exist_ok=True)
        with open(czero / "config.pbtxt", "a") as f:
            f.write('parameters [\n{ key: "execute_delay_ms"; value: { string_value: "1000" }}\n]\n')
        nd = dest / "repeat_int32_non_decoupled"
        (nd / "1").mkdir(parents=True)
        text = (dest / "repeat_int32" / "config.pbtxt").read_text()
        text = re.sub(r"(?m)^model_transaction_policy.*\n", "", text).replace("repeat_int32", "repeat_int32_non_decoupled")
        (nd / "config.pbtxt").write_text(text)

    def _build_request_cancellation_grpc(self, dest):
        # qa/L0_request_cancellation/test.sh, "gRPC cancellation tests"
        _identity(dest, "custom_identity_int32", "TYPE_INT32", 1024, "instance_group [{ kind: KIND_CPU }]\n", 10000)

    def _build_request_cancellation_scheduler(self, dest):
        # qa/L0_request_cancellation/test.sh, "End-to-end scheduler tests"
        one = "instance_group [{ count: 1 kind: KIND_CPU }]\n"
        _identity(dest, "dynamic_batch", "TYPE_FP32", 2, one + "dynamic_batching { max_queue_delay_microseconds: 600000 }\n", 6000)
        _identity(dest, "sequence_direct", "TYPE_FP32", 1,
                  one + "sequence_batching { direct { } max_sequence_idle_microseconds: 6000000 }\n", 6000)
        _identity(dest, "sequence_oldest", "TYPE_FP32", 1,
                  one + "sequence_batching { oldest { max_candidate_sequences: 1 } "
                  "max_sequence_idle_microseconds: 6000000 }\n", 6000)
        steps = ",\n".join(
            f'{{ model_name: "dynamic_batch" model_version: -1 input_map {{ key: "INPUT0" value: "{i}" }} '
            f'output_map {{ key: "OUTPUT0" value: "{o}" }} }}' for i, o in (("INPUT0", "out"), ("out", "OUTPUT0")))
        (dest / "ensemble_model" / "1").mkdir(parents=True)
        (dest / "ensemble_model" / "config.pbtxt").write_text(
            'name: "ensemble_model"\nplatform: "ensemble"\nmax_batch_size: 1\n'
            'input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] }]\n'
            'output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] }]\n'
            f"ensemble_scheduling {{ step [\n{steps}\n] }}\n")

    def _dyna_models(self, dest, phase_b):
        # qa/L0_dyna_sequence_batcher/test.sh (BACKENDS=onnx): copy every model, add 'count: 1';
        # before the batching tests: max_candidate_sequences:4, max_queue_delay_microseconds:5000000
        src = self.generated("dyna_sequence")
        for d in sorted(src.iterdir()):
            self._copy("dyna_sequence", [d.name], dest)
            cfg = dest / d.name / "config.pbtxt"
            text = cfg.read_text().replace("kind: KIND_CPU", "kind: KIND_CPU\ncount: 1")
            if phase_b:
                text = re.sub(r"max_candidate_sequences:.*", "max_candidate_sequences:4", text)
                text = re.sub(r"max_queue_delay_microseconds:.*", "max_queue_delay_microseconds:5000000", text)
            cfg.write_text(text)

    def _build_dyna_nobatch(self, dest):
        self._dyna_models(dest, phase_b=False)

    def _build_dyna_batch(self, dest):
        self._dyna_models(dest, phase_b=True)

    def identity_model(self, name):
        """A generated identity model's folder (L0_model_config copies model.onnx from it)."""
        return self.generated("identity") / name


def _identity(dest, name, datatype, max_batch_size, extra, delay_ms):
    """An identity-backend model INPUT0 -> OUTPUT0 [-1] that sleeps delay_ms per execution."""
    (dest / name / "1").mkdir(parents=True)
    (dest / name / "config.pbtxt").write_text(
        f'name: "{name}"\nbackend: "identity"\nmax_batch_size: {max_batch_size}\n'
        f'input [{{ name: "INPUT0" data_type: {datatype} dims: [ -1 ] }}]\n'
        f'output [{{ name: "OUTPUT0" data_type: {datatype} dims: [ -1 ] }}]\n' + extra +
        f'parameters [{{ key: "execute_delay_ms" value: {{ string_value: "{delay_ms}" }} }}]\n')


def _cpu_only(config):
    if config.is_file():
        text = config.read_text()
        if "KIND_GPU" in text:
            config.write_text(text.replace("KIND_GPU", "KIND_CPU"))
