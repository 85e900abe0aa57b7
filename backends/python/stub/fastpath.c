/* _inferd_fastpath: the stub's per-execution work (inferd_python_stub.py) in
 * C, so that a request costs the stub a few C calls instead of some hundred
 * bytecodes: reading the server's frame, building the requests execute()
 * gets, writing the responses' outputs into the shared region and sending
 * the answer. A stub profile had the interpreter loop as its largest item
 * (with the caches cold between requests, each bytecode costs several times
 * what a hot loop says).
 *
 * Every function gives the same objects the stub's Python code gives, and
 * leaves to that Python whatever is not plain: an input other than a
 * non-empty numeric tensor goes to the stub's tensor_from; responses with an
 * error, parameters, BYTES, a non-contiguous array or outputs that do not fit
 * the region make write_responses say None, and the stub writes them all in
 * Python, which also says what was wrong. So this module decides nothing the
 * Python code does not, and the stub works the same without it (another
 * interpreter's virtualenv, or INFERD_PYTHON_FASTPATH=0).
 *
 * Only the stub's main thread calls these; what they read from the server is
 * the server's (trusted by the stub); what they read from a model is checked
 * for its exact type before any use, and the server checks every byte of the
 * answer anyway (execute_answer.h). Built without sanitizers: it is loaded
 * by the system's Python, which has none. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <marshal.h>

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* The server's kMaxFrameBytes (stub_process.h). */
#define MAX_FRAME_BYTES (64u << 20)
/* Outputs start at multiples of this in the region (the stub's ALIGNMENT). */
#define ALIGNMENT 64
#define READ_CHUNK 65536

/* Bytes read from the socket and not yet returned as a frame (in the
 * protocol's normal course, none between frames). Only the main thread
 * reads; `reading` turns a second caller away while the GIL is released. */
static struct {
  char *data;
  size_t size, capacity;
  int fd;  /* whose bytes they are: another descriptor starts afresh */
  int reading;
} pending = {NULL, 0, 0, -1, 0};

/* A descriptor number from Python, or -1 with an exception set. */
static int as_fd(PyObject *object) {
  const long fd = PyLong_AsLong(object);
  if (fd == -1 && PyErr_Occurred()) return -1;
  if (fd < 0 || fd > INT32_MAX) {
    PyErr_SetString(PyExc_ValueError, "not a file descriptor");
    return -1;
  }
  return (int)fd;
}

static int reserve_pending(size_t capacity) {
  if (capacity <= pending.capacity) return 0;
  char *grown = PyMem_RawRealloc(pending.data, capacity);
  if (grown == NULL) {
    PyErr_NoMemory();
    return -1;
  }
  pending.data = grown;
  pending.capacity = capacity;
  return 0;
}

/* read_frame(fd) -> the next frame from the server: a tuple for a marshal
 * frame (an execution), the bytes of the JSON for any other, None when the
 * server closed its end. Waits in poll rather than in a blocking recv, which
 * on a stream socket is also woken each time the server reads what this
 * side sent. */
