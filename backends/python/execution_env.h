// A Python model's interpreter, from its parameters { key:
// "EXECUTION_ENV_PATH" }. As on Triton, "$$TRITON_MODEL_DIRECTORY" at the
// start names the model's folder. The path names either
//  - a Python environment folder (a virtualenv, or an unpacked conda
//    environment): its bin/python3 runs the model's stubs; or
//  - a tarball of one, as Triton takes it (what conda-pack makes: .tar.gz,
//    .tgz, .tar.xz, .txz, .tar.bz2, .tar): unpacked once by the system's tar
//    into a folder of this user's only, <TMPDIR or /tmp>/inferd-python-envs-
//    <uid>/<name>-<key> (the key of the tarball's path, size and modification
//    time), and reused by every model and load while the tarball is unchanged.
//    A tarball that unpacks with errors, takes longer than kUnpackSeconds or
//    has no bin/python3 fails the model's load, naming why. What an unpack
//    cut short by the server's death left there is removed by the next one.
//    An environment unpacked for an earlier version of a tarball stays (a
//    running model may still use it): clearing the folder is the operator's.
// The stub needs only the standard library and numpy from the environment.
// The repository is the operator's: a load request can never set this
// parameter (the backend refuses a config override with it).
#pragma once

#include <string>

namespace inferd_python {

// The longest an environment tarball may take to unpack.
constexpr int kUnpackSeconds = 600;

// The interpreter for `value` (the parameter's text) of the model in
// `model_dir`; false with the reason (which quotes `value`).
bool ExecutionEnvPython(const std::string& value, const std::string& model_dir, std::string* python,
                        std::string* error);

}  // namespace inferd_python