static PyObject *read_frame(PyObject *self, PyObject *arg) {
  (void)self;
  const int fd = as_fd(arg);
  if (fd < 0) return NULL;
  if (pending.reading) {
    PyErr_SetString(PyExc_RuntimeError, "read_frame: another thread is reading");
    return NULL;
  }
  if (fd != pending.fd) {
    pending.size = 0;
    pending.fd = fd;
  }
  size_t wanted = 4;
  for (;;) {
    if (pending.size >= 4) {
      const unsigned char *b = (const unsigned char *)pending.data;
      const uint32_t length = b[0] | (b[1] << 8) | (b[2] << 16) | ((uint32_t)b[3] << 24);
      if (length > MAX_FRAME_BYTES) {
        pending.size = 0;  /* nothing after it can be read as frames */
        PyErr_Format(PyExc_ValueError, "the server sent a frame of %u bytes (at most %u)", length, MAX_FRAME_BYTES);
        return NULL;
      }
      wanted = 4 + (size_t)length;
      if (pending.size >= wanted) break;
    }
    /* The rest of the frame, or a chunk while its length is unknown. */
    const size_t room = wanted - pending.size > READ_CHUNK ? wanted - pending.size : READ_CHUNK;
    if (reserve_pending(pending.size + room) < 0) return NULL;
    ssize_t got;
    int error = 0;
    pending.reading = 1;
    Py_BEGIN_ALLOW_THREADS
    struct pollfd p = {fd, POLLIN, 0};
    got = poll(&p, 1, -1);
    if (got >= 0) got = recv(fd, pending.data + pending.size, room, 0);
    error = errno;
    Py_END_ALLOW_THREADS
    pending.reading = 0;
    if (got < 0 && error == EINTR) {
      if (PyErr_CheckSignals() < 0) return NULL;  /* a handler raised */
      continue;
    }
    if (got < 0) {
      errno = error;
      return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (got == 0) {
      pending.size = 0;
      Py_RETURN_NONE;
    }
    pending.size += (size_t)got;
  }
  const char *body = pending.data + 4;
  const size_t length = wanted - 4;
  PyObject *frame = length > 0 && body[0] == '(' ? PyMarshal_ReadObjectFromString(body, (Py_ssize_t)length)
                                                 : PyBytes_FromStringAndSize(body, (Py_ssize_t)length);
  memmove(pending.data, pending.data + wanted, pending.size - wanted);
  pending.size -= wanted;
  if (pending.capacity > 16 * READ_CHUNK && pending.size <= READ_CHUNK) {
    /* A large frame went: give its room back. */
    char *smaller = PyMem_RawRealloc(pending.data, READ_CHUNK);
    if (smaller != NULL) {
      pending.data = smaller;
      pending.capacity = READ_CHUNK;
    }
  }
  return frame;
}

/* send_answer(fd, answer): the answer to an execution, as marshal version 2
 * after its 4-byte little-endian length, all of it. */
static PyObject *send_answer(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 2) {
    PyErr_SetString(PyExc_TypeError, "send_answer(fd, answer)");
    return NULL;
  }
  const int fd = as_fd(args[0]);
  if (fd < 0) return NULL;
  PyObject *body = PyMarshal_WriteObjectToString(args[1], 2);
  if (body == NULL) return NULL;
  const Py_ssize_t size = PyBytes_GET_SIZE(body);
  if ((size_t)size > MAX_FRAME_BYTES) {
    Py_DECREF(body);
    PyErr_Format(PyExc_ValueError, "an answer of %zd bytes is over the %u the server takes", size, MAX_FRAME_BYTES);
    return NULL;
  }
  unsigned char prefix[4] = {(unsigned char)size, (unsigned char)(size >> 8), (unsigned char)(size >> 16),
                             (unsigned char)(size >> 24)};
  struct iovec parts[2] = {{prefix, sizeof prefix}, {PyBytes_AS_STRING(body), (size_t)size}};
  struct msghdr header;
  memset(&header, 0, sizeof header);
  header.msg_iov = parts;
  header.msg_iovlen = 2;
  int error = 0;
  Py_BEGIN_ALLOW_THREADS
  while (header.msg_iovlen > 0) {
    ssize_t sent = sendmsg(fd, &header, MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0) {
      error = errno;
      break;
    }
    while (header.msg_iovlen > 0 && (size_t)sent >= header.msg_iov->iov_len) {
      sent -= (ssize_t)header.msg_iov->iov_len;
      ++header.msg_iov;
      --header.msg_iovlen;
    }
    if (header.msg_iovlen > 0) {
      header.msg_iov->iov_base = (char *)header.msg_iov->iov_base + sent;
      header.msg_iov->iov_len -= (size_t)sent;
    }
  }
  Py_END_ALLOW_THREADS
  Py_DECREF(body);
  if (error != 0) {
    errno = error;
    return PyErr_SetFromErrno(PyExc_OSError);
  }
  Py_RETURN_NONE;
}

/* Interned attribute names, set at import. */
static PyObject *s_name, *s_array, *s_outputs, *s_error, *s_parameters, *s_shape, *s_dtype, *s_copy, *s_outputs_tag;
/* The request fields build_requests sets: the inputs, the requested output
 * names, then the first five items of the server's request tuple in order. */
static PyObject *request_keys[7];
static PyObject *empty_tuple;

/* A new instance of a Python class without running its __init__, `dict`
 * (a new reference, taken) its instance dict: what cls.__new__(cls) and a
 * __dict__.update do. */
static PyObject *instance_with(PyTypeObject *type, PyObject *dict) {
  if (dict == NULL) return NULL;
  PyObject *object = type->tp_new(type, empty_tuple, NULL);
  if (object != NULL && PyObject_GenericSetDict(object, dict, NULL) < 0) Py_CLEAR(object);
  Py_DECREF(dict);
  return object;
}

/* A copy of `defaults` with `count` more items (names[i] -> values[i]). */
static PyObject *fields_with(PyObject *defaults, PyObject *const *names, PyObject *const *values, int count) {
  PyObject *dict = PyDict_Copy(defaults);
  for (int i = 0; dict != NULL && i < count; ++i) {
    if (PyDict_SetItem(dict, names[i], values[i]) < 0) Py_CLEAR(dict);
  }
  return dict;
}

/* The element count of `shape` (a tuple of ints), or -1 when it is not one
 * or overflows. */
static Py_ssize_t element_count(PyObject *shape) {
  if (!PyTuple_CheckExact(shape)) return -1;
  uint64_t count = 1;
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(shape); ++i) {
    PyObject *dim = PyTuple_GET_ITEM(shape, i);
    if (!PyLong_CheckExact(dim)) return -1;
    const long long d = PyLong_AsLongLong(dim);
    if (d < 0 || (d == -1 && PyErr_Occurred())) {
      PyErr_Clear();
      return -1;
    }
    if (d != 0 && count > (uint64_t)PY_SSIZE_T_MAX / (uint64_t)d) return -1;
    count *= (uint64_t)d;
  }
  return (Py_ssize_t)count;
}

/* The numpy dtype (borrowed) of an input description (name, datatype,
 * shape, offset, size) that build_requests makes a view for: a datatype in
 * `dtypes` (name -> (dtype, itemsize)), at least one element, and a size
 * that is the shape's elements times the itemsize. NULL for anything else
 * (the stub's Python takes it), with an exception set only on failure. */
static PyObject *plain_numeric_dtype(PyObject *d, PyObject *dtypes) {
  if (!PyTuple_CheckExact(d) || PyTuple_GET_SIZE(d) != 5) return NULL;
  PyObject *known = PyDict_GetItemWithError(dtypes, PyTuple_GET_ITEM(d, 1)); /* borrowed */
  if (known == NULL || !PyTuple_CheckExact(known) || PyTuple_GET_SIZE(known) != 2) return NULL;
  const Py_ssize_t elements = element_count(PyTuple_GET_ITEM(d, 2));
  const Py_ssize_t itemsize = PyLong_AsSsize_t(PyTuple_GET_ITEM(known, 1));
  const Py_ssize_t offset = PyLong_AsSsize_t(PyTuple_GET_ITEM(d, 3));
  const Py_ssize_t size = PyLong_AsSsize_t(PyTuple_GET_ITEM(d, 4));
  if (PyErr_Occurred()) {
    PyErr_Clear(); /* not plain ints: the Python says what is wrong */
    return NULL;
  }
  Py_ssize_t bytes = 0;
  if (elements <= 0 || itemsize <= 0 || offset < 0 || __builtin_mul_overflow(itemsize, elements, &bytes) ||
      bytes != size) {
    return NULL;
  }
  return PyTuple_GET_ITEM(known, 0);
}

/* build_requests(ndarray, tensor_type, tensor_fields, request_type,
 *                request_fields, dtypes, tensor_from, buffer, batch, copy)
 *   -> [InferenceRequest, ...] for an execution's batch, as the stub's
 * Python builds them: each input a Tensor whose array is
 * ndarray(shape, dtype, buffer, offset) (a view of the region; a copy when
 * `copy`), or what tensor_from(buffer, description, copy) gives for anything
 * else (BYTES, an empty tensor, a datatype numpy lacks). `dtypes` maps a
 * datatype name to (numpy dtype, itemsize); the *_fields dicts are the
 * instance fields the Python side sets, with their defaults. */
static PyObject *build_requests(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 10) {
    PyErr_SetString(PyExc_TypeError, "build_requests takes 10 arguments");
    return NULL;
  }
  PyObject *ndarray = args[0], *tensor_fields = args[2], *request_fields = args[4], *dtypes = args[5],
           *tensor_from = args[6], *buffer = args[7], *batch = args[8];
  const int copy = PyObject_IsTrue(args[9]);
  if (copy < 0) return NULL;
  if (!PyTuple_CheckExact(batch) || !PyType_Check(args[1]) || !PyType_Check(args[3]) || !PyDict_Check(dtypes) ||
      !PyDict_Check(tensor_fields) || !PyDict_Check(request_fields)) {
    PyErr_SetString(PyExc_TypeError, "build_requests: unexpected argument types");
    return NULL;
  }
  PyTypeObject *tensor_type = (PyTypeObject *)args[1], *request_type = (PyTypeObject *)args[3];
  const Py_ssize_t count = PyTuple_GET_SIZE(batch);
  PyObject *requests = PyList_New(count);
  if (requests == NULL) return NULL;
  for (Py_ssize_t r = 0; r < count; ++r) {
    PyObject *item = PyTuple_GET_ITEM(batch, r);
    if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 7 || !PyTuple_CheckExact(PyTuple_GET_ITEM(item, 5))) {
      PyErr_SetString(PyExc_ValueError, "build_requests: a request of the batch is not as the server writes it");
      goto fail;
    }
    PyObject *descriptions = PyTuple_GET_ITEM(item, 5);
    const Py_ssize_t input_count = PyTuple_GET_SIZE(descriptions);
    PyObject *inputs = PyList_New(input_count);
    if (inputs == NULL) goto fail;
    for (Py_ssize_t i = 0; i < input_count; ++i) {
      PyObject *d = PyTuple_GET_ITEM(descriptions, i);
      PyObject *tensor = NULL;
      PyObject *dtype = buffer == Py_None ? NULL : plain_numeric_dtype(d, dtypes);
      if (dtype == NULL && PyErr_Occurred()) {
        Py_DECREF(inputs);
        goto fail;
      }
      if (dtype != NULL) {
        PyObject *array =
            PyObject_CallFunctionObjArgs(ndarray, PyTuple_GET_ITEM(d, 2), dtype, buffer, PyTuple_GET_ITEM(d, 3), NULL);
        if (array != NULL && copy) {
          PyObject *copied = PyObject_CallMethodNoArgs(array, s_copy);
          Py_SETREF(array, copied);
        }
        if (array != NULL) {
          PyObject *names[2] = {s_name, s_array}, *values[2] = {PyTuple_GET_ITEM(d, 0), array};
          tensor = instance_with(tensor_type, fields_with(tensor_fields, names, values, 2));
          Py_DECREF(array);
        }
      } else {
        tensor = PyObject_CallFunctionObjArgs(tensor_from, buffer, d, copy ? Py_True : Py_False, NULL);
      }
      if (tensor == NULL) {
        Py_DECREF(inputs);
        goto fail;
      }
      PyList_SET_ITEM(inputs, i, tensor);
    }
    PyObject *values[7] = {inputs, PyTuple_GET_ITEM(item, 6)};
    for (int k = 0; k < 5; ++k) values[2 + k] = PyTuple_GET_ITEM(item, k);
    PyObject *request = instance_with(request_type, fields_with(request_fields, request_keys, values, 7));
    Py_DECREF(inputs);
    if (request == NULL) goto fail;
    PyList_SET_ITEM(requests, r, request);
  }
  return requests;
fail:
  Py_DECREF(requests);
  return NULL;
}

/* The instance dict's value for `name`, a new reference; NULL when absent
 * (an exception set only where something failed). */
static PyObject *field(PyObject *object, PyObject *name) {
  PyObject *dict = PyObject_GenericGetDict(object, NULL);
  if (dict == NULL) return NULL;
  PyObject *value = PyDict_GetItemWithError(dict, name);
  Py_XINCREF(value);
  Py_DECREF(dict);
  return value;
}

/* write_responses(response_type, tensor_type, ndarray, datatypes, region,
 *                 region_size, responses, start)
 *   -> the answers (a tuple, one per response), as the stub's
 * write_responses gives them, with each output's bytes written into
 * `region` (a writable buffer of region_size bytes) from `start` on; or None
 * when a response is not plain (an error, parameters, a type other than
 * InferenceResponse / Tensor / numpy.ndarray exactly, a dtype not in
 * `datatypes` (numpy dtype -> datatype name), an array not C-contiguous, or
 * outputs that do not fit the region): the caller then writes them all. */
/* One output: its bytes into `memory` at *offset, its description
 * (name, datatype, shape, offset, size) returned, *offset moved past it to
 * the next aligned place. NULL with no exception set: not plain here. */
static PyObject *write_output(PyObject *tensor, PyObject *tensor_type, PyObject *ndarray, PyObject *datatypes,
                              Py_buffer *memory, Py_ssize_t region_size, Py_ssize_t *offset) {
  if ((PyObject *)Py_TYPE(tensor) != tensor_type) return NULL;
  PyObject *description = NULL, *name = field(tensor, s_name), *array = NULL, *dtype = NULL, *shape = NULL;
  if (name == NULL || !PyUnicode_CheckExact(name)) goto done;
  array = field(tensor, s_array);
  if (array == NULL || (PyObject *)Py_TYPE(array) != ndarray) goto done;
  dtype = PyObject_GetAttr(array, s_dtype);
  if (dtype == NULL) goto done;
  PyObject *datatype = PyDict_GetItemWithError(datatypes, dtype); /* borrowed */
  if (datatype == NULL) goto done;
  shape = PyObject_GetAttr(array, s_shape);
  if (shape == NULL) goto done;
  Py_buffer data;
  if (PyObject_GetBuffer(array, &data, PyBUF_C_CONTIGUOUS) < 0) {
    PyErr_Clear(); /* not C-contiguous: the Python side copies it first */
    goto done;
  }
  const Py_ssize_t size = data.len;
  if (size <= region_size - *offset) { /* else the region must grow first */
    memcpy((char *)memory->buf + *offset, data.buf, (size_t)size);
    description = Py_BuildValue("(OOOnn)", name, datatype, shape, *offset, size);
    const Py_ssize_t end = *offset + size;
    *offset = end + (ALIGNMENT - end % ALIGNMENT) % ALIGNMENT;
  }
  PyBuffer_Release(&data);
done:
  Py_XDECREF(name);
  Py_XDECREF(array);
  Py_XDECREF(dtype);
  Py_XDECREF(shape);
  return description;
}

/* One response's answer: ("outputs", descriptions, None), or None for a
 * response answered through its sender. NULL with no exception set: not
 * plain here. */
static PyObject *write_response(PyObject *response, PyObject *response_type, PyObject *tensor_type,
                                PyObject *ndarray, PyObject *datatypes, Py_buffer *memory, Py_ssize_t region_size,
                                Py_ssize_t *offset) {
  if (response == Py_None) return Py_NewRef(Py_None);
  if ((PyObject *)Py_TYPE(response) != response_type) return NULL;
  PyObject *answer = NULL, *outputs = NULL, *error = field(response, s_error), *parameters = NULL, *tensors = NULL;
  if (error != Py_None) goto done; /* also when absent, or on an exception */
  parameters = field(response, s_parameters);
  if (parameters != Py_None) goto done;
  tensors = field(response, s_outputs);
  if (tensors == NULL || !PyList_CheckExact(tensors)) goto done;
  /* A model's output list is its own: read its length once, and stop if it changes. */
  const Py_ssize_t count = PyList_GET_SIZE(tensors);
  outputs = PyTuple_New(count);
  if (outputs == NULL) goto done;
  for (Py_ssize_t t = 0; t < count; ++t) {
    if (PyList_GET_SIZE(tensors) != count) goto done;
    PyObject *tensor = Py_NewRef(PyList_GET_ITEM(tensors, t));
    PyObject *description =
        write_output(tensor, tensor_type, ndarray, datatypes, memory, region_size, offset);
    Py_DECREF(tensor);
    if (description == NULL) goto done;
    PyTuple_SET_ITEM(outputs, t, description);
  }
  answer = PyTuple_Pack(3, s_outputs_tag, outputs, Py_None);
done:
  Py_XDECREF(error);
  Py_XDECREF(parameters);
  Py_XDECREF(tensors);
  Py_XDECREF(outputs);
  return answer;
}

/* write_responses(response_type, tensor_type, ndarray, datatypes, region,
 *                 region_size, responses, start)
 *   -> the answers (a tuple, one per response), as the stub's
 * write_responses gives them, with each output's bytes written into
 * `region` (a writable buffer of at least region_size bytes) from `start`
 * on; or None when a response is not plain (an error, parameters, a type
 * other than InferenceResponse / Tensor / numpy.ndarray exactly, a dtype not
 * in `datatypes` (numpy dtype -> datatype name), an array not C-contiguous,
 * outputs that do not fit the region): the caller then writes them all. */
static PyObject *write_responses(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  (void)self;
  if (nargs != 8) {
    PyErr_SetString(PyExc_TypeError, "write_responses takes 8 arguments");
    return NULL;
  }
  PyObject *response_type = args[0], *tensor_type = args[1], *ndarray = args[2], *datatypes = args[3],
           *region = args[4], *responses = args[6];
  const Py_ssize_t region_size = PyLong_AsSsize_t(args[5]);
  Py_ssize_t offset = PyLong_AsSsize_t(args[7]);
  if (PyErr_Occurred()) return NULL;
  if (!PyList_CheckExact(responses) || !PyDict_Check(datatypes)) Py_RETURN_NONE;
  Py_buffer memory;
  if (PyObject_GetBuffer(region, &memory, PyBUF_WRITABLE) < 0) return NULL;
  PyObject *answers = NULL;
  if (memory.len < region_size || offset < 0 || offset > region_size) goto done;
  const Py_ssize_t count = PyList_GET_SIZE(responses);
  answers = PyTuple_New(count);
  for (Py_ssize_t r = 0; answers != NULL && r < count; ++r) {
    PyObject *answer = NULL;
    if (PyList_GET_SIZE(responses) == count) {
      PyObject *response = Py_NewRef(PyList_GET_ITEM(responses, r));
      answer = write_response(response, response_type, tensor_type, ndarray, datatypes, &memory, region_size,
                              &offset);
      Py_DECREF(response);
    }
    if (answer == NULL) Py_CLEAR(answers);
    else PyTuple_SET_ITEM(answers, r, answer);
  }
done:
  PyBuffer_Release(&memory);
  if (answers != NULL || PyErr_Occurred()) return answers;
  Py_RETURN_NONE; /* not plain: the Python side writes them */
}

static PyMethodDef methods[] = {
    {"read_frame", read_frame, METH_O, "The next frame from the server (a tuple, JSON bytes, or None at its end)."},
    {"send_answer", (PyCFunction)(void (*)(void))send_answer, METH_FASTCALL, "Sends an execution's answer."},
    {"build_requests", (PyCFunction)(void (*)(void))build_requests, METH_FASTCALL,
     "The InferenceRequest objects of an execution's batch."},
    {"write_responses", (PyCFunction)(void (*)(void))write_responses, METH_FASTCALL,
     "Writes the responses' outputs into the region; their answers, or None to do it in Python."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_inferd_fastpath", NULL, -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__inferd_fastpath(void) {
  struct {
    PyObject **slot;
    const char *text;
  } names[] = {{&s_name, "_name"},   {&s_array, "_array"}, {&s_outputs, "_outputs"},
               {&s_error, "_error"}, {&s_parameters, "_parameters"}, {&s_shape, "shape"},
               {&s_dtype, "dtype"},  {&s_copy, "copy"},     {&s_outputs_tag, "outputs"}};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; ++i) {
    if (*names[i].slot == NULL && (*names[i].slot = PyUnicode_InternFromString(names[i].text)) == NULL) return NULL;
  }
  static const char *const request_names[7] = {"_inputs",           "_requested", "_handle", "_request_id",
                                               "_correlation_id", "_parameters", "_flags"};
  for (int i = 0; i < 7; ++i) {
    if (request_keys[i] == NULL && (request_keys[i] = PyUnicode_InternFromString(request_names[i])) == NULL) {
      return NULL;
    }
  }
  if (empty_tuple == NULL && (empty_tuple = PyTuple_New(0)) == NULL) return NULL;
  return PyModule_Create(&module);
}
